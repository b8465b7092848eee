"""The tasks that apply retention: one purge task per source contract, one after another.

    purge_<source> >> purge_<next source> >> ...

Each task purges what its contract's `retention` says is past its window as of the run's logical date
(see `community_dw.retention`) and returns what it removed; every removal is also in audit.purge_log.
They run in a chain, and on DuckDB in the warehouse writer pool (`common.warehouse_writer`), because the
DuckDB warehouse has a single writer.
"""

from __future__ import annotations

from airflow.sdk import chain, task

from community_dw.contracts import load_contracts
from community_dw.orchestration.common import warehouse_writer


def _purge_task(source: str):
    @task(task_id=f"purge_{source}", **warehouse_writer())
    def purge(logical_date=None, dag_run=None, run_id=None) -> list[dict]:
        from community_dw import retention

        as_of = logical_date or dag_run.run_after
        return [p.to_dict() for p in retention.purge_source(source, as_of, run_id)]

    return purge()


def retention_tasks():
    """Wire one purge task per contract into the DAG being defined, in a chain; returns the tasks."""
    tasks = [_purge_task(name) for name in load_contracts()]
    chain(*tasks)
    return tasks
