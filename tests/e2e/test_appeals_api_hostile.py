"""A hostile appeals API (issue 14): pages that break the paging contract, a cursor that goes back in
time, a server that trickles its answer. A real HTTP server on localhost, the real ingestion steps and
a real DuckDB warehouse.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest

from community_dw import ingest, paths, warehouse
from community_dw.contracts import get_contract
from community_dw.errors import BatchRejected
from community_dw.transports import http_api
from community_dw.transports.http_api import API_CONTRACT, ApiError, DeadlineExceeded, RetryPolicy
from community_dw_tools.devserver.appeals_api import CONTRACT_BREACHES, Faults, serve

from support.appeals_api import BASE, TOKEN, connect, expected

PHONE = "13812345678"  # every synthetic version's reporter_phone: must never reach the audit trail
PAGE_SIZE = 25


pytestmark = pytest.mark.usefixtures("isolated_data")


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """The appeals contract with 25 versions a page, so that a window has several pages."""
    contract = get_contract("appeals")
    paged = dataclasses.replace(contract, options={**contract.options, "page_size": PAGE_SIZE})
    monkeypatch.setattr(
        ingest, "get_contract", lambda name: paged if name == "appeals" else get_contract(name)
    )


def ledger(batch_id: str) -> list[dict]:
    with warehouse.connection() as con:
        warehouse.ensure_tables(con, get_contract("appeals"))
        cursor = con.execute(
            "select * from audit.batch_ledger where batch_id = ? order by recorded_at", [batch_id]
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- class 1: a page that breaks the paging contract is a rejection, not a crash -----------------


@pytest.mark.parametrize("breach", sorted(CONTRACT_BREACHES))
def test_a_page_breaking_the_contract_is_rejected_in_the_ledger(
    breach: str, tickets: Path, monkeypatch: pytest.MonkeyPatch, small_pages: None
) -> None:
    start, end = BASE, BASE + timedelta(hours=2)
    faults = dataclasses.replace(Faults.none(), contract_page=2, contract_breach=breach)
    field = {"total_not_number": "total", "total_missing": "total", "items_not_list": "items"}.get(
        breach, "items[24]" if breach.startswith("item_") else "next_page"
    )
    with serve(tickets, token=TOKEN, faults=faults) as server:
        connect(monkeypatch, server)
        with pytest.raises(BatchRejected) as caught:
            ingest.land("appeals", start, end)
        asked = [r for r in server.requests if r.path == "/api/v1/tickets"]
    rejection = caught.value
    assert (rejection.source, rejection.batch_id) == ("appeals", "appeals/2026-11-01T08:00")
    assert rejection.rule == API_CONTRACT and rejection.column == field
    assert [r.page for r in asked] == [1, 2]  # page 2 asked once: not retried

    rows = ledger("appeals/2026-11-01T08:00")
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == "rejected" and row["rejection_rule"] == API_CONTRACT
    assert row["loaded_rows"] == 0 and row["file"] == "appeals_2026-11-01T0800.jsonl"
    detail = row["rejection_detail"]
    assert detail == str(rejection)
    assert f"{server.url}/api/v1/tickets?" in detail and "page=2" in detail and "(page 2)" in detail
    assert f"Field {field} of page 2" in detail and "Ask the producer to fix the API" in detail
    assert "Not retried" in detail
    assert TOKEN not in detail and PHONE not in detail and "T20261101" not in detail
    if breach == "next_page_opaque":
        assert "eyJj" not in detail and "a string of 32 characters" in detail  # its type, not its value
    kept = list((paths.landing_dir() / "appeals" / "2026-11-01T0800").glob("*.page-2-*.rejected"))
    assert len(kept) == 1 and kept[0].name in detail  # the page as received stays in landing
    assert not list(kept[0].parent.glob("*.jsonl"))  # nothing was landed as the batch


def test_a_contract_breach_fails_the_airflow_task_without_retries(
    tickets: Path, monkeypatch: pytest.MonkeyPatch, small_pages: None
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from community_dw.orchestration.ingestion import _fail_fast_on_rejection

    faults = dataclasses.replace(Faults.none(), contract_page=1, contract_breach="total_not_number")
    with serve(tickets, token=TOKEN, faults=faults) as server:
        connect(monkeypatch, server)
        with pytest.raises(AirflowFailException, match="Batch rejected by rule API_CONTRACT"):
            _fail_fast_on_rejection(ingest.land, "appeals", BASE, BASE + timedelta(hours=1))
    assert [r["rejection_rule"] for r in ledger("appeals/2026-11-01T08:00")] == [API_CONTRACT]


# --- class 2: the window is exact, whatever the server's cursor does -----------------------------


def test_a_cursor_going_back_in_time_lands_no_version_twice(
    tickets: Path, versions: list[dict], monkeypatch: pytest.MonkeyPatch, small_pages: None, caplog
) -> None:
    rewind = timedelta(minutes=30)
    windows = [
        (BASE + timedelta(hours=1), BASE + timedelta(hours=2)),
        (BASE + timedelta(hours=2), BASE + timedelta(hours=3)),
    ]
    faults = dataclasses.replace(Faults.none(), rewind_seconds=rewind.total_seconds())
    caplog.set_level(logging.WARNING, logger=http_api.__name__)
    with serve(tickets, token=TOKEN, faults=faults) as server:
        connect(monkeypatch, server)
        for start, end in windows:
            caplog.clear()
            landed = ingest.land("appeals", start, end)
            manifest = json.loads(Path(landed.landed_path + ".ok").read_text(encoding="utf-8"))
            served_early = len(expected(versions, start - rewind, start))
            assert served_early > 0  # the fault really happened: the server sent versions before the window
            assert manifest["outside_window_dropped"] == served_early
            assert manifest["rows"] == len(expected(versions, start, end))
            [warning] = [
                r.getMessage() for r in caplog.records if "outside the requested window" in r.getMessage()
            ]
            assert f"returned {served_early} versions outside the requested window" in warning
            assert "were not landed" in warning and PHONE not in warning
            ingest.load(ingest.validate(ingest.protect_identities(landed, "hostile"), "hostile"), "hostile")
    with warehouse.connection() as con:
        duplicates = con.execute(
            "select ticket_id, updated_at, count(*) from (select ticket_id, updated_at from raw.appeals "
            "union all select ticket_id, updated_at from raw.appeals_quarantine) group by all having count(*) > 1"
        ).fetchall()
        counts = dict(con.execute("select _batch_id, count(*) from raw.appeals group by all").fetchall())
        quarantined = con.execute("select count(*) from raw.appeals_quarantine").fetchone()[0]
    assert duplicates == []
    want = {f"appeals/{s.isoformat(timespec='minutes')}": len(expected(versions, s, e)) for s, e in windows}
    assert sum(counts.values()) + quarantined == sum(want.values())
    assert set(counts) == set(want)


# --- class 3: wall-clock deadlines per page and per run -----------------------------------------


def _deadline_exceeded(
    server, monkeypatch: pytest.MonkeyPatch, policy: RetryPolicy
) -> tuple[DeadlineExceeded, float]:
    """Fetch two hours from `server` under `policy`: the DeadlineExceeded it must raise, and the seconds taken."""
    connect(monkeypatch, server)
    began = time.monotonic()
    with pytest.raises(DeadlineExceeded) as caught:
        http_api.fetch(BASE, BASE + timedelta(hours=2), page_size=PAGE_SIZE, policy=policy)
    return caught.value, time.monotonic() - began


def test_a_trickling_page_hits_the_page_deadline(tickets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one byte every 20 ms: no single read comes near the 0.5 s timeout, the page would take minutes
    faults = dataclasses.replace(Faults.none(), trickle_page=2, trickle_interval=0.02)
    policy = RetryPolicy(max_attempts=3, backoff_seconds=0.05, timeout_seconds=0.5, page_deadline_seconds=1.5)
    with serve(tickets, token=TOKEN, faults=faults) as server:
        error, elapsed = _deadline_exceeded(server, monkeypatch, policy)
        deadline = time.monotonic() + 5
        while not [r for r in server.requests if r.page == 2] and time.monotonic() < deadline:
            time.sleep(0.05)  # the server notices the closed connection at its next write
        page2 = [r for r in server.requests if r.page == 2]
    assert 1.5 <= elapsed < 1.5 + 1.0  # page 1 is quick; the deadline cut page 2 off on time
    assert error.page == 2 and error.attempts == 1 and isinstance(error, ApiError)
    message = str(error)
    assert f"GET {server.url}/api/v1/tickets?" in message and "page=2" in message and "(page 2)" in message
    assert "did not complete in time" in message and "at most 1.5 s" in message
    assert "page_deadline_seconds" in message and TOKEN not in message
    assert len(page2) == 1 and page2[0].seconds < 3.0  # one attempt, and the server stopped trickling


def test_the_run_deadline_bounds_the_whole_pull(tickets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # pages 1 and 2 are quick, page 3 trickles: well within its own 30 s deadline, not the run's 1 s
    faults = dataclasses.replace(Faults.none(), slow_page=None, trickle_page=3, trickle_interval=0.01)
    policy = RetryPolicy(
        max_attempts=3,
        backoff_seconds=0.05,
        timeout_seconds=0.5,
        page_deadline_seconds=30,
        run_deadline_seconds=1.0,
    )
    with serve(tickets, token=TOKEN, faults=faults) as server:
        error, elapsed = _deadline_exceeded(server, monkeypatch, policy)
    assert 1.0 <= elapsed < 1.0 + 1.0
    assert error.page == 3
    assert "the whole pull may take at most 1 s" in str(error) and "run_deadline_seconds" in str(error)


def test_a_retry_wait_past_the_deadline_fails_at_once(tickets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    faults = dataclasses.replace(Faults.none(), rate_limit_page=1, retry_after_seconds=5)
    policy = RetryPolicy(max_attempts=3, backoff_seconds=0.05, page_deadline_seconds=2.0)
    with serve(tickets, token=TOKEN, faults=faults) as server:
        connect(monkeypatch, server)
        began = time.monotonic()
        with pytest.raises(
            DeadlineExceeded, match=r"\(page 1\) would have to wait 5.0 s for attempt 2"
        ) as caught:
            http_api.fetch(BASE, BASE + timedelta(hours=1), page_size=PAGE_SIZE, policy=policy)
        elapsed = time.monotonic() - began
    assert elapsed < 1.0 and server.hits[429] == 1  # no 5 s sleep, no second attempt
    assert "status 429" in str(caught.value)
