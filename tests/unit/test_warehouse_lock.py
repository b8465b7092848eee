"""DuckDB has one writer per file: a second process waits its turn, then gets a clear error if it must."""

from __future__ import annotations

import subprocess
import sys
import time

import duckdb
import pytest

from community_dw import warehouse

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def _hold(path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_a_writer_waits_for_the_lock_held_by_another_process(tmp_path):
    path = tmp_path / "w.duckdb"
    holder = _hold(path, 2.0)
    started = time.monotonic()
    with warehouse.connection(path) as con:
        waited = time.monotonic() - started
        assert con.execute("select 42").fetchone() == (42,)
    holder.wait(timeout=30)
    assert waited > 0.5, "the lock was held, so the connection had to wait"


def test_past_the_timeout_the_error_names_the_lock(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    monkeypatch.setenv(warehouse.LOCK_TIMEOUT_ENV, "1")
    holder = _hold(path, 10.0)
    try:
        with pytest.raises(duckdb.IOException, match="lock"):
            warehouse.connect(path)
    finally:
        holder.kill()
        holder.wait(timeout=30)
