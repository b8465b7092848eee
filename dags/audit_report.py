"""Monthly data-quality report for the record, on the 1st at 04:00 local, for the month before.

Reads: audit (ledger, quarantine index, GX and dbt results, release audits, purges, reviews). Writes:
<data dir>/reports/audit/data-quality-YYYY-MM.html (self-contained) and .pdf (headless Chromium), with
the period, the generation time and the sha256 of the ledger rows covered. The same figures as the
auditor's view in the Airflow UI. Logic: community_dw.audit_view.report.
"""

from airflow.sdk import DAG, CronTriggerTimetable

from community_dw.orchestration import LOCAL_TZ, ONE_RUN_AT_A_TIME
from community_dw.orchestration.audit_report import monthly_report_task

with DAG(
    dag_id="audit_report",
    # 04:00 local on the 1st, after retention (03:30) and the last daily loads of the month.
    schedule=CronTriggerTimetable("0 4 1 * *", timezone=LOCAL_TZ),
    tags=["audit", "report"],
    doc_md=__doc__,
    **ONE_RUN_AT_A_TIME,
):
    monthly_report_task()
