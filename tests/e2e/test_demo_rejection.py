"""The demo's rejected batch: the generator's truncated register file, delivered as the day after the
demo's last, fails its real ingestion run with MANIFEST_SHA256, and the demo counts that as intended.

It runs in folders of its own (a copy of the small city's variant), so the session's warehouse keeps
no rejection that other tests do not expect.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from community_dw import paths, warehouse
from community_dw_tools import demo, summary

from support import own_data_folders
from support.airflow import interval_run_date, run_dag
from support.cities import SMALL_CITY

pytestmark = pytest.mark.e2e


def test_the_demos_truncated_day_is_rejected_and_reported_as_intended(city, monkeypatch, tmp_path):
    shared = paths.sources_dir()
    own_data_folders(monkeypatch, tmp_path)
    shutil.copytree(
        shared / "batch_defects" / "truncated", paths.sources_dir() / "batch_defects" / "truncated"
    )
    shutil.copyfile(shared / "defects.json", paths.sources_dir() / "defects.json")

    delivered = demo.deliver_truncated_day(SMALL_CITY)
    day = SMALL_CITY.start_date + timedelta(days=SMALL_CITY.days)
    assert delivered == ("population_registry", day, "MANIFEST_SHA256")

    state = run_dag("ingest_population_registry", interval_run_date(day))
    assert state == "failed"
    assert (
        demo._rejected_as_expected(*delivered, state) == f"{summary.REJECTED_AS_INTENDED} (MANIFEST_SHA256)"
    )
    # A run that fails for another reason, or a ledger without the rejection, is not what was intended.
    assert not demo._rejected_as_expected(*delivered, "success").startswith(summary.REJECTED_AS_INTENDED)
    with warehouse.connection() as con:
        [(batch_id, rule, file, rows)] = summary.rejected_deliveries(con)
    assert (batch_id, rule, file) == (
        f"population_registry/{day}",
        "MANIFEST_SHA256",
        f"population_registry_{day:%Y%m%d}.csv",
    )
    assert rows > 0, "the rows of what was sent are counted"
