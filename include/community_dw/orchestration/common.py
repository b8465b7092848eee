"""Conventions every DAG shares: owner, retries, time zone, schedules and the raw-table Assets."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable

from community_dw.clock import LOCAL_TZ_NAME
from community_dw.contracts import Contract

LOCAL_TZ = LOCAL_TZ_NAME  # schedules run in the producers' zone (community_dw.clock)
START_DATE = pendulum.datetime(2026, 11, 1, tz=LOCAL_TZ)
DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
}


def raw_asset(source: str) -> Asset:
    """The Asset a source's ingestion DAG updates and the warehouse build is scheduled on."""
    return Asset(name=f"raw.{source}", uri=f"cdw://warehouse/raw/{source}", group="raw")


def schedule_for(contract: Contract) -> CronDataIntervalTimetable:
    """A timetable with data intervals in local time, so each run owns exactly one extract."""
    return CronDataIntervalTimetable(contract.schedule, timezone=LOCAL_TZ)
