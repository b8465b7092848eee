"""A running Airflow driven through its REST API, as a user's scripts would: what the distributed tests
and the scheduler-day benchmark use against `make airflow-distributed`.

    api = AirflowApi.sign_in("http://127.0.0.1:8080", airflow_home)   # the local admin's password
    api.set_paused("ingest_population_registry", False)
    wait_until("a run", lambda: api.runs("ingest_population_registry"), seconds=120)

`deliver` drops a generated extract into a drop folder as its producer does: the data, then its manifest.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from community_dw.audit_view.local_airflow import password_file

T = TypeVar("T")


def request_json(url: str, token: str | None = None, method: str = "GET", body: dict | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


@dataclass(frozen=True)
class AirflowApi:
    base: str  # http://host:port
    token: str

    @classmethod
    def sign_in(cls, base: str, airflow_home: Path, user: str = "admin") -> AirflowApi:
        """Sign in as one of the local users `cdw airflow` made (passwords kept in its home)."""
        passwords = json.loads(password_file(airflow_home).read_text())
        body = {"username": user, "password": passwords[user]}
        return cls(base, request_json(f"{base}/auth/token", method="POST", body=body)["access_token"])

    def call(self, path: str, method: str = "GET", body: dict | None = None) -> Any:
        return request_json(f"{self.base}/api/v2/{path}", self.token, method, body)

    def wait_for_dag(self, dag_id: str, seconds: float = 180) -> None:
        """Until the DAG processor has stored the DAG."""

        def stored() -> bool:
            try:
                return bool(self.call(f"dags/{dag_id}"))
            except OSError:
                return False

        wait_until(f"DAG {dag_id} stored", stored, seconds, every=2)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.wait_for_dag(dag_id)
        self.call(f"dags/{dag_id}", "PATCH", {"is_paused": paused})

    def runs(self, dag_id: str) -> list[dict]:
        return self.call(f"dags/{dag_id}/dagRuns?order_by=start_date")["dag_runs"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.call(f"dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str:
        return self.call(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")["state"]

    def queued_asset_events(self, dag_id: str) -> int:
        """Asset events waiting to trigger a run of the DAG (the scheduler has not made it yet)."""
        return self.call(f"dags/{dag_id}/assets/queuedEvents")["total_entries"]

    def all_done(self, dag_ids: list[str]) -> bool:
        """Every run of these DAGs has finished, each DAG has one, and no Asset event waits for another."""
        runs = [self.runs(dag_id) for dag_id in dag_ids]
        finished = all(runs) and all(run["state"] in ("success", "failed") for found in runs for run in found)
        return finished and not any(self.queued_asset_events(dag_id) for dag_id in dag_ids)


def reschedules(metadata_url: str, task_id: str) -> dict[str, int]:
    """dag_id -> how often its runs' `task_id` sensor was rescheduled (poked, not ready), from Airflow's
    metadata database (task_reschedule), which the REST API does not serve."""
    import psycopg

    url = metadata_url.replace("+psycopg2", "").replace("+psycopg", "")
    with psycopg.connect(url) as con:
        rows = con.execute(
            "select t.dag_id, count(*) from task_reschedule r join task_instance t on t.id = r.ti_id "
            "where t.task_id = %s group by t.dag_id",
            [task_id],
        ).fetchall()
    return dict(rows)


def wait_until(
    what: str,
    done: Callable[[], T],
    seconds: float,
    every: float = 3,
    describe: Callable[[], str] = lambda: "",
) -> T:
    """Poll `done()` until it returns something truthy; after `seconds`, raise naming `what`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = done()
        if found:
            return found
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {seconds:.0f} s\n{describe()}")


def deliver(outbox: Path, drop: Path, source: str) -> None:
    """Move a generated file-drop extract of `source` into `drop`: its data files, then its manifest."""
    target = drop / "file_drop" / source
    target.mkdir(parents=True, exist_ok=True)
    files = sorted((outbox / "file_drop" / source).iterdir(), key=lambda p: p.name.endswith(".ok"))
    for file in files:
        shutil.move(file, target / file.name)
