"""Monthly data-quality report for the record, on the 1st at 04:00 local, for the month before.

Reads: audit (ledger, quarantine index, GX and dbt results, release audits, purges, reviews). Writes:
<data dir>/reports/audit/data-quality-YYYY-MM.html (self-contained) and .pdf (headless Chromium), with
the period, the generation time and the sha256 of the ledger rows covered. The same figures as the
auditor's view in the Airflow UI. Logic: community_dw.audit_view.report.
Airflow DAG file: the DAG comes from community_dw.orchestration.local_cron_dag.
"""

from community_dw.orchestration import local_cron_dag
from community_dw.orchestration.audit_report import monthly_report_task

# 04:00 local on the 1st, after retention (03:30) and the last daily loads of the month.
dag = local_cron_dag("audit_report", "0 4 1 * *", ["audit", "report"], __doc__, monthly_report_task)
