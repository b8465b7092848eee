"""Airflow wiring shared by the DAG files.

Only `airflow.sdk` and the light parts of this package are imported at DAG-parse time; every task body
imports what it needs (pyarrow, Great Expectations, dbt) when it runs.
"""

from community_dw.orchestration.common import (
    DEFAULT_ARGS,
    LOCAL_TZ,
    ONE_RUN_AT_A_TIME,
    START_DATE,
    WAREHOUSE_WRITER_POOL,
    local_cron_dag,
    raw_asset,
    schedule_for,
    warehouse_writer,
)

__all__ = [
    "DEFAULT_ARGS",
    "LOCAL_TZ",
    "ONE_RUN_AT_A_TIME",
    "START_DATE",
    "WAREHOUSE_WRITER_POOL",
    "local_cron_dag",
    "raw_asset",
    "schedule_for",
    "warehouse_writer",
]
