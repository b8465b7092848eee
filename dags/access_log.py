"""Access log, hourly: pgaudit's record of every read of person-level data (care, vault, raw) by a
person's role, collected into audit.access_log for the auditor's view and the monthly report.

Reads: the PostgreSQL server's csvlog files shipped to CDW_PGAUDIT_LOG_DIR (pgaudit object audit
logging; README: the access log). Writes: audit.access_log (who, when, which relation, how many rows;
never a value), audit.access_log_files (how far each file was read: a rerun adds nothing) and
audit.access_log_collections (each run, or why the log is not available). On DuckDB nothing is
collected. Logic: community_dw.audit_view.access_log.
Airflow DAG file: the DAG comes from community_dw.orchestration.local_cron_dag.
"""

from community_dw.orchestration import local_cron_dag
from community_dw.orchestration.access_log import collect_access_log_task

dag = local_cron_dag("access_log", "7 * * * *", ["audit", "privacy"], __doc__, collect_access_log_task)
