"""Retention: the `retention` DAG purges landing copies and telecom stays past their windows, logs it,
keeps what is fresh or still in flight, removes nothing on a rerun, and the grid aggregates survive.

The module works in its own landing, work and warehouse folders (like test_backfill), seeded with
ledger records and rows shaped as the loader writes them, and runs the real DAG with `dag.test()`.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pendulum
import pytest

from community_dw import paths, retention, warehouse
from community_dw.contracts import get_contract, load_contracts
from community_dw.orchestration import LOCAL_TZ

from support import own_data_folders
from support.airflow import run_dag
from support.dbt import project_copy, run_dbt

pytestmark = pytest.mark.timeout(300, method="thread")

# The run: 03:30 local on 2 December (19:30 UTC on the 1st). Landing window 7 days -> batches whose
# ledger record is before 2026-11-24 19:30 UTC; telecom window 30 days -> stays before 2026-11-02 00:00.
AS_OF = pendulum.datetime(2026, 12, 2, 3, 30, tz=LOCAL_TZ)
LANDING_CUTOFF = dt.datetime(2026, 11, 24, 19, 30)
RAW_CUTOFF = dt.datetime(2026, 11, 2)
OLD = dt.datetime(2026, 11, 2, 1, 0)  # a ledger time well before the landing cut-off (UTC)
FRESH = dt.datetime(2026, 11, 30, 1, 0)


def _ledger(con, source: str, batch_id: str, status: str, recorded_at: dt.datetime) -> None:
    con.execute(
        "insert into audit.batch_ledger (source, batch_id, file, status, received_rows, loaded_rows, "
        "quarantined_rows, rejected_rows, recorded_at) values (?, ?, 'f', ?, 1, ?, 0, ?, ?)",
        [source, batch_id, status, int(status == "loaded"), int(status == "rejected"), recorded_at],
    )


def _folder(path: Path, files: dict[str, bytes], written: dt.datetime) -> None:
    path.mkdir(parents=True, exist_ok=True)
    stamp = written.replace(tzinfo=dt.UTC).timestamp()
    for name, data in files.items():
        (path / name).write_bytes(data)
        (path / name).chmod(0o440)  # landing copies are read-only
        os.utime(path / name, (stamp, stamp))


STAYS = [  # (stay_start local, device): the first two are past the 30-day window
    (dt.datetime(2026, 10, 20, 10, 5), "d1"),
    (dt.datetime(2026, 11, 1, 23, 59), "d2"),
    (dt.datetime(2026, 11, 2, 0, 0), "d3"),
    (dt.datetime(2026, 11, 25, 10, 5), "d4"),
]


def _stay_row(start: dt.datetime, device: str, batch: str) -> tuple:
    return (device, "110101001001001", start, start + dt.timedelta(minutes=30), "resident", "CMCC", batch)


@pytest.fixture(scope="module")
def retention_world(airflow_db, dbt_manifest, tmp_path_factory):
    root = tmp_path_factory.mktemp("retention")
    with pytest.MonkeyPatch.context() as env:
        own_data_folders(env, root, "retention.duckdb")
        with warehouse.connection() as con:
            for contract in load_contracts().values():
                warehouse.ensure_tables(con, contract)
            _ledger(con, "population_registry", "population_registry/2026-11-01", "loaded", OLD)
            _ledger(con, "population_registry", "population_registry/2026-11-29", "loaded", FRESH)
            _ledger(con, "appeals", "appeals/2026-11-01T00:00", "rejected", OLD)
            # rejected first, then loaded again recently: the latest record counts, so it is kept
            _ledger(con, "health_services", "health_services/2026-11-01", "rejected", OLD)
            _ledger(con, "health_services", "health_services/2026-11-01", "loaded", FRESH)
            for start, device in STAYS:
                batch = f"telecom_stays/{start:%Y-%m-%dT%H}"
                con.execute(
                    "insert into raw.telecom_stays (msisdn_hash, grid_code, stay_start, stay_end, user_type, "
                    "carrier, _batch_id, _source_row, _loaded_at) values (?, ?, ?, ?, ?, ?, ?, 1, ?)",
                    [*_stay_row(start, device, batch), start],
                )
            # quarantined rows whose stay_start did not parse: aged by their (UTC) load time
            for loaded_at in (dt.datetime(2026, 10, 21), dt.datetime(2026, 11, 25)):
                con.execute(
                    "insert into raw.telecom_stays_quarantine (msisdn_hash, grid_code, _batch_id, "
                    "_source_row, _loaded_at, _reasons) values ('q', 'g', 'b', 1, ?, 'UNPARSEABLE_VALUE')",
                    [loaded_at],
                )
        landing, work = paths.landing_dir(), paths.work_dir()
        _folder(landing / "population_registry" / "2026-11-01", {"p.csv": b"x" * 100, "p.csv.ok": b"{}"}, OLD)
        _folder(work / "population_registry" / "2026-11-01", {"accepted.arrow": b"y" * 50}, OLD)
        _folder(landing / "population_registry" / "2026-11-29", {"p.csv": b"x" * 10}, FRESH)
        _folder(landing / "appeals" / "2026-11-01T0000", {"a.jsonl": b"z" * 30}, OLD)
        _folder(landing / "health_services" / "2026-11-01", {"h.jsonl": b"h" * 20}, OLD)
        # landed long ago but not yet loaded or rejected: still being processed, never purged
        _folder(landing / "telecom_stays" / "2026-10-20T10", {"part-0.parquet": b"t" * 40}, OLD)
        yield root


def _state() -> dict:
    with warehouse.connection() as con:
        return {
            "log": con.execute(
                "select rule, source, target, batch_id, rows_removed, files_removed, bytes_removed, "
                "window_days, cutoff, run_id from audit.purge_log order by rule, target"
            ).fetchall(),
            "ledger": con.execute("select count(*) from audit.batch_ledger").fetchone()[0],
            "stays": con.execute("select msisdn_hash from raw.telecom_stays order by stay_start").fetchall(),
            "quarantine": con.execute("select _loaded_at from raw.telecom_stays_quarantine").fetchall(),
        }


@pytest.fixture(scope="module")
def first_run(retention_world) -> dict:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CDW_LANDING_DIR", str(retention_world / "landing"))
        env.setenv("CDW_WORK_DIR", str(retention_world / "work"))
        env.setenv("CDW_WAREHOUSE_PATH", str(retention_world / "warehouse" / "retention.duckdb"))
        state = run_dag("retention", AS_OF)
        first = _state() | {"state": state}
        # Later the same day (a manual rerun): the same cut-off for raw, one hour later for landing.
        again = run_dag("retention", AS_OF.add(hours=1))
        second = _state() | {"state": again}
        return {"first": first, "second": second, "root": retention_world}


def test_the_dag_succeeds_twice(first_run):
    assert first_run["first"]["state"] == "success"
    assert first_run["second"]["state"] == "success"


def test_landing_and_work_past_the_window_are_purged_and_logged(first_run):
    root = first_run["root"]
    assert not (root / "landing" / "population_registry" / "2026-11-01").exists()
    assert not (root / "work" / "population_registry" / "2026-11-01").exists()
    assert not (root / "landing" / "appeals" / "2026-11-01T0000").exists()
    folders = {
        (rule, target): (batch, files, size, window, cutoff)
        for rule, _, target, batch, _, files, size, window, cutoff, _ in first_run["first"]["log"]
        if rule != retention.RAW_RULE
    }
    assert folders == {
        ("landing_files", "landing/appeals/2026-11-01T0000"): (
            "appeals/2026-11-01T00:00",
            1,
            30,
            7,
            LANDING_CUTOFF,
        ),
        ("landing_files", "landing/population_registry/2026-11-01"): (
            "population_registry/2026-11-01",
            2,
            102,
            7,
            LANDING_CUTOFF,
        ),
        ("work_files", "work/population_registry/2026-11-01"): (
            "population_registry/2026-11-01",
            1,
            50,
            7,
            LANDING_CUTOFF,
        ),
    }


def test_fresh_and_in_flight_batches_are_kept(first_run):
    root = first_run["root"]
    assert (root / "landing" / "population_registry" / "2026-11-29" / "p.csv").exists()
    # its latest ledger record (loaded again) is recent, although an older rejection is past the window
    assert (root / "landing" / "health_services" / "2026-11-01" / "h.jsonl").exists()
    # no ledger record: still being processed
    assert (root / "landing" / "telecom_stays" / "2026-10-20T10" / "part-0.parquet").exists()


def test_telecom_stays_past_30_days_are_purged_and_logged(first_run):
    first = first_run["first"]
    assert first["stays"] == [("d3",), ("d4",)]  # d1 and d2 started before 2 November 00:00
    assert first["quarantine"] == [(dt.datetime(2026, 11, 25),)]
    raw = [row for row in first["log"] if row[0] == retention.RAW_RULE]
    assert [(r[2], r[4], r[7], r[8]) for r in raw] == [
        ("raw.telecom_stays", 2, 30, RAW_CUTOFF),
        ("raw.telecom_stays_quarantine", 1, 30, RAW_CUTOFF),
    ]
    assert all(r[9] and r[9].startswith("manual__") for r in first["log"]), "every purge names its run"


def test_the_ledger_keeps_its_records(first_run):
    assert first_run["first"]["ledger"] == 5


def test_a_rerun_for_the_same_date_removes_and_logs_nothing(first_run):
    first, second = first_run["first"], first_run["second"]
    assert second["log"] == first["log"]
    assert second["stays"] == first["stays"] and second["quarantine"] == first["quarantine"]


def test_landing_folders_follow_the_batch_id_rule_of_every_transport(tmp_path, monkeypatch):
    """The folder `retention.landing_folder` derives is where each transport lands its batch."""
    from community_dw.transports import http_api, transport_for

    monkeypatch.setenv("CDW_LANDING_DIR", str(tmp_path))
    day = dt.date(2026, 11, 25)
    hour = dt.datetime(2026, 11, 25, 9)
    appeals = get_contract("appeals")
    start = dt.datetime(2026, 11, 25, 0, 15)
    assert retention.landing_folder(transport_for(appeals).batch_id(appeals, start)) == (
        http_api.landed_file(appeals, start).parent
    )
    assert retention.landing_folder(
        transport_for(get_contract("telecom_stays")).batch_id(get_contract("telecom_stays"), hour)
    ) == (tmp_path / "telecom_stays" / "2026-11-25T09")
    registry = get_contract("population_registry")
    assert (
        retention.landing_folder(transport_for(registry).batch_id(registry, day))
        == tmp_path / "population_registry" / "2026-11-25"
    )


# --- the grid presence aggregates survive the purge ---------------------------------------------


PRESENCE = (
    "select grid_code, hour_start, user_type, devices_present, devices_inflow, devices_outflow, "
    "_invocation_id from intermediate.int_grid_presence_hourly order by all"
)


def test_grid_presence_aggregates_survive_the_purge_of_their_stays(tmp_path, monkeypatch):
    project = project_copy(tmp_path / "dbt_project", seeds={})
    db = tmp_path / "presence.duckdb"
    monkeypatch.setenv("CDW_WAREHOUSE_PATH", str(db))
    monkeypatch.setenv("CDW_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("CDW_WORK_DIR", str(tmp_path / "work"))
    contract = get_contract("telecom_stays")
    old_hours = [dt.datetime(2026, 10, 20, h) for h in (10, 11)]
    new_hours = [dt.datetime(2026, 11, 25, h) for h in (10, 11)]

    def insert(hours: list[dt.datetime], devices: list[str]) -> None:
        with warehouse.connection() as con:
            warehouse.ensure_tables(con, contract)
            for hour in hours:
                for n, device in enumerate(devices, start=1):
                    start = hour + dt.timedelta(minutes=5)
                    con.execute(
                        "insert into raw.telecom_stays (msisdn_hash, grid_code, stay_start, stay_end, "
                        "user_type, carrier, _batch_id, _source_row, _loaded_at) "
                        "values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [*_stay_row(start, device, f"telecom_stays/{hour:%Y-%m-%dT%H}"), n, hour],
                    )

    insert(old_hours, ["a", "b", "c"])
    insert(old_hours[1:], ["d"])  # d arrives at 11:00
    insert(new_hours, ["a", "e"])
    select = ["--select", "stg_telecom_stays", "int_grid_presence_hourly"]
    run_dbt(project, {"CDW_WAREHOUSE_PATH": str(db)}, "run", "--target", "duckdb", *select)
    with warehouse.connection() as con:  # same configuration as dbt's open connection
        before = con.execute(PRESENCE).fetchall()
    old_rows = [r for r in before if r[1] < RAW_CUTOFF]
    assert [(r[1].hour, r[3], r[4], r[5]) for r in old_rows] == [(10, 3, None, None), (11, 4, 1, 0)]

    purges = retention.purge_source("telecom_stays", AS_OF, run_id="test")
    assert [(p.target, p.rows_removed) for p in purges] == [("raw.telecom_stays", 7)]
    insert([dt.datetime(2026, 11, 25, 12)], ["e"])  # the next hour arrives; the model runs again
    run_dbt(project, {"CDW_WAREHOUSE_PATH": str(db)}, "run", "--target", "duckdb", *select)
    with warehouse.connection() as con:  # same configuration as dbt's open connection
        after = con.execute(PRESENCE).fetchall()
        assert (
            con.execute(
                "select count(*) from raw.telecom_stays where stay_start < ?", [RAW_CUTOFF]
            ).fetchone()[0]
            == 0
        )
    assert [r for r in after if r[1] < RAW_CUTOFF] == old_rows, "aggregates of purged hours changed"
    assert any(r[1] == dt.datetime(2026, 11, 25, 12) for r in after), "the incremental run added no hour"
    assert len(after) == len(before) + 1
