"""Every DAG file imports cleanly, is owned, tagged and retried, has no cycles and parses fast.

Parse time is measured in a fresh interpreter that has already imported Airflow (as the DAG processor
has), and the same interpreter reports whether Great Expectations or dbt were imported by the parse.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from community_dw import paths
from community_dw.contracts import load_contracts

DAG_FILES = sorted(p for p in paths.DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
PARSE_BUDGET_SECONDS = {"build_warehouse.py": 2.0}
DEFAULT_BUDGET_SECONDS = 1.0

_PROBE = r"""
import json, sys, time
import airflow.sdk  # the DAG processor has Airflow imported already
import airflow.providers.openlineage.plugins.openlineage  # and its plugins: the OpenLineage listener
from airflow.dag_processing.dagbag import DagBag
path = sys.argv[1]
started = time.perf_counter()
bag = DagBag(dag_folder=path, safe_mode=False)
seconds = time.perf_counter() - started
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("great_expectations", "dbt"))
print(json.dumps({"seconds": seconds, "dags": sorted(bag.dags), "errors": {k: str(v) for k, v in bag.import_errors.items()}, "heavy": heavy}))
"""


@pytest.fixture(scope="module")
def dagbag(airflow_db, dbt_manifest):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(paths.DAGS_DIR))


def test_every_dag_file_is_found():
    assert {p.name for p in DAG_FILES} >= {"ingest_population_registry.py", "build_warehouse.py"}


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=[p.stem for p in DAG_FILES])
def test_dag_file_parses_fast_without_heavy_imports(dag_file, dbt_manifest):
    probe = subprocess.run([sys.executable, "-c", _PROBE, str(dag_file)], capture_output=True, text=True)
    assert probe.returncode == 0, f"parsing {dag_file.name} crashed:\n{probe.stderr[-3000:]}"
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}, f"{dag_file.name} failed to import: {report['errors']}"
    assert report["dags"], f"{dag_file.name} defines no DAG"
    budget = PARSE_BUDGET_SECONDS.get(dag_file.name, DEFAULT_BUDGET_SECONDS)
    assert report["seconds"] < budget, (
        f"{dag_file.name} took {report['seconds']:.2f}s to parse (budget {budget}s)"
    )
    assert report["heavy"] == [], (
        f"{dag_file.name} imported heavy modules at parse time: {report['heavy'][:5]}"
    )


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=[p.stem for p in DAG_FILES])
def test_dag_file_loads_owned_tagged_retried_and_acyclic(dag_file, airflow_db, dbt_manifest):
    """DagBag's own checks (it runs `dag.check_cycle()` on every DAG it bags and records a cycle as an
    import error), then the project's: tags, a named owner and retries on every task."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dag_file))
    assert bag.import_errors == {}, f"{dag_file.name}: {bag.import_errors}"
    assert bag.dags, f"{dag_file.name} defines no DAG"
    for dag_id, dag in bag.dags.items():
        dag.check_cycle()
        assert dag.tags, f"{dag_id} has no tags"
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has retries={task.retries}"


def test_build_warehouse_is_scheduled_on_the_raw_assets(dagbag):
    condition = dagbag.dags["build_warehouse"].timetable.asset_condition
    scheduled_on = {asset.name for asset in condition.objects}
    assert scheduled_on == {f"raw.{name}" for name in load_contracts()}


def test_ingestion_dags_emit_their_raw_asset(dagbag):
    assert {f"ingest_{name}" for name in load_contracts()} <= set(dagbag.dags)
    for dag_id, dag in dagbag.dags.items():
        if not dag_id.startswith("ingest_"):
            continue
        source = dag_id.removeprefix("ingest_")
        outlets = {o.name for task in dag.tasks for o in task.outlets}
        assert outlets == {f"raw.{source}"}, f"{dag_id} emits {outlets}"


def test_a_cycle_is_an_import_error(tmp_path, airflow_db):
    """The check above can fail: DagBag refuses a DAG whose tasks form a cycle."""
    from airflow.dag_processing.dagbag import DagBag

    (tmp_path / "cyclic.py").write_text(
        "from airflow.sdk import DAG\n"
        "from airflow.providers.standard.operators.empty import EmptyOperator\n"
        "with DAG('cyclic', schedule=None):\n"
        "    a, b = EmptyOperator(task_id='a'), EmptyOperator(task_id='b')\n"
        "    a >> b >> a\n",
        encoding="utf-8",
    )
    bag = DagBag(dag_folder=str(tmp_path))
    assert "cyclic" not in bag.dags
    assert any("Cycle detected" in str(error) for error in bag.import_errors.values()), bag.import_errors


def test_build_warehouse_runs_the_whole_project_in_one_dbt_build_then_the_release(dagbag):
    """One `dbt build` of every node (each model's tests right after it), through dbt's Python runner,
    between the raw tables' declaration and the release and notifications, which come last."""
    from cosmos.constants import InvocationMode
    from cosmos.operators.local import DbtBuildLocalOperator

    dag = dagbag.dags["build_warehouse"]
    build = dag.get_task("dbt.build")
    assert isinstance(build, DbtBuildLocalOperator)
    assert build.invocation_mode == InvocationMode.DBT_RUNNER
    assert (build.select, build.exclude, build.selector, build.models) == (None, None, None, None)
    assert [t.task_id for t in dag.tasks if t.task_id.startswith("dbt.")] == ["dbt.build"]
    assert build.upstream_task_ids == {"declare_raw_tables"}
    assert build.downstream_task_ids == {"publish_release", "notify_communities"}
    assert dag.get_task("publish_release").downstream_task_ids == set()
    assert dag.get_task("notify_communities").downstream_task_ids == set()
