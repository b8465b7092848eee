"""The appeals API: the development server, the HttpHook-based client and landing, over real HTTP.

Every test starts its own server on a free localhost port and defines the Airflow connection
`cdw_appeals_api` through `AIRFLOW_CONN_CDW_APPEALS_API`, exactly as a deployment would.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from community_dw.contracts import get_contract
from community_dw.errors import BatchRejected, SourceNotReady
from community_dw.parsing import parse_batch
from community_dw.transports import http_api
from community_dw.transports.base import sha256_of
from community_dw.transports.http_api import ApiError, RetryPolicy
from community_dw_tools.devserver.appeals_api import Faults, serve

from support.appeals_api import BASE, TOKEN, api_time, connect, expected, write_tickets

FAST = RetryPolicy(max_attempts=4, backoff_seconds=0.05, timeout_seconds=5.0)

pytestmark = pytest.mark.usefixtures("isolated_data")


def as_jsonl(contract):
    return dataclasses.replace(contract, format="jsonl")


def api_get(server, token: str | None = TOKEN, **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{server.url}/api/v1/tickets", params=params, headers=headers, timeout=10)


# --- the server ------------------------------------------------------------------------------------


def test_server_pages_filters_and_orders(tickets: Path, versions: list[dict]) -> None:
    start, end = BASE + timedelta(seconds=97 * 20), BASE + timedelta(seconds=97 * 80)  # both on versions
    want = expected(versions, start, end)
    with serve(tickets, token=TOKEN, faults=Faults.none()) as server:
        got, page = [], 1
        while page is not None:
            body = api_get(
                server,
                updated_since=api_time(start),
                updated_until=(end - timedelta(hours=8)).isoformat() + "+00:00",  # same instant, in UTC
                page=page,
                page_size=40,
            ).json()
            assert body["page"] == page and body["page_size"] == 40 and body["total"] == len(want)
            assert len(body["items"]) <= 40
            got += body["items"]
            page = body["next_page"]
        assert got == want
        assert got[0]["updated_at"] == api_time(start)  # since is inclusive
        assert (
            want[-1]["updated_at"] < api_time(end) in {v["updated_at"] for v in versions}
        )  # until is exclusive
        keys = [(v["updated_at"], v["ticket_id"]) for v in got]
        assert keys == sorted(keys)

        everything = api_get(server, page_size=1000).json()
        assert everything["total"] == len(versions) and everything["next_page"] is None
        beyond = api_get(server, page=99, page_size=50).json()
        assert beyond["items"] == [] and beyond["next_page"] is None

        assert api_get(server, token=None).status_code == 401
        assert api_get(server, token="wrong-token-xxxxxxxx").status_code == 401
        assert api_get(server, page=0).status_code == 400
        assert api_get(server, page_size=5000).status_code == 400
        assert api_get(server, updated_since="yesterday").status_code == 400
        assert requests.get(f"{server.url}/api/v1/other", timeout=5).status_code == 404
        assert server.hits[401] == 2 and server.hits[400] == 3


def test_server_faults_are_deterministic_per_query(tickets: Path) -> None:
    with serve(tickets, faults=Faults(slow_seconds=0.3)) as server:
        first = api_get(server, token=None, page=2, page_size=10)
        assert first.status_code == 429 and first.headers["Retry-After"] == "1"
        assert api_get(server, token=None, page=2, page_size=10).status_code == 200
        assert api_get(server, token=None, page=3, page_size=10).status_code == 500
        assert api_get(server, token=None, page=3, page_size=10).status_code == 200
        began = time.monotonic()
        assert api_get(server, token=None, page=4, page_size=10).status_code == 200
        assert time.monotonic() - began >= 0.3
        assert api_get(server, token=None, page=2, page_size=11).status_code == 429  # another query
        assert server.hits == {429: 2, 500: 1, 200: 3}


# --- the client ------------------------------------------------------------------------------------


def test_client_survives_rate_limit_error_and_slow_page(
    tickets: Path, versions: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    start, end = BASE, BASE + timedelta(hours=4)
    with serve(tickets, token=TOKEN, faults=Faults(slow_seconds=1.5)) as server:
        connect(monkeypatch, server)
        began = time.monotonic()
        result = http_api.fetch(start, end, page_size=25, policy=FAST)
        elapsed = time.monotonic() - began
        assert result.versions == expected(versions, start, end)
        assert result.pages == -(-len(result.versions) // 25) >= 4
        assert server.hits[429] == 1 and server.hits[500] == 1  # both faults really happened
        assert result.retries == 2 and result.requests == result.pages + 2
        assert result.waits[0] == 1.0  # Retry-After, not the 0.05 s backoff, set the first wait
        assert elapsed >= 1.0 + 1.5  # the Retry-After wait and the slow page
        slow = [r for r in server.requests if r.page == 4]
        assert len(slow) == 1 and slow[0].seconds >= 1.5 and slow[0].status == 200


def test_client_gives_up_with_a_clear_error(tickets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    faults = Faults(rate_limit_page=None, error_page=3, error_repeats=100, slow_page=None)
    with serve(tickets, token=TOKEN, faults=faults) as server:
        connect(monkeypatch, server)
        policy = RetryPolicy(max_attempts=3, backoff_seconds=0.01)
        with pytest.raises(ApiError) as caught:
            http_api.fetch_versions(BASE, BASE + timedelta(hours=4), page_size=25, policy=policy)
        error = caught.value
        assert (error.page, error.status, error.attempts) == (3, 500, 3)
        assert server.url in str(error) and "page=3" in str(error)
        assert "(page 3) failed after 3 attempts" in str(error) and "500" in str(error)
        assert server.hits[500] == 3


def test_client_times_out_on_a_page_slower_than_its_timeout(
    tickets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = Faults(rate_limit_page=None, error_page=None, slow_page=2, slow_seconds=1.0)
    with serve(tickets, token=TOKEN, faults=faults) as server:
        connect(monkeypatch, server)
        policy = RetryPolicy(max_attempts=2, backoff_seconds=0.01, timeout_seconds=0.3)
        with pytest.raises(ApiError, match=r"\(page 2\) failed after 2 attempts; last: ReadTimeout"):
            http_api.fetch_versions(BASE, BASE + timedelta(hours=4), page_size=25, policy=policy)


def test_client_drops_repeated_versions_and_keeps_conflicts(
    tmp_path: Path, versions: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    repeated = [dict(v) for v in versions[10:40]]  # the API serves these twice (across pages)
    conflict = dict(versions[50], status="dispatched")  # same key, other content
    tickets = write_tickets(tmp_path / "tickets.json", [*versions, *repeated, conflict])
    start, end = BASE, BASE + timedelta(hours=6)
    with serve(tickets, token=TOKEN, faults=Faults.none()) as server:
        connect(monkeypatch, server)
        result = http_api.fetch(start, end, page_size=16, policy=FAST)
    assert result.total_reported == len(versions) + 31
    assert result.duplicates_dropped == 30 and result.conflicting_versions == 1
    assert len(result.versions) == len(versions) + 1
    keys = [(v["ticket_id"], v["updated_at"]) for v in result.versions]
    assert len(set(keys)) == len(versions)  # only the conflicting pair shares a key


def test_wrong_token_gives_a_clear_401(tickets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(tickets, token=TOKEN) as server:
        connect(monkeypatch, server, password="not-the-token-0000")
        with pytest.raises(ApiError) as caught:
            http_api.fetch_versions(BASE, BASE + timedelta(hours=1), policy=FAST)
        assert caught.value.status == 401 and caught.value.attempts == 1
        message = str(caught.value)
        assert "status 401" in message and "cdw_appeals_api" in message and "bearer token" in message
        assert server.hits[401] == 1  # not retried


def test_missing_connection_names_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_CDW_APPEALS_API", raising=False)
    with pytest.raises(ApiError, match="AIRFLOW_CONN_CDW_APPEALS_API"):
        http_api.fetch_versions(BASE, BASE + timedelta(hours=1))


# --- landing ---------------------------------------------------------------------------------------


def test_landing_is_immutable_and_rejects_rewritten_history(
    tmp_path: Path, tickets: Path, versions: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    contract = get_contract("appeals")
    start, end = BASE + timedelta(hours=1), BASE + timedelta(hours=1, minutes=15)
    want = expected(versions, start, end)
    with serve(tickets, token=TOKEN, faults=Faults.none()) as server:
        connect(monkeypatch, server)
        landed = http_api.land_http_api(contract, start, end, page_size=4, policy=FAST)

        path = Path(landed.landed_path)
        assert path == tmp_path / "landing" / "appeals" / "2026-11-01T0900" / "appeals_2026-11-01T0900.jsonl"
        assert landed.batch_id == "appeals/2026-11-01T09:00" and landed.interval_date == "2026-11-01"
        lines = path.read_text(encoding="utf-8").splitlines()
        assert [json.loads(line) for line in lines] == want and "楼道灯" in path.read_text(encoding="utf-8")
        assert landed.manifest_rows == len(want) > 0 and landed.sha256 == sha256_of(path)
        assert not path.stat().st_mode & 0o222  # read-only
        manifest = json.loads(path.with_name(path.name + ".ok").read_text(encoding="utf-8"))
        assert manifest["rows"] == len(want) and manifest["sha256"] == landed.sha256
        assert manifest["interval_start"] == "2026-11-01T09:00:00+08:00"
        assert manifest["interval_end"] == "2026-11-01T09:15:00+08:00"
        assert manifest["pages"] == -(-len(want) // 4) and manifest["duplicates_dropped"] == 0
        # the API speaks JSON (the contract's format); what lands is JSON Lines, one version per line
        assert parse_batch(path, as_jsonl(contract), landed.batch_id).num_rows == len(want)
        assert http_api.read_cursor("appeals") == want[-1]["updated_at"]

        again = http_api.land_http_api(contract, start, end, page_size=7, policy=FAST)
        assert again.sha256 == landed.sha256 and again.landed_path == landed.landed_path
        assert again.received_at == landed.received_at  # the first receipt stays the record

        changed = [dict(v) for v in versions]
        for v in changed:
            if v["updated_at"] == want[0]["updated_at"]:
                v["description"] = "内容被改写。"
        write_tickets(tickets, changed)
        with pytest.raises(BatchRejected) as caught:
            http_api.land_http_api(contract, start, end, policy=FAST)
        assert caught.value.rule == "REPLAY_CONTENT_CHANGED" and caught.value.batch_id == landed.batch_id
        assert sha256_of(path) == landed.sha256  # the landed copy is untouched
        assert list(path.parent.glob("*.rejected"))  # the new content is kept for the producer


def test_an_interval_without_versions_is_an_empty_batch(
    tickets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract = get_contract("appeals")
    start = BASE - timedelta(days=1)
    with serve(tickets, token=TOKEN, faults=Faults.none()) as server:
        connect(monkeypatch, server)
        landed = http_api.land_http_api(contract, start, start + timedelta(minutes=15), policy=FAST)
    path = Path(landed.landed_path)
    assert path.read_bytes() == b"" and landed.manifest_rows == 0
    assert json.loads(path.with_name(path.name + ".ok").read_text(encoding="utf-8"))["rows"] == 0
    assert parse_batch(path, as_jsonl(contract), landed.batch_id).num_rows == 0
    assert http_api.read_cursor("appeals") is None


def test_an_open_interval_is_not_landed() -> None:
    now = datetime.now(http_api.LOCAL_TZ)
    with pytest.raises(SourceNotReady):
        http_api.land_http_api(
            get_contract("appeals"), now - timedelta(minutes=5), now + timedelta(minutes=10)
        )


def test_the_cursor_only_moves_forward() -> None:
    assert http_api.read_cursor("appeals") is None
    assert http_api.advance_cursor("appeals", "2026-11-01 09:00:00") == "2026-11-01 09:00:00"
    assert http_api.advance_cursor("appeals", "2026-11-01 08:00:00") == "2026-11-01 09:00:00"  # a backfill
    # 08:30 local time: earlier, though its text sorts after "2026-11-01 09:00:00"
    assert http_api.advance_cursor("appeals", "2026-11-01T00:30:00+00:00") == "2026-11-01 09:00:00"
    assert http_api.advance_cursor("appeals", "2026-11-01 10:00:00") == "2026-11-01 10:00:00"
    assert http_api.read_cursor("appeals") == "2026-11-01 10:00:00"
    stored = json.loads(http_api.cursor_file().read_text(encoding="utf-8"))
    assert stored["appeals"]["value"] == "2026-11-01 10:00:00"
