"""The README's worked example of adding a source, run as it stands: its contract, gate and DAG file are
copied into a scratch project beside the five real sources, a delivery is dropped, and the DAG runs
through Airflow. Nothing in the package changes, which is the point."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil

import duckdb
import pytest

from community_dw import paths
from community_dw.contracts import load_contracts

from support.airflow import interval_run_date
from support.identity import id_number

DAY = dt.date(2026, 11, 25)
EXAMPLE = re.compile(r"<!-- example: (\w+) (\S+) -->\n```\w+\n(.*?)```", re.S)


def readme_examples() -> dict[str, tuple[str, str]]:
    """{kind: (file name, text)} of the README's marked code blocks."""
    text = (paths.PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    return {kind: (name, body) for kind, name, body in EXAMPLE.findall(text)}


@pytest.fixture
def project_with_meal_deliveries(tmp_path, monkeypatch):
    examples = readme_examples()
    assert set(examples) == {"contract", "suite", "dag"}, "the README's worked example lost a block"
    contracts, suites, dags = (tmp_path / name for name in ("sources", "expectations", "dags"))
    shutil.copytree(paths.CONTRACTS_DIR, contracts)
    shutil.copytree(paths.EXPECTATIONS_DIR, suites)
    dags.mkdir()
    for kind, folder in (("contract", contracts), ("suite", suites), ("dag", dags)):
        name, body = examples[kind]
        (folder / name).write_text(body, encoding="utf-8")
    monkeypatch.setattr(paths, "CONTRACTS_DIR", contracts)
    monkeypatch.setattr(paths, "EXPECTATIONS_DIR", suites)
    monkeypatch.setenv("CDW_DATA_DIR", str(tmp_path / "data"))
    # dag.test() runs DAGs it finds in a configured bundle: the scratch folder becomes one beside dags/.
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [
        {"name": "dags-folder", "classpath": local, "kwargs": {}},
        {"name": "scratch-example", "classpath": local, "kwargs": {"path": str(dags)}},
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    load_contracts.cache_clear()
    yield dags
    load_contracts.cache_clear()


def _deliver(rows: list[list[str]]) -> None:
    folder = paths.sources_dir() / "file_drop" / "meal_deliveries"
    folder.mkdir(parents=True)
    data = "\n".join(
        ",".join(r) for r in [["delivery_id", "resident_id", "delivered_on", "community_code"], *rows]
    )
    path = folder / f"meal_deliveries_{DAY:%Y%m%d}.csv"
    path.write_bytes((data + "\n").encode("utf-8"))
    manifest = {"file": path.name, "rows": len(rows), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    (folder / (path.name + ".ok")).write_text(json.dumps(manifest), encoding="utf-8")


def test_the_readme_example_source_ingests_through_airflow(project_with_meal_deliveries, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    residents = [id_number(dt.date(1940 + n, 3, 1 + n), sex=str(1 + n % 2)) for n in range(4)]
    rows = [[f"MD{n:05d}", resident, DAY.isoformat(), "330106001001"] for n, resident in enumerate(residents)]
    rows.append(
        ["MD00000 ", residents[0] + "\u200b", DAY.isoformat(), "330106001001"]
    )  # a duplicate, disguised
    rows += [[f"MD1{n:04d}", residents[n % 4], DAY.isoformat(), "330106001002"] for n in range(60)]
    _deliver(rows)

    bag = DagBag(dag_folder=str(project_with_meal_deliveries))
    assert not bag.import_errors and "ingest_meal_deliveries" in bag.dags
    dag = bag.dags["ingest_meal_deliveries"]
    assert [t.task_id for t in dag.topological_sort()][:2] == ["wait_for_delivery", "land_batch"]
    run = dag.test(run_after=interval_run_date(DAY), logical_date=interval_run_date(DAY))
    assert str(run.state) == "success"

    with duckdb.connect(str(paths.warehouse_path()), read_only=True) as con:
        ledger = con.execute(
            "select status, received_rows, loaded_rows, quarantined_rows from audit.batch_ledger "
            "where source = 'meal_deliveries'"
        ).fetchall()
        assert ledger == [("loaded", 65, 63, 2)]  # the disguised duplicate and its twin are quarantined
        reasons = con.execute(
            "select distinct reason_code from audit.quarantine_index where source = 'meal_deliveries'"
        ).fetchall()
        assert reasons == [("DUPLICATE_KEY",)]
        loaded = {r for (r,) in con.execute("select resident_id from raw.meal_deliveries").fetchall()}
    assert len(loaded) == 4 and not loaded & set(residents), "resident ids are pseudonyms, one per person"
