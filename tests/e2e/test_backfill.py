"""A backfill of a daily ingestion DAG: one run per day, each pulling its own extract, rerunnable safely.

Airflow plans the backfill itself: `airflow backfill create --dry-run --run-backwards` (the CLI, in
process) and `airflow.models.backfill._do_dry_run`, which backs both that command and the REST dry
run. No scheduler runs in the tests, so the planned runs are then executed with `dag.test()` in the
plan's order, newest day first: out of order, as a backfill may run them. `dag.test()` derives the
data interval from the logical date it is given, so each run is started at its interval's end (see
`community_dw_tools.runner.interval_run_date`), and the interval Airflow recorded for it is checked against
the plan.

The module works in its own sources, landing, work and warehouse folders so it neither sees nor
changes what the session's other end-to-end tests load.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re

import pendulum
import pytest

from community_dw import paths, warehouse
from community_dw.orchestration import LOCAL_TZ

from support import own_data_folders
from support.airflow import interval_run_date, run_dag

# A run that looks for another day's extract does not fail: its sensor reschedules for hours. The
# thread method ends such a hang (signal-based timeouts are cancelled by Airflow's DAG-file parsing,
# which arms its own SIGALRM), at the cost of stopping the whole pytest process.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300, method="thread")]

SOURCE = "health_services"
DAG_ID = f"ingest_{SOURCE}"
FIRST_DAY = dt.date(2026, 11, 20)
DAYS = [FIRST_DAY + dt.timedelta(days=n) for n in range(3)]


def _query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection() as con:
        return con.execute(sql, params or []).fetchall()


def _local_midnight(day: dt.date) -> pendulum.DateTime:
    return pendulum.datetime(day.year, day.month, day.day, tz=LOCAL_TZ)


def _batch_id(day: dt.date) -> str:
    return f"{SOURCE}/{day.isoformat()}"


def _delivery(day: dt.date):
    return paths.sources_dir() / "file_drop" / SOURCE / f"{SOURCE}_{day:%Y%m%d}.jsonl"


def _manifest(day: dt.date) -> dict:
    ok = _delivery(day).with_name(_delivery(day).name + ".ok")
    return json.loads(ok.read_text(encoding="utf-8"))


def _delivered_service_ids(day: dt.date) -> set[str]:
    lines = _delivery(day).read_text(encoding="utf-8").splitlines()
    return {json.loads(line)["service_id"] for line in lines if line.strip()}


def _airflow_cli(*argv: str) -> str:
    """Run an `airflow` CLI command in this process (same metadata DB) and return what it printed."""
    from airflow.cli import cli_parser

    args = cli_parser.get_parser().parse_args(list(argv))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        args.func(args)
    return out.getvalue()


def _plan(reprocess_behavior: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """The data intervals Airflow's backfill would create runs for, in its (backwards) order."""
    from airflow.models.backfill import ReprocessBehavior, _do_dry_run
    from airflow.utils.session import create_session

    with create_session() as session:
        infos = list(
            _do_dry_run(
                dag_id=DAG_ID,
                from_date=_local_midnight(DAYS[0]),
                to_date=_local_midnight(DAYS[-1]),
                reverse=True,
                reprocess_behavior=ReprocessBehavior(reprocess_behavior),
                session=session,
            )
        )
    return [(info.data_interval.start, info.data_interval.end) for info in infos]


def _execute(plan: list[tuple[dt.datetime, dt.datetime]]) -> dict[dt.date, dict]:
    """Run each planned interval through `dag.test()` in plan order; what Airflow recorded, by day."""
    from airflow.models.dagrun import DagRun
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    timetable = SerializedDagModel.get_dag(DAG_ID).timetable
    runs = {}
    for start, end in plan:
        day = pendulum.instance(start).in_timezone(LOCAL_TZ).date()
        run_after = interval_run_date(day)
        # Fail here rather than hang: a run given another interval would have its sensor wait hours
        # for a delivery that does not exist. dag.test() infers the interval exactly like this.
        inferred = timetable.infer_manual_data_interval(run_after=run_after)
        assert (inferred.start, inferred.end) == (start, end), f"{run_after} would not run {start}..{end}"
        state = run_dag(DAG_ID, run_after)
        with create_session() as session:
            run = session.scalars(
                select(DagRun).where(DagRun.dag_id == DAG_ID, DagRun.logical_date == run_after)
            ).one()
            runs[day] = {
                "state": state,
                "run_id": run.run_id,
                "interval": (run.data_interval_start, run.data_interval_end),
                "planned": (start, end),
            }
    return runs


def _warehouse_state() -> dict:
    ledger = _query(
        "select batch_id, status, file, sha256, received_rows, loaded_rows, quarantined_rows, run_id, "
        "recorded_at from audit.batch_ledger where source = ? order by batch_id, recorded_at",
        [SOURCE],
    )
    return {
        "ledger": ledger,
        "raw": dict(_query(f"select _batch_id, count(*) from raw.{SOURCE} group by all")),
        "quarantine": dict(_query(f"select _batch_id, count(*) from raw.{SOURCE}_quarantine group by all")),
        "quarantine_index": dict(
            _query(
                "select batch_id, count(*) from audit.quarantine_index where source = ? group by all",
                [SOURCE],
            )
        ),
        "raw_total": _query(f"select count(*) from raw.{SOURCE}")[0][0],
    }


@pytest.fixture(scope="module")
def backfill_city(airflow_db, dbt_manifest, tmp_path_factory):
    """Three generated days delivered to folders (and a warehouse) of this module's own."""
    from community_dw_tools.synthetic import generate_city

    root = tmp_path_factory.mktemp("backfill")
    with pytest.MonkeyPatch.context() as env:
        own_data_folders(env, root, "backfill.duckdb")
        generate_city(
            paths.sources_dir(),
            residents=300,
            days=len(DAYS),
            seed=11,
            defect_rate=0.01,
            start_date=FIRST_DAY,
        )
        # A backfill is planned from the serialized DAG in the metadata DB, as the scheduler would.
        _airflow_cli("dags", "reserialize")
        yield root


@pytest.fixture(scope="module")
def first_backfill(backfill_city) -> dict:
    cli_output = _airflow_cli(
        "backfill",
        "create",
        "--dag-id",
        DAG_ID,
        "--from-date",
        DAYS[0].isoformat(),
        "--to-date",
        DAYS[-1].isoformat(),
        "--dry-run",
        "--run-backwards",
    )
    plan = _plan("none")
    runs = _execute(plan)
    return {"cli_output": cli_output, "plan": plan, "runs": runs, "after": _warehouse_state()}


@pytest.fixture(scope="module")
def second_backfill(first_backfill) -> dict:
    # The same backfill again, told to reprocess the runs that already completed.
    plan = _plan("completed")
    runs = _execute(plan)
    return {"plan": plan, "runs": runs, "after": _warehouse_state()}


def test_airflow_plans_one_run_per_generated_day_newest_first(first_backfill):
    expected = [(_local_midnight(day), _local_midnight(day + dt.timedelta(days=1))) for day in reversed(DAYS)]
    assert first_backfill["plan"] == expected
    printed = [
        dt.datetime.fromisoformat(stamp)
        for stamp in re.findall(
            r"^\| (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d) ", first_backfill["cli_output"], re.M
        )
    ]
    assert printed == [start for start, _ in expected], first_backfill["cli_output"]


def test_every_backfill_run_succeeds_on_its_planned_interval(first_backfill):
    runs = first_backfill["runs"]
    assert sorted(runs) == DAYS
    for day, run in runs.items():
        assert run["state"] == "success", (day, run)
        assert run["interval"] == run["planned"], (day, run)


def test_each_run_loaded_exactly_its_own_days_extract(first_backfill):
    after = first_backfill["after"]
    ledger = after["ledger"]
    assert sorted(row[0] for row in ledger) == [_batch_id(day) for day in DAYS]
    for day in DAYS:
        [(_, status, file, sha256, received, loaded, quarantined, run_id, _)] = [
            row for row in ledger if row[0] == _batch_id(day)
        ]
        manifest = _manifest(day)
        assert status == "loaded"
        assert (file, sha256, received) == (manifest["file"], manifest["sha256"], manifest["rows"])
        assert run_id == first_backfill["runs"][day]["run_id"]
        assert received == loaded + quarantined
        assert after["raw"].get(_batch_id(day), 0) == loaded
        assert after["quarantine"].get(_batch_id(day), 0) == quarantined
        # The accepted rows came from this day's delivered file (service ids differ from day to day;
        # late-recorded contacts mean service_date alone cannot tell the delivery apart).
        accepted = [
            service_id
            for (service_id,) in _query(
                f"select service_id from raw.{SOURCE} where _batch_id = ?", [_batch_id(day)]
            )
        ]
        assert len(set(accepted)) == len(accepted) == loaded
        assert set(accepted) <= _delivered_service_ids(day)
        others = set().union(*(_delivered_service_ids(d) for d in DAYS if d != day))
        assert not set(accepted) & others
    assert sum(row[6] for row in ledger) > 0, "the generator injected defects, so something is quarantined"
    assert after["raw_total"] == sum(row[5] for row in ledger)


def test_rerunning_the_backfill_duplicates_nothing(first_backfill, second_backfill):
    assert second_backfill["plan"] == first_backfill["plan"]
    assert {day: run["state"] for day, run in second_backfill["runs"].items()} == dict.fromkeys(
        DAYS, "success"
    )
    before, after = first_backfill["after"], second_backfill["after"]
    # Same batches with the same counts; only the time of recording moved on (each was reloaded).
    assert [row[:8] for row in after["ledger"]] == [row[:8] for row in before["ledger"]]
    for old, new in zip(before["ledger"], after["ledger"], strict=True):
        assert new[8] > old[8], f"{new[0]} was not reloaded by the second backfill"
    for key in ("raw", "quarantine", "quarantine_index", "raw_total"):
        assert after[key] == before[key], key
