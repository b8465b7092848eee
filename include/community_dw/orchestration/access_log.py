"""The task that collects pgaudit's log into audit.access_log (community_dw.audit_view.access_log).

It reads the server's shipped csvlog files and writes audit tables on PostgreSQL only; on DuckDB it
says the access log is not available and touches nothing, so it needs no slot of the writer pool.
"""

from __future__ import annotations

from airflow.sdk import task


def collect_access_log_task():
    @task(task_id="collect_access_log")
    def collect_access_log() -> dict:
        from community_dw.audit_view import access_log

        done = access_log.collect_from_environment()
        return {
            "status": done.status,
            "detail": done.detail,
            "files": done.files,
            "lines_read": done.lines_read,
            "reads_added": done.reads_added,
            "service_reads": done.service_reads,
        }

    return collect_access_log()
