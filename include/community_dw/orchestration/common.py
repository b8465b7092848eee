"""Conventions every DAG shares: owner, retries, time zone, schedules, the raw-table Assets and the
pool that queues the warehouse's writers on DuckDB."""

from __future__ import annotations

import os
from collections.abc import Callable
from urllib.parse import urlsplit

import pendulum
from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, CronTriggerTimetable

from community_dw.clock import LOCAL_TZ_NAME
from community_dw.contracts import Contract

LOCAL_TZ = LOCAL_TZ_NAME  # schedules run in the producers' zone (community_dw.clock)
START_DATE = pendulum.datetime(2026, 11, 1, tz=LOCAL_TZ)
# The first retry waits Airflow's `[core] default_task_retry_delay` (300 s unless the deployment sets
# AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY), each later one twice as long.
DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_exponential_backoff": True,
}
# Every DAG here runs its intervals one at a time from START_DATE, never catching up on its own:
# `DAG(dag_id=..., schedule=..., tags=..., doc_md=__doc__, **ONE_RUN_AT_A_TIME)`.
ONE_RUN_AT_A_TIME = {
    "start_date": START_DATE,
    "catchup": False,
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
}


def local_cron_dag(
    dag_id: str, cron: str, tags: list[str], doc_md: str | None, tasks: Callable[[], object]
) -> DAG:
    """A DAG run at the times of a cron in local time (a trigger timetable: a run is a moment, the
    hour's collection or the month's report, not a data interval), one run at a time; `tasks()` adds
    its tasks. The DAG files of the housekeeping DAGs are then their docstring and this one call."""
    with DAG(
        dag_id=dag_id,
        schedule=CronTriggerTimetable(cron, timezone=LOCAL_TZ),
        tags=tags,
        doc_md=doc_md,
        **ONE_RUN_AT_A_TIME,
    ) as dag:
        tasks()
    return dag


def raw_asset(source: str) -> Asset:
    """The Asset a source's ingestion DAG updates and the warehouse build is scheduled on."""
    return Asset(name=f"raw.{source}", uri=f"cdw://warehouse/raw/{source}", group="raw")


def schedule_for(contract: Contract) -> CronDataIntervalTimetable:
    """A timetable with data intervals in local time, so each run owns exactly one extract."""
    return CronDataIntervalTimetable(contract.schedule, timezone=LOCAL_TZ)


# DuckDB has a single writer: the tasks that write the warehouse file (loads, dbt, the release,
# retention) take a slot of this one-slot pool, so they queue instead of failing on the file's lock.
# `cdw airflow` creates it (community_dw.airflow_home.ensure_pools).
WAREHOUSE_WRITER_POOL = "cdw_warehouse_writer"
WAREHOUSE_WRITER_SLOTS = 1


def warehouse_has_one_writer() -> bool:
    """True unless CDW_WAREHOUSE_URL names a PostgreSQL warehouse (unset: the embedded DuckDB file)."""
    return not urlsplit(os.environ.get("CDW_WAREHOUSE_URL", "")).scheme.startswith("postgres")


def warehouse_writer() -> dict:
    """Operator arguments of a task that writes the warehouse: the writer pool on DuckDB; none on
    PostgreSQL, where such tasks run in parallel. Decided when the DAG is parsed."""
    return {"pool": WAREHOUSE_WRITER_POOL} if warehouse_has_one_writer() else {}
