"""End to end on DuckDB: a small generated city through real Airflow, GX, dbt (via Cosmos) and DuckDB.

The two DAGs run with `dag.test()`. Assertions read the warehouse the DAGs wrote: the ledger balances,
every injected population defect is quarantined for the right reason, no direct identifier reaches raw,
and the mart adds up to the residents loaded.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from community_dw import paths, warehouse
from community_dw.contracts import get_contract

from support.airflow import interval_run_date, run_dag

pytestmark = pytest.mark.e2e

DAY = dt.date(2026, 11, 25)
POP = get_contract("population_registry")


@pytest.fixture(scope="module")
def ingested(city):
    return run_dag("ingest_population_registry", interval_run_date(DAY))


@pytest.fixture(scope="module")
def built(ingested):
    return run_dag("build_warehouse")


def _query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection() as con:
        return con.execute(sql, params or []).fetchall()


def test_ingestion_run_succeeds_and_ledger_balances(ingested):
    assert ingested == "success"
    [(status, received, loaded, quarantined)] = _query(
        "select status, received_rows, loaded_rows, quarantined_rows from audit.batch_ledger "
        "where batch_id = 'population_registry/2026-11-25'"
    )
    assert status == "loaded"
    assert received == loaded + quarantined
    manifest = json.loads(next((paths.sources_dir() / "file_drop" / POP.name).glob("*.ok")).read_text())
    assert received == manifest["rows"]
    assert _query("select count(*) from raw.population_registry")[0][0] == loaded


def test_every_injected_defect_is_quarantined_for_its_reason(city, ingested):
    defects = [d for d in city["defects"] if d["source"] == "population_registry"]
    kinds = {d["defect"] for d in defects}
    assert {
        "bad_check_digit",
        "birth_date_mismatch",
        "duplicate_key",
        "unknown_community",
        "impossible_date",
    } <= kinds
    caught = {
        (row, reason)
        for row, reason in _query(
            "select source_row, reason_code from audit.quarantine_index where source = 'population_registry'"
        )
    }
    missed = [d for d in defects if (d["row"], d["expected_reason"]) not in caught]
    assert missed == []
    quarantined_rows = {row for row, _ in caught}
    assert quarantined_rows == {d["row"] for d in defects}, "clean rows were quarantined too"


def test_no_direct_identifier_reaches_raw_or_audit(ingested):
    originals = {v for (v,) in _query("select original_value from vault.identities")}
    assert len(originals) > 3000
    tables = [
        f"raw.{POP.name}",
        f"raw.{POP.name}_quarantine",
        "audit.batch_ledger",
        "audit.quarantine_index",
        "audit.dq_results",
    ]
    for table in tables:
        columns = [
            c
            for (c,) in _query(
                "select column_name from information_schema.columns where table_schema || '.' || table_name = ?",
                [table],
            )
        ]
        for column in columns:
            values = {str(v) for (v,) in _query(f"select distinct {column} from {table}") if v is not None}
            leaked = values & originals
            assert not leaked, f"{table}.{column} holds {len(leaked)} direct identifiers"


def test_rerun_replaces_the_batch_instead_of_duplicating(ingested):
    before = _query("select count(*) from raw.population_registry")[0][0]
    assert run_dag("ingest_population_registry", interval_run_date(DAY)) == "success"
    assert _query("select count(*) from raw.population_registry")[0][0] == before
    assert (
        _query(
            "select count(*) from audit.batch_ledger where source = 'population_registry' "
            "and status = 'loaded'"
        )[0][0]
        == 1
    )


def test_warehouse_build_succeeds_and_mart_totals_equal_loaded_residents(built):
    assert built == "success"
    present = _query("select count(distinct resident_id) from raw.population_registry where status = '1'")[0][
        0
    ]
    assert _query("select count(*) from staging.stg_population_registry where is_present")[0][0] == present
    # The intermediate counts are unsuppressed; the mart suppresses small cells but keeps their flag.
    assert (
        _query("select sum(resident_count) from intermediate.int_population_profile_counts")[0][0] == present
    )
    shown, hidden = _query(
        "select coalesce(sum(resident_count), 0), count(*) filter (where is_suppressed) "
        "from marts.community_population_profile"
    )[0]
    assert shown <= present
    assert hidden > 0 or shown == present


def test_dbt_test_results_are_written_to_audit(built):
    statuses = dict(_query("select status, count(*) from audit.dbt_test_results group by status"))
    assert statuses.get("pass", 0) > 50
    assert set(statuses) <= {"pass", "warn"}, statuses


def test_rejected_batch_is_recorded_and_fails_the_run(city, monkeypatch, airflow_db):
    variant = paths.sources_dir() / "batch_defects" / "renamed_column"
    assert variant.exists(), "the generator writes batch-level defect variants"
    monkeypatch.setenv("CDW_SOURCES_DIR", str(variant))
    monkeypatch.setenv("CDW_LANDING_DIR", str(Path(paths.data_dir()) / "landing-rejected"))
    assert run_dag("ingest_population_registry", interval_run_date(DAY)) == "failed"
    [(rule, detail)] = _query(
        "select rejection_rule, rejection_detail from audit.batch_ledger where status = 'rejected'"
    )
    assert rule == "SCHEMA_DRIFT"
    assert "社区代码" in detail and "社区编码" in detail and "population_registry_20261125.csv" in detail
