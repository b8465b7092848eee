"""The CeleryExecutor deployment, really run: `make airflow-distributed` starts Airflow's own components
as separate processes (api-server, scheduler, dag-processor, triggerer, two Celery workers), with this
machine's Redis as the broker and PostgreSQL for Airflow's metadata (a fresh database) and Celery's
results. Every process is in the make command's session and is killed with it, whatever happens.

- `test_ingestion_runs_on_two_celery_workers_and_loads`: the embedded DuckDB warehouse. Two ingestion
  runs are triggered through the REST API (no scheduled runs beside them); their tasks run on both
  workers, hand their batches over through the shared staging store, queue for the DuckDB file's one
  writer slot, and load with a balanced ledger.
- `test_the_scheduler_runs_a_generated_day_into_postgresql`: the production path. The DAGs are
  unpaused and the **scheduler** creates the runs; their sensors wait until the day is delivered into
  the drop folder; Asset events trigger `build_warehouse`; a worker is killed (SIGKILL) in the middle of
  a dbt task and Airflow retries it on the other; then one run is cleared and rerun.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import re
import secrets
import signal
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from community_dw import paths
from community_dw.clock import LOCAL_TZ
from community_dw.orchestration import WAREHOUSE_WRITER_POOL
from community_dw_tools.airflow_api import AirflowApi, deliver, reschedules, wait_until
from community_dw_tools.runner import interval_run_date

from support.processes import (
    free_port,
    kill_session,
    start_session,
    tail,
    wait_http,
    wait_session_gone,
)

pytestmark = [pytest.mark.e2e]

PG = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)
DAY = dt.date(2026, 11, 25)
RUN_ID = "e2e-distributed"
# The generated day the scheduler runs: the three daily file drops (the hourly telecom feed and the
# appeals API, polled every 15 minutes, stay paused), and the warehouse build they trigger.
DAILY_SOURCES = ("population_registry", "health_services", "civil_affairs_assistance")
INGEST_DAGS = [f"ingest_{source}" for source in DAILY_SOURCES]


def _reachable(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=2).close()
        return True
    except OSError:
        return False


def _fresh_database(prefix: str) -> Iterator[str]:
    """A fresh database on this machine's PostgreSQL (its name), dropped afterwards."""
    import psycopg2

    # This machine and CI run both services; a missing one is a broken environment, not a reason to skip.
    if not (_reachable(PG) and _reachable(REDIS)):
        pytest.fail("the distributed tests need PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379")
    name = f"{prefix}_{secrets.token_hex(4)}"
    server = psycopg2.connect(host=PG[0], port=PG[1], user="postgres", dbname="postgres")
    server.autocommit = True
    try:
        with server.cursor() as cur:
            cur.execute(f"create database {name}")
        yield name
        with server.cursor() as cur:
            cur.execute(f"drop database if exists {name} with (force)")
    finally:
        server.close()


@pytest.fixture
def metadata_db():
    """A fresh Airflow metadata database (its SQLAlchemy URL)."""
    for name in _fresh_database("cdw_airflow_e2e"):
        yield f"postgresql+psycopg2://postgres@{PG[0]}:{PG[1]}/{name}"


@pytest.fixture
def warehouse_db():
    """A fresh, empty PostgreSQL database for the warehouse (its owner's URL)."""
    for name in _fresh_database("cdw_warehouse_e2e"):
        yield f"postgresql://postgres@{PG[0]}:{PG[1]}/{name}"


def _query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg2

    with (
        contextlib.closing(psycopg2.connect(url.replace("+psycopg2", ""))) as con,
        con.cursor() as cur,
    ):
        cur.execute(sql, params)
        return cur.fetchall()


@dataclass
class Deployment:
    """`make airflow-distributed` as a user starts it, driven through its REST API as the admin."""

    api: AirflowApi
    metadata_url: str
    workers: list[str]
    log: Path
    components: Path

    def worker_pid(self, worker: str) -> int:
        """The pid of a worker's `airflow celery worker` process (the make log's "started:" line)."""
        found = re.search(rf"{re.escape(worker)} \(pid (\d+)\)", self.log.read_text(errors="replace"))
        assert found, f"no pid for {worker} in:\n{tail(self.log)}"
        return int(found.group(1))

    def metadata(self, sql: str, params: tuple = ()) -> list[tuple]:
        return _query(self.metadata_url, sql, params)

    def task_rows(self, where: str, params: tuple = ()) -> list[tuple]:
        """(dag_id, run_id, task_id, try_number, state, pool, worker, start, end) of each task try."""
        return self.metadata(
            "select h.dag_id, h.run_id, h.task_id, h.try_number, h.state, h.pool, m.worker, "
            "h.start_date, h.end_date from ("
            "  select dag_id, run_id, task_id, try_number, state, pool, external_executor_id, start_date,"
            "         end_date, map_index from task_instance"
            "  union all"
            "  select dag_id, run_id, task_id, try_number, state, pool, external_executor_id, start_date,"
            "         end_date, map_index from task_instance_history) h "
            "left join celery_taskmeta m on m.task_id = h.external_executor_id "
            f"where {where} order by h.start_date",
            params,
        )

    def logs(self, lines: int = 15) -> str:
        return "\n".join(f"--- {p.name}\n{tail(p, lines)}" for p in sorted(self.components.glob("*.log")))

    def wait(self, what: str, done, seconds: float, every: float = 3):
        """wait_until, failing the test with the components' logs' tails."""
        return wait_until(what, done, seconds, every, describe=self.logs)


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
    }


def _forget_queue(queue: str) -> None:
    """Remove what Celery left of the deployment's queue in the shared Redis (its kombu bindings)."""
    import redis

    client = redis.Redis(host=REDIS[0], port=REDIS[1])
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    client.close()


@contextlib.contextmanager
def _deployment(tmp_path: Path, metadata_url: str, **settings: str) -> Iterator[Deployment]:
    """Start `make airflow-distributed`; stop it by Ctrl-C afterwards and check that it went."""
    tag = f"cdw-e2e-{secrets.token_hex(3)}"
    workers = [f"{tag}-a", f"{tag}-b"]
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    log = tmp_path / "make-airflow-distributed.log"
    env = _environment(tmp_path, metadata_url, port, workers) | settings
    make = start_session(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "airflow-distributed"],
        env,
        log,
        cwd=paths.PROJECT_ROOT,
    )
    try:
        wait_http(f"{api}/api/v2/monitor/health", make, log)
        client = AirflowApi.sign_in(api, tmp_path / "airflow")
        yield Deployment(client, metadata_url, workers, log, tmp_path / "airflow" / "components")
    finally:
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C
        interrupted = time.monotonic()
        stopped = wait_session_gone(make.pid, 15)
        print(f"every component gone {time.monotonic() - interrupted:.1f} s after Ctrl-C")
        kill_session(make.pid)
        make.wait(timeout=10)
        _forget_queue(tag)
    assert stopped, f"the deployment outlived Ctrl-C by 15 s:\n{tail(log)}"


@pytest.mark.timeout(300, method="thread")
def test_ingestion_runs_on_two_celery_workers_and_loads(tmp_path, metadata_db):
    from community_dw_tools.synthetic import generate_city

    sources = ("population_registry", "health_services")
    generate_city(
        tmp_path / "data" / "sources", residents=300, days=1, seed=3, defect_rate=0.0, start_date=DAY
    )
    started = time.monotonic()
    # Only the runs the test triggers run: no scheduled runs for today's intervals beside them.
    with _deployment(tmp_path, metadata_db, AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False") as deployment:
        for source in sources:
            deployment.api.set_paused(f"ingest_{source}", False)
            logical_date = interval_run_date(DAY).isoformat()
            deployment.api.call(
                f"dags/ingest_{source}/dagRuns", "POST", {"dag_run_id": RUN_ID, "logical_date": logical_date}
            )
        up = time.monotonic() - started

        def finished() -> dict[str, str] | None:
            states = {s: deployment.api.run_state(f"ingest_{s}", RUN_ID) for s in sources}
            return states if all(state in ("success", "failed") for state in states.values()) else None

        states = deployment.wait("both runs done", finished, 150)
        assert states == dict.fromkeys(sources, "success"), f"{states}\n{deployment.logs()}"
        print(f"deployment up in {up:.0f} s; both runs done {time.monotonic() - started - up:.0f} s later")

        rows = deployment.task_rows("h.run_id = %s", (RUN_ID,))
        assert {row[4] for row in rows} == {"success"} and len(rows) == 5 * len(sources)
        ran_on = {worker.split("@")[0] for *_, worker, _, _ in rows if worker}
        assert ran_on == set(deployment.workers), f"tasks ran on {ran_on}, not on both workers: {rows}"
        writers = sorted((start, end) for *_, pool, _, start, end in rows if pool == WAREHOUSE_WRITER_POOL)
        assert len(writers) == 2 * len(sources)  # validate_batch and load_batch of each run
        assert all(end <= later for (_, end), (later, _) in itertools.pairwise(writers)), (
            f"warehouse writers overlapped on DuckDB: {writers}"
        )

    import duckdb

    with duckdb.connect(str(tmp_path / "data" / "warehouse" / "community.duckdb"), read_only=True) as con:
        ledger = con.execute(
            "select source, status, received_rows, loaded_rows + quarantined_rows from audit.batch_ledger "
            "where run_id = ? order by source",
            [RUN_ID],
        ).fetchall()
    assert [(source, status) for source, status, *_ in ledger] == [(s, "loaded") for s in sorted(sources)]
    assert all(received == counted > 0 for *_, received, counted in ledger), ledger
    staged = [p for p in (tmp_path / "shared-staging").rglob("*") if p.is_file()]
    assert staged == [], f"the staging store kept {staged}"
    assert not (tmp_path / "data" / "work").exists(), "a task staged to the local work folder"


def _kill_tree(pid: int) -> list[int]:
    """SIGKILL a process and everything under it, task processes in groups of their own included: the
    worker's machine going away mid-task."""
    import psutil

    root = psutil.Process(pid)
    tree = [root, *root.children(recursive=True)]
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(tree, timeout=10)
    return [process.pid for process in tree]


def _running_dbt_task_on(deployment: Deployment, worker_pid: int) -> tuple | None:
    """A build_warehouse dbt task running under the given worker process, if one is."""
    import psutil

    tree = {p.pid for p in psutil.Process(worker_pid).children(recursive=True)}
    for ti_id, task_id, run_id, try_number, pid in deployment.metadata(
        "select id, task_id, run_id, try_number, pid from task_instance "
        "where dag_id = 'build_warehouse' and state = 'running' and operator ilike '%%dbt%%'"
    ):
        if pid in tree:
            return ti_id, task_id, run_id, try_number
    return None


@pytest.mark.timeout(900, method="thread")
def test_the_scheduler_runs_a_generated_day_into_postgresql(tmp_path, metadata_db, warehouse_db):
    from community_dw_tools.devserver.receivers import local_receivers
    from community_dw_tools.synthetic import generate_city

    drop = tmp_path / "data" / "sources"
    settings = {
        "CDW_WAREHOUSE_URL": warehouse_db,  # its owner: declared and granted by the deployment
        "CDW_DELIVERY_POKE_SECONDS": "5",
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "5",
        # A worker that stops heartbeating has its task failed (and retried) after 20 s, not 5 minutes
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    }
    started = time.monotonic()
    with local_receivers():  # the notifications' SMTP server and webhook receiver, on localhost
        settings |= {name: value for name, value in os.environ.items() if name.startswith("AIRFLOW_CONN_")}
        with _deployment(tmp_path, metadata_db, **settings) as deployment:
            for dag_id in ("build_warehouse", *INGEST_DAGS):
                deployment.api.set_paused(dag_id, False)
            up = time.monotonic() - started

            # The scheduler creates each source's latest interval (catchup is off); nothing is delivered
            # yet, so every sensor pokes and is rescheduled: the day is dropped in only once each has.
            def waiting_runs() -> dict[str, dict] | None:
                runs = {s: deployment.api.runs(f"ingest_{s}") for s in DAILY_SOURCES}
                waited = reschedules(deployment.metadata_url, "wait_for_delivery")
                if all(len(runs[s]) == 1 and waited.get(f"ingest_{s}") for s in DAILY_SOURCES):
                    return {s: found[0] for s, found in runs.items()}
                return None

            runs = deployment.wait("a waiting scheduled run of each source", waiting_runs, 180)
            assert {run["run_type"] for run in runs.values()} == {"scheduled"}
            days = {
                dt.datetime.fromisoformat(run["data_interval_start"]).astimezone(LOCAL_TZ).date()
                for run in runs.values()
            }
            assert len(days) == 1, runs
            day = days.pop()
            generate_city(tmp_path / "outbox", residents=300, days=1, seed=5, defect_rate=0.0, start_date=day)
            delivered = time.monotonic()
            for source in DAILY_SOURCES:
                deliver(tmp_path / "outbox", drop, source)

            # A worker dies in the middle of a dbt task of the build the loads triggered.
            victim_pid = deployment.worker_pid(deployment.workers[0])
            killed = deployment.wait(
                f"a dbt task running on {deployment.workers[0]}",
                lambda: _running_dbt_task_on(deployment, victim_pid),
                300,
                every=0.5,
            )
            killed_pids = _kill_tree(victim_pid)
            print(f"killed {deployment.workers[0]} (pids {killed_pids}) while it ran {killed[1:]}")

            deployment.wait(
                "the day's runs done",
                lambda: deployment.api.all_done([*INGEST_DAGS, "build_warehouse"]),
                600,
                every=5,
            )
            day_seconds = time.monotonic() - delivered
            for source in DAILY_SOURCES:
                found = deployment.api.runs(f"ingest_{source}")
                assert [(r["dag_run_id"], r["state"]) for r in found] == [
                    (runs[source]["dag_run_id"], "success")
                ], f"{source}: {found}\n{deployment.logs()}"
            builds = deployment.api.runs("build_warehouse")
            assert {run["run_type"] for run in builds} == {"asset_triggered"}, builds
            assert {run["state"] for run in builds} == {"success"}, f"{builds}\n{deployment.logs()}"
            print(
                f"deployment up in {up:.0f} s; the day (3 loads, {len(builds)} builds) done "
                f"{day_seconds:.0f} s after its delivery"
            )

            # Tasks ran on both workers; the killed task failed with its worker and its retry succeeded
            # on the other one.
            tries = deployment.task_rows("h.dag_id like 'ingest_%%' or h.dag_id = 'build_warehouse'")
            ran_on = {worker.split("@")[0] for *_, worker, _, _ in tries if worker}
            assert ran_on == set(deployment.workers), ran_on
            _, task_id, run_id, try_number = killed
            retried = [row for row in tries if row[1] == run_id and row[2] == task_id]
            assert [row[3] for row in retried][-1] > try_number, retried
            assert retried[-1][4] == "success" and retried[-1][6].split("@")[0] == deployment.workers[1]

            counts = _warehouse_counts(warehouse_db)
            # One run cleared and rerun by hand: the same rows, no duplicates.
            deployment.api.set_paused("build_warehouse", True)
            rerun = runs["population_registry"]["dag_run_id"]
            dag = "ingest_population_registry"
            deployment.api.call(f"dags/{dag}/dagRuns/{rerun}/clear", "POST", {"dry_run": False})
            deployment.wait(
                "the cleared run rerun",
                lambda: deployment.api.run_state(dag, rerun) in ("success", "failed"),
                240,
            )
            assert deployment.api.run_state(dag, rerun) == "success"
            assert _warehouse_counts(warehouse_db) == counts

    _assert_a_consistent_warehouse(warehouse_db, counts)


def _warehouse_counts(url: str) -> dict[str, int]:
    relations = [f"raw.{source}" for source in DAILY_SOURCES]
    relations += ["marts.community_population_profile", "care.overdue_visits", "vault.identities"]
    return {relation: _query(url, f"select count(*) from {relation}")[0][0] for relation in relations}


def _assert_a_consistent_warehouse(url: str, counts: dict[str, int]) -> None:
    """The ledger balances per batch, every raw row belongs to a loaded batch once, marts are built."""
    ledger = _query(
        url,
        "select source, status, received_rows, loaded_rows, quarantined_rows from audit.batch_ledger "
        "where status = 'loaded' order by source",
    )
    assert sorted(source for source, *_ in ledger) == sorted(DAILY_SOURCES), ledger
    for source, _, received, loaded, quarantined in ledger:
        assert received == loaded + quarantined > 0, (source, received, loaded, quarantined)
        assert counts[f"raw.{source}"] == loaded, (source, counts, loaded)
    for source in DAILY_SOURCES:
        key = _query(url, f"select count(*) - count(distinct (t.*)) from raw.{source} t")[0][0]
        assert key == 0, f"raw.{source} holds duplicate rows"
    assert counts["marts.community_population_profile"] > 0
    releases = _query(url, "select verdict from audit.release_audits where kind = 'release'")
    assert releases and {verdict for (verdict,) in releases} == {"published"}, releases
