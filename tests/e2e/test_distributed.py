"""The CeleryExecutor deployment, really run: `make airflow-distributed` starts Airflow's own components
as separate processes (api-server, scheduler, dag-processor, triggerer, two Celery workers), with this
machine's Redis as the broker and PostgreSQL for Airflow's metadata (a fresh database) and Celery's
results. Two ingestion runs of a small generated city are triggered through the REST API; their tasks
run on both workers, hand their batches over through the shared staging store, queue for the DuckDB
warehouse's one writer slot, and the batches load with a balanced ledger.

Only the runs the test triggers run (AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False: no scheduled runs for
today's intervals beside them); the deployment is otherwise what `make airflow-distributed` starts.
Every process is in the make command's session and is killed with it, whatever happens.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import secrets
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from community_dw import paths
from community_dw.orchestration import WAREHOUSE_WRITER_POOL
from community_dw_tools.runner import interval_run_date

from support.processes import (
    free_port,
    get_json,
    kill_session,
    start_session,
    tail,
    wait_http,
    wait_session_gone,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300, method="thread")]

PG = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)
DAY = dt.date(2026, 11, 25)
SOURCES = ("population_registry", "health_services")
RUN_ID = "e2e-distributed"
RUN_SECONDS = 150


def _reachable(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture
def metadata_db():
    """A fresh Airflow metadata database on this machine's PostgreSQL, dropped afterwards."""
    import psycopg2

    # This machine and CI run both services; a missing one is a broken environment, not a reason to skip.
    if not (_reachable(PG) and _reachable(REDIS)):
        pytest.fail("the distributed test needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379")
    name = f"cdw_airflow_e2e_{secrets.token_hex(4)}"
    server = psycopg2.connect(host=PG[0], port=PG[1], user="postgres", dbname="postgres")
    server.autocommit = True
    try:
        with server.cursor() as cur:
            cur.execute(f"create database {name}")
        yield f"postgresql+psycopg2://postgres@{PG[0]}:{PG[1]}/{name}"
        with server.cursor() as cur:
            cur.execute(f"drop database if exists {name} with (force)")
    finally:
        server.close()


def _environment(tmp_path: Path, metadata_url: str, port: int, workers: list[str]) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p and p != venv_bin)
    tag = workers[0].rsplit("-", 1)[0]
    return {
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PATH": path,
        "LANG": "C.UTF-8",
        "CDW_AIRFLOW_HOME": str(tmp_path / "airflow"),
        "CDW_DATA_DIR": str(tmp_path / "data"),
        "CDW_STAGING_URL": (tmp_path / "shared-staging").as_uri(),
        "CDW_PSEUDONYMIZATION_KEY": "distributed-test-key",
        "CDW_CELERY_WORKERS": ",".join(workers),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS[0]}:{REDIS[1]}/0",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",  # two tasks at once: one on each worker
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": tag,  # this deployment's tasks only, on a shared Redis
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    }


def _wait_for_runs(api: str, token: str) -> dict[str, str]:
    deadline = time.monotonic() + RUN_SECONDS
    while True:
        states = {
            source: get_json(f"{api}/api/v2/dags/ingest_{source}/dagRuns/{RUN_ID}", token)["state"]
            for source in SOURCES
        }
        if all(state in ("success", "failed") for state in states.values()) or time.monotonic() > deadline:
            return states
        time.sleep(3)


def _forget_queue(queue: str) -> None:
    """Remove what Celery left of the deployment's queue in the shared Redis (its kombu bindings)."""
    import redis

    client = redis.Redis(host=REDIS[0], port=REDIS[1])
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    client.close()


def _metadata(metadata_url: str, sql: str) -> list[tuple]:
    import psycopg2

    with (
        contextlib.closing(psycopg2.connect(metadata_url.replace("+psycopg2", ""))) as con,
        con.cursor() as cur,
    ):
        cur.execute(sql)
        return cur.fetchall()


def test_ingestion_runs_on_two_celery_workers_and_loads(tmp_path, metadata_db):
    from community_dw_tools.synthetic import generate_city

    generate_city(
        tmp_path / "data" / "sources", residents=300, days=1, seed=3, defect_rate=0.0, start_date=DAY
    )
    tag = f"cdw-e2e-{secrets.token_hex(3)}"
    workers = [f"{tag}-a", f"{tag}-b"]
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    log = tmp_path / "make-airflow-distributed.log"
    started = time.monotonic()
    make = start_session(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "airflow-distributed"],
        _environment(tmp_path, metadata_db, port, workers),
        log,
        cwd=paths.PROJECT_ROOT,
    )
    components = tmp_path / "airflow" / "components"
    try:
        wait_http(f"{api}/api/v2/monitor/health", make, log)
        passwords = json.loads(
            (tmp_path / "airflow" / "simple_auth_manager_passwords.json.generated").read_text()
        )
        body = {"username": "admin", "password": passwords["admin"]}
        token = get_json(f"{api}/auth/token", method="POST", body=body)["access_token"]
        for source in SOURCES:
            dag = f"{api}/api/v2/dags/ingest_{source}"
            for _ in range(60):  # until the DAG processor has stored the DAG
                try:
                    get_json(dag, token)
                    break
                except OSError:
                    time.sleep(2)
            get_json(dag, token, "PATCH", {"is_paused": False})
            logical_date = interval_run_date(DAY).isoformat()
            get_json(f"{dag}/dagRuns", token, "POST", {"dag_run_id": RUN_ID, "logical_date": logical_date})
        up = time.monotonic() - started
        states = _wait_for_runs(api, token)
        ran = time.monotonic() - started - up
        logs = "\n".join(f"--- {p.name}\n{tail(p, 15)}" for p in sorted(components.glob("*.log")))
        assert states == dict.fromkeys(SOURCES, "success"), f"{states}\n{logs}"
        print(f"deployment up in {up:.0f} s; both runs done {ran:.0f} s later")

        rows = _metadata(
            metadata_db,
            "select t.dag_id, t.task_id, t.state, t.pool, m.worker, t.start_date, t.end_date "
            "from task_instance t left join celery_taskmeta m on m.task_id = t.external_executor_id "
            f"where t.run_id = '{RUN_ID}' order by t.start_date",
        )
        assert {state for _, _, state, *_ in rows} == {"success"} and len(rows) == 5 * len(SOURCES)
        ran_on = {worker.split("@")[0] for *_, worker, _, _ in rows if worker}
        assert ran_on == set(workers), f"tasks ran on {ran_on}, not on both workers: {rows}"
        writers = sorted(
            (start, end) for _, _, _, pool, _, start, end in rows if pool == WAREHOUSE_WRITER_POOL
        )
        assert len(writers) == 2 * len(SOURCES)  # validate_batch and load_batch of each run
        assert all(end <= later for (_, end), (later, _) in itertools.pairwise(writers)), (
            f"warehouse writers overlapped on DuckDB: {writers}"
        )
    finally:
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C
        interrupted = time.monotonic()
        stopped = wait_session_gone(make.pid, 15)
        print(f"every component gone {time.monotonic() - interrupted:.1f} s after Ctrl-C")
        kill_session(make.pid)
        make.wait(timeout=10)
        _forget_queue(tag)
    assert stopped, f"the deployment outlived Ctrl-C by 15 s:\n{tail(log)}"

    import duckdb

    with duckdb.connect(str(tmp_path / "data" / "warehouse" / "community.duckdb"), read_only=True) as con:
        ledger = con.execute(
            "select source, status, received_rows, loaded_rows + quarantined_rows from audit.batch_ledger "
            "where run_id = ? order by source",
            [RUN_ID],
        ).fetchall()
    assert [(source, status) for source, status, *_ in ledger] == [(s, "loaded") for s in sorted(SOURCES)]
    assert all(received == counted > 0 for *_, received, counted in ledger), ledger
    staged = [p for p in (tmp_path / "shared-staging").rglob("*") if p.is_file()]
    assert staged == [], f"the staging store kept {staged}"
    assert not (tmp_path / "data" / "work").exists(), "a task staged to the local work folder"
