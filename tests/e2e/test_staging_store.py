"""Ingestion through a staging store that is not a local folder, cleaned once a batch is loaded or rejected.

`memory://` stands in for the shared store a Celery deployment names with CDW_STAGING_URL (s3://, gs://):
it is not on any disk, so a step that still read or wrote the worker's work folder would fail here. The
module generates its own small city in its own folders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from community_dw import ingest, paths, staging, warehouse
from community_dw.contracts import get_contract
from community_dw.errors import BatchRejected

pytestmark = pytest.mark.e2e

DAY = dt.date(2026, 11, 25)
STORE = "memory://cdw-staging-test/work"


@pytest.fixture
def world(tmp_path, monkeypatch):
    from community_dw_tools.synthetic import generate_city

    monkeypatch.setenv("CDW_DATA_DIR", str(tmp_path / "data"))
    for name in ("CDW_SOURCES_DIR", "CDW_LANDING_DIR", "CDW_WORK_DIR", "CDW_WAREHOUSE_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(staging.STAGING_URL_ENV, STORE)
    generate_city(paths.sources_dir(), residents=300, days=1, seed=11, defect_rate=0.05, start_date=DAY)
    return tmp_path


def _store_files() -> list[str]:
    root = staging.folder_at(STORE)
    return [str(p) for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _ledger(batch_id: str) -> list[tuple]:
    with warehouse.connection() as con:
        return con.execute(
            "select status, received_rows, loaded_rows, quarantined_rows from audit.batch_ledger "
            "where batch_id = ? order by recorded_at",
            [batch_id],
        ).fetchall()


def test_a_batch_travels_through_the_store_and_leaves_nothing_behind(world):
    start = dt.datetime.combine(DAY, dt.time())
    landed = ingest.land("population_registry", start, start + dt.timedelta(days=1), "store-test")
    protected = ingest.protect_identities(landed, "store-test")
    assert protected.work_dir == f"{STORE}/{landed.batch_id}"
    assert staging.VAULT_FILE in {p.rsplit("/", 1)[-1] for p in _store_files()}
    summary = ingest.load(ingest.validate(protected, "store-test"), "store-test")
    assert summary["loaded"] + summary["quarantined"] == summary["received"] > 0
    assert _ledger(landed.batch_id) == [
        ("loaded", summary["received"], summary["loaded"], summary["quarantined"])
    ]
    assert _store_files() == []
    assert not paths.work_dir().exists(), "a step staged to the worker's local folder"


def test_a_rejected_batch_is_removed_from_the_store(world, monkeypatch):
    strict = replace(
        get_contract("population_registry"),
        options={**get_contract("population_registry").options, "max_bad_row_share": 0.0},
    )
    monkeypatch.setattr(ingest, "get_contract", lambda name: strict)
    start = dt.datetime.combine(DAY, dt.time())
    landed = ingest.land("population_registry", start, start + dt.timedelta(days=1), "store-test")
    protected = ingest.protect_identities(landed, "store-test")
    assert _store_files()
    with pytest.raises(BatchRejected, match="TOO_MANY_BAD_ROWS"):
        ingest.validate(protected, "store-test")
    assert [status for status, *_ in _ledger(landed.batch_id)] == ["rejected"]
    assert _store_files() == []
