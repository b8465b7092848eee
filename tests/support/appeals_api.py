"""The appeals API under test: synthetic ticket versions, the tickets file the development server
serves, and the Airflow connection the client reads (tests/e2e/test_appeals_api*.py).

    def test_x(tickets, versions, monkeypatch):     # fixtures, registered by tests/e2e/conftest.py
        with serve(tickets, token=TOKEN) as server:
            connect(monkeypatch, server)
            ...

`isolated_data` gives a test its own data and landing folders; the appeals modules use it for every
test (`pytestmark = pytest.mark.usefixtures("isolated_data")`).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

TOKEN = "test-bearer-token-0123456789"
BASE = datetime(2026, 11, 1, 8, 0, 0)  # local time (UTC+8), as the feed writes it
TEXTS = ("楼道灯坏了一个多月，请物业维修。", "夜间施工噪音很大，影响休息。", "电梯经常故障停运。")


def api_time(value: datetime) -> str:
    """A timestamp as the feed writes it."""
    return value.strftime("%Y-%m-%d %H:%M:%S")


def make_versions(count: int = 300) -> list[dict]:
    """`count` ticket versions from 08:00 on, two per timestamp (so ticket_id breaks ties)."""
    versions = []
    for i in range(count):
        ticket = f"T20261101{(i * 7919) % 120:05d}"
        updated = BASE + timedelta(seconds=(i // 2) * 97)
        versions.append(
            {
                "ticket_id": ticket,
                "channel": "hotline_12345",
                "category_code": "PROP",
                "description": TEXTS[i % len(TEXTS)],
                "community_code": "330106001001",
                "grid_code": "330106001001001",
                "reporter_phone": "13812345678",
                "reporter_id": None,
                "received_at": api_time(BASE - timedelta(hours=1)),
                "dispatched_at": None,
                "responded_at": None,
                "resolved_at": None,
                "status": "received",
                "satisfaction": None,
                "updated_at": api_time(updated),
            }
        )
    return versions


def expected(versions: list[dict], start: datetime, end: datetime) -> list[dict]:
    """The distinct versions updated in [start, end), in the API's order (updated_at, ticket_id)."""
    unique = {(v["ticket_id"], v["updated_at"]): v for v in versions}
    chosen = [v for v in unique.values() if api_time(start) <= v["updated_at"] < api_time(end)]
    return sorted(chosen, key=lambda v: (v["updated_at"], v["ticket_id"]))


def write_tickets(path: Path, versions: list[dict]) -> Path:
    shuffled = list(versions)
    random.Random(7).shuffle(shuffled)  # the server must order them itself
    path.write_text(json.dumps(shuffled, ensure_ascii=False), encoding="utf-8")
    return path


def connect(monkeypatch: pytest.MonkeyPatch, server, password: str = TOKEN) -> None:
    """Define the Airflow connection the client reads, as a deployment would (JSON form)."""
    conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": server.port,
        "schema": "http",
        "password": password,
    }
    monkeypatch.setenv("AIRFLOW_CONN_CDW_APPEALS_API", json.dumps(conn))


@pytest.fixture
def versions() -> list[dict]:
    return make_versions()


@pytest.fixture
def tickets(tmp_path: Path, versions: list[dict]) -> Path:
    """The versions, shuffled, in the file the development server serves."""
    return write_tickets(tmp_path / "tickets.json", versions)


@pytest.fixture
def isolated_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CDW_LANDING_DIR", str(tmp_path / "landing"))
