"""On DuckDB every task that writes the warehouse file takes the one slot of the writer pool; on
PostgreSQL (CDW_WAREHOUSE_URL) none does, so they run in parallel. The pool exists once Airflow's
database is migrated the project's way (`airflow_home.migrate`, what `cdw airflow` runs)."""

from __future__ import annotations

import pytest

from community_dw import paths
from community_dw.contracts import load_contracts
from community_dw.orchestration import WAREHOUSE_WRITER_POOL

WRITERS = {"validate_batch", "load_batch"}  # of an ingestion DAG; the build and retention: every task


def _pools(dag) -> dict[str, str]:
    return {task.task_id: task.pool for task in dag.tasks}


def _dags(file_name: str) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(paths.DAGS_DIR / file_name))
    assert not bag.import_errors, bag.import_errors
    return bag.dags


@pytest.fixture
def duckdb_warehouse(monkeypatch):
    monkeypatch.delenv("CDW_WAREHOUSE_URL", raising=False)


@pytest.fixture
def postgres_warehouse(monkeypatch):
    monkeypatch.setenv("CDW_WAREHOUSE_URL", "postgresql://cdw_loader@127.0.0.1:5432/warehouse")


def test_the_writer_pool_has_one_slot_after_migration(airflow_db):
    from airflow.models.pool import Pool

    from community_dw import airflow_home

    airflow_home.ensure_pools()  # again: idempotent
    assert Pool.get_pool(WAREHOUSE_WRITER_POOL).slots == 1


@pytest.mark.parametrize("source", sorted(load_contracts()))
def test_on_duckdb_an_ingestion_dag_queues_only_its_writers(source, duckdb_warehouse):
    from community_dw.orchestration.ingestion import ingestion_dag

    pools = _pools(ingestion_dag(source))
    assert {t for t, pool in pools.items() if pool == WAREHOUSE_WRITER_POOL} == WRITERS
    assert {pools[t] for t in pools.keys() - WRITERS} == {"default_pool"}


def test_on_duckdb_every_build_and_retention_task_queues(duckdb_warehouse, dbt_manifest):
    dags = _dags("build_warehouse.py") | _dags("retention.py")
    for dag_id in ("build_warehouse", "retention"):
        pools = _pools(dags[dag_id])
        assert len(pools) > 2 and set(pools.values()) == {WAREHOUSE_WRITER_POOL}, (dag_id, pools)
    assert any(task_id.startswith("dbt.") for task_id in _pools(dags["build_warehouse"]))


def test_on_postgresql_no_task_takes_the_writer_pool(postgres_warehouse, dbt_manifest):
    from community_dw.orchestration.ingestion import ingestion_dag

    dags = [*_dags("build_warehouse.py").values(), *_dags("retention.py").values()]
    dags += [ingestion_dag(source) for source in load_contracts()]
    for dag in dags:
        assert set(_pools(dag).values()) == {"default_pool"}, dag.dag_id
