"""docker-compose.yaml's CeleryExecutor topology as local processes (`make airflow-distributed`).

    api-server · scheduler · dag-processor · triggerer · celery worker-a · celery worker-b
    Airflow metadata and Celery results: PostgreSQL   Celery broker: Redis
    batches between tasks: the staging store (CDW_STAGING_URL; default file://<data dir>/work)
    warehouse: CDW_WAREHOUSE_URL (a PostgreSQL owner's URL: declared, then used through the pipeline's
               login; unset: the DuckDB file, whose writers queue for one pool slot)

Each component is Airflow's own command in a process group of its own, started with the same settings
the compose file gives its containers (`environment`). Servers are named by Airflow's own variables
when set (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, AIRFLOW__CELERY__BROKER_URL), else this machine's
PostgreSQL and Redis on localhost; the metadata database is created when missing. The workers'
Celery names are CDW_CELERY_WORKERS (default worker-a,worker-b). Ctrl-C (or SIGTERM)
stops every component within 10 s; so does a service's exit, while a worker may die and the others
carry on. Logs: one file per component under <Airflow home>/components/.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from community_dw import airflow_home, processes

log = logging.getLogger(__name__)

DEFAULT_METADATA_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/cdw_airflow"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
WORKERS = ("worker-a", "worker-b")
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")


@dataclass(frozen=True)
class Settings:
    """What the components share: servers, the API's address, the JWT secret, the workers' queue."""

    metadata_url: str = DEFAULT_METADATA_URL
    broker_url: str = DEFAULT_BROKER_URL
    api_port: int = 8080
    queue: str = "default"
    workers: tuple[str, ...] = WORKERS
    worker_concurrency: int = 2
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(64), repr=False)

    @classmethod
    def from_environment(cls) -> Settings:
        env = os.environ
        return cls(
            metadata_url=env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", DEFAULT_METADATA_URL),
            broker_url=env.get("AIRFLOW__CELERY__BROKER_URL", DEFAULT_BROKER_URL),
            api_port=int(env.get("AIRFLOW__API__PORT", "8080")),
            queue=env.get("AIRFLOW__OPERATORS__DEFAULT_QUEUE", "default"),
            worker_concurrency=int(env.get("AIRFLOW__CELERY__WORKER_CONCURRENCY", "2")),
            # Celery refuses a second worker of the same name on one broker: name them per deployment
            workers=tuple(env.get("CDW_CELERY_WORKERS", ",".join(WORKERS)).split(",")),
            jwt_secret=env.get("AIRFLOW__API_AUTH__JWT_SECRET") or secrets.token_urlsafe(64),
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def environment(self) -> dict[str, str]:
        """The settings every component gets (docker-compose.yaml's x-airflow-common, same names)."""
        return {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.metadata_url}",
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            # Celery records which worker ran each task (celery_taskmeta.worker)
            "AIRFLOW__CELERY__EXTRA_CELERY_CONFIG": json.dumps({"result_extended": True}),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
        }


def commands(settings: Settings) -> dict[str, list[str]]:
    """Each component's Airflow command; each worker with its own Celery hostname."""
    airflow = str(processes.venv_bin() / "airflow")
    found = {name: [airflow, name] for name in SERVICES}
    for worker in settings.workers:
        # One machine: the workers share the log folder, so none serves logs (their ports would clash).
        found[worker] = [airflow, "celery", "worker", "--celery-hostname", f"{worker}@%h"]
        found[worker] += ["--queues", settings.queue, "--skip-serve-logs"]
    return found


def ensure_database(metadata_url: str) -> None:
    """Create the metadata database when the PostgreSQL server lacks it."""
    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(metadata_url.replace("+psycopg2", "").replace("+psycopg", ""))
    name = parts.path.lstrip("/")
    server = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    server.autocommit = True
    try:
        with server.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", [name])
            if cur.fetchone() is None:
                cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
                log.info("Created the Airflow metadata database %s", name)
    finally:
        server.close()


def prepare(settings: Settings) -> dict[str, str]:
    """Configure this process for the deployment, migrate its metadata and pools; the components' env."""
    from community_dw.audit_view import local_airflow
    from community_dw.pseudonymize import use_local_key_connection
    from community_dw_tools import pg_demo

    home = airflow_home.configure()
    use_local_key_connection()
    # With a PostgreSQL CDW_WAREHOUSE_URL (its owner's login): declared, granted, and the components
    # log in as the pipeline's own login, as in the demo on PostgreSQL.
    pg_demo.use_postgres()
    # The same local users as `make airflow` (admin, auditor, analyst), their passwords printed
    print(local_airflow.login_help(local_airflow.configure(home), settings.api_url), flush=True)
    os.environ.update(settings.environment())
    ensure_database(settings.metadata_url)
    migrate = subprocess.run(
        [str(processes.venv_bin() / "cdw"), "airflow", "db", "migrate"], env=processes.venv_env()
    )
    if migrate.returncode:
        raise RuntimeError(f"airflow db migrate failed with exit code {migrate.returncode}")
    return processes.venv_env()


def run(settings: Settings | None = None) -> int:
    """Start every component and keep them running until Ctrl-C or SIGTERM, or until a service or the
    last worker exits (a worker that dies is reported, and its tasks are retried on the others)."""
    settings = settings or Settings.from_environment()
    with processes.stop_signals() as received:
        env = prepare(settings)
        logs = Path(os.environ["AIRFLOW_HOME"]) / "components"
        logs.mkdir(parents=True, exist_ok=True)
        started: dict[str, subprocess.Popen] = {}
        try:
            for name, argv in commands(settings).items():
                with (logs / f"{name}.log").open("ab") as out:
                    started[name] = processes.start_group(argv, env, stdout=out, stderr=subprocess.STDOUT)
            print(f"Airflow (CeleryExecutor) on {settings.api_url}; components' logs in {logs}", flush=True)
            print(f"started: {', '.join(f'{n} (pid {p.pid})' for n, p in started.items())}", flush=True)
            lost: set[str] = set()
            while not received:
                exited = {name for name, p in started.items() if p.poll() is not None}
                if exited - set(settings.workers) or exited >= set(settings.workers):
                    print(f"{', '.join(sorted(exited))} exited: stopping the others (see {logs})", flush=True)
                    return 1
                for worker in sorted(exited - lost):  # the others go on, as other hosts' workers would
                    print(
                        f"{worker} exited; {len(settings.workers) - len(exited)} worker(s) left", flush=True
                    )
                lost = exited
                time.sleep(0.5)
            print("Stopping every component", flush=True)
            return 0
        finally:
            processes.stop_groups(list(started.values()), interrupt_twice=True)
