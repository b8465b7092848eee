"""Retention, daily: purge landing copies and person-level raw rows past their contract's window.

Reads: every contract's `retention` declaration, audit.batch_ledger (when each batch was loaded or
rejected). Deletes: `landing/<source>/<batch>/` (plaintext producer files) and `work/<batch>/` a
window after the batch's ledger record, never a batch still being processed; raw rows past their
window where person-level rows expire (telecom stays: 30 days). Writes: audit.purge_log, one row per
removal; a rerun for the same date removes and logs nothing. The ledger keeps its records.
Logic: community_dw.retention; tasks: community_dw.orchestration.retention.
Airflow DAG file: the DAG comes from community_dw.orchestration.local_cron_dag.
"""

from community_dw.orchestration import local_cron_dag
from community_dw.orchestration.retention import retention_tasks

# 03:30 local, after the daily extracts of the day before have landed and loaded.
dag = local_cron_dag("retention", "30 3 * * *", ["retention", "privacy", "audit"], __doc__, retention_tasks)
