"""Retention, daily: purge landing copies and person-level raw rows past their contract's window.

Reads: every contract's `retention` declaration, audit.batch_ledger (when each batch was loaded or
rejected). Deletes: `landing/<source>/<batch>/` (plaintext producer files) and `work/<batch>/` a
window after the batch's ledger record, never a batch still being processed; raw rows past their
window where person-level rows expire (telecom stays: 30 days). Writes: audit.purge_log, one row per
removal; a rerun for the same date removes and logs nothing. The ledger keeps its records.
Logic: community_dw.retention; tasks: community_dw.orchestration.retention.
"""

from airflow.sdk import DAG, CronTriggerTimetable

from community_dw.orchestration import LOCAL_TZ, ONE_RUN_AT_A_TIME
from community_dw.orchestration.retention import retention_tasks

with DAG(
    dag_id="retention",
    # 03:30 local, after the daily extracts of the day before have landed and loaded.
    schedule=CronTriggerTimetable("30 3 * * *", timezone=LOCAL_TZ),
    tags=["retention", "privacy", "audit"],
    doc_md=__doc__,
    **ONE_RUN_AT_A_TIME,
):
    retention_tasks()
