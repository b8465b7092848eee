"""The ingestion task graph each DAG gets from its contract: the steps by name, in order, and the rules
that make a rejection fail fast."""

from __future__ import annotations

import itertools

import pytest

from community_dw.contracts import load_contracts
from community_dw.orchestration.ingestion import ingestion_dag

STEPS = ["land_batch", "protect_identities", "validate_batch", "load_batch"]


@pytest.mark.parametrize("source", sorted(load_contracts()))
def test_every_source_runs_the_same_named_steps_in_order(source):
    dag = ingestion_dag(source)
    order = [t.task_id for t in dag.topological_sort()]
    sensed = source != "appeals"
    assert order == (["wait_for_delivery"] if sensed else []) + STEPS
    assert dag.dag_id == f"ingest_{source}" and dag.max_active_runs == 1 and not dag.catchup
    for upstream, downstream in itertools.pairwise(order):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    assert dag.get_task("load_batch").outlets[0].name == f"raw.{source}"


def test_a_rejection_fails_the_task_without_retries():
    from airflow.sdk.exceptions import AirflowFailException

    from community_dw.errors import BatchRejected
    from community_dw.orchestration.ingestion import _fail_fast_on_rejection

    def rejected():
        raise BatchRejected("s", "s/1", "ENCODING", "bad bytes.", file="f.csv", row=3)

    with pytest.raises(AirflowFailException, match=r"rule ENCODING .*row 3"):
        _fail_fast_on_rejection(rejected)
    assert _fail_fast_on_rejection(lambda: 7) == 7


def test_the_dbt_target_follows_the_warehouse_url(monkeypatch):
    """A PostgreSQL CDW_WAREHOUSE_URL alone points dbt (and the Cosmos profile parsed from it) at the
    `postgres` target: loads into PostgreSQL and a build into the DuckDB file cannot happen together,
    whatever CDW_DBT_TARGET says."""
    import importlib

    from community_dw import dbt_runner
    from community_dw.orchestration import warehouse_build

    try:
        monkeypatch.setenv("CDW_DBT_TARGET", "duckdb")
        monkeypatch.setenv("CDW_WAREHOUSE_URL", "postgresql://someone@db.example/warehouse")
        assert dbt_runner.dbt_target() == "postgres"
        assert dbt_runner.dbt_env()["CDW_DBT_TARGET"] == "postgres"
        assert importlib.reload(warehouse_build).PROFILE_CONFIG.target_name == "postgres"

        monkeypatch.delenv("CDW_WAREHOUSE_URL")
        assert dbt_runner.dbt_target() == "duckdb"
        assert importlib.reload(warehouse_build).PROFILE_CONFIG.target_name == "duckdb"
    finally:
        monkeypatch.undo()
        importlib.reload(warehouse_build)  # as the session's environment has it
