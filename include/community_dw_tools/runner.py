"""Run the project's DAGs in this process, the way the demo and the end-to-end tests both do.

`run_dag` uses `dag.test()` (Airflow's own test runner: real task execution, SQLite metadata under the
configured Airflow home). `interval_run_date` and `hourly_run_date` give the run date whose inferred data
interval is the day or hour meant, and `appeals_api_server` serves the generated tickets through the
development API server and points the `cdw_appeals_api` connection at it for the duration.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from datetime import date, datetime
from functools import cache

from community_dw import paths

log = logging.getLogger(__name__)

APPEALS_TOKEN_ENV = "CDW_APPEALS_API_TOKEN"
APPEALS_CONN_ENV = "AIRFLOW_CONN_CDW_APPEALS_API"


@cache
def _dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(paths.DAGS_DIR))


def run_dag(dag_id: str, run_after: datetime | None = None, conf: dict | None = None) -> str:
    """Run one DAG through Airflow's test runner and return the run's final state."""
    bag = _dagbag()
    if dag_id not in bag.dags:
        raise RuntimeError(f"DAG {dag_id} not found; import errors: {bag.import_errors}")
    run = bag.dags[dag_id].test(run_after=run_after, logical_date=run_after, run_conf=conf)
    return str(run.state)


def _local(moment: datetime):
    import pendulum

    from community_dw.orchestration import LOCAL_TZ

    return pendulum.instance(moment, tz=LOCAL_TZ)


def interval_run_date(day: date) -> datetime:
    """When the run that owns `day`'s daily extract starts: as the interval [day, day+1) closes.

    A manual or test run infers its data interval as the last complete one before this moment.
    """
    return _local(datetime(day.year, day.month, day.day)).add(days=1)


def hourly_run_date(hour_start: datetime) -> datetime:
    return _local(hour_start).add(hours=1)


@contextmanager
def appeals_api_server(faults=None):
    """Serve the generated tickets on localhost and point the `cdw_appeals_api` connection at it.

    The server injects its realistic faults (429 with Retry-After, a 500, a slow page) unless told otherwise.
    """
    from community_dw_tools.devserver.appeals_api import serve

    token = os.environ.get(APPEALS_TOKEN_ENV, "demo-appeals-token")
    server = serve(paths.sources_dir() / "api" / "appeals" / "tickets.json", token=token, faults=faults)
    previous = os.environ.get(APPEALS_CONN_ENV)
    os.environ[APPEALS_CONN_ENV] = json.dumps(
        {"conn_type": "http", "host": "127.0.0.1", "port": server.port, "schema": "http", "password": token}
    )
    log.info("Appeals API serving on %s (with its realistic 429/500/slow-page faults)", server.url)
    try:
        yield server
    finally:
        server.stop()
        if previous is None:
            os.environ.pop(APPEALS_CONN_ENV, None)
        else:
            os.environ[APPEALS_CONN_ENV] = previous
