"""The task that writes the monthly data-quality report (community_dw.audit_view.report).

On DuckDB even a reader must wait for the file's writer, so the task takes the writer pool's slot there.
"""

from __future__ import annotations

from airflow.sdk import task

from community_dw.orchestration.common import warehouse_writer


def monthly_report_task():
    @task(task_id="write_monthly_report", **warehouse_writer())
    def write_monthly_report(logical_date=None, dag_run=None) -> dict:
        from community_dw.audit_view import report
        from community_dw.clock import local_now, to_local

        ran_for = to_local(logical_date or dag_run.run_after).date()
        written = report.write_report(report.month_before(ran_for), local_now().replace(tzinfo=None))
        return {
            "period": str(written.period),
            "html": str(written.html),
            "pdf": str(written.pdf) if written.pdf else None,
            "ledger_rows": written.ledger_rows,
            "ledger_sha256": written.ledger_sha256,
        }

    return write_monthly_report()
