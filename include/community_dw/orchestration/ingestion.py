"""The tasks that ingest one source, whatever its transport: wait, land, validate, load.

    wait_for_delivery >> land_batch >> validate_batch >> load_batch (emits raw.<source>)

A batch rejected by a critical rule fails its task without retries (retrying cannot fix a bad file) and
names the file, row, column and rule; the rejection is already in the ledger when the task fails.
Sources answered by an API on demand have no sensor: the run starts once its interval has closed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import chain, task
from airflow.sdk.exceptions import AirflowFailException

from community_dw.contracts import get_contract
from community_dw.orchestration.common import local_naive, raw_asset


def _fail_fast_on_rejection(func, *args, **kwargs):
    from community_dw.errors import BatchRejected

    try:
        return func(*args, **kwargs)
    except BatchRejected as rejection:
        raise AirflowFailException(str(rejection)) from rejection


def _interval(data_interval_start: datetime, data_interval_end: datetime) -> tuple[datetime, datetime]:
    return local_naive(data_interval_start), local_naive(data_interval_end)


def _requested_interval(dag_run, data_interval_start, data_interval_end) -> tuple[datetime, datetime]:
    """The run's data interval, or for an API source a catch-up window given in the run's conf.

    `{"interval_start": "2026-11-25T00:00", "interval_end": "2026-11-26T00:00"}` pulls a whole window as
    one batch, e.g. after an outage, instead of one run per 15 minutes.
    """
    conf = (dag_run.conf if dag_run is not None else None) or {}
    if "interval_start" in conf and "interval_end" in conf:
        return datetime.fromisoformat(conf["interval_start"]), datetime.fromisoformat(conf["interval_end"])
    return _interval(data_interval_start, data_interval_end)


def ingestion_tasks(source: str, delivery_timeout: timedelta = timedelta(hours=6)):
    """Wire the ingestion tasks for `source` into the DAG being defined; returns the load task."""
    contract = get_contract(source)

    @task(task_id="land_batch")
    def land_batch(data_interval_start=None, data_interval_end=None, dag_run=None) -> dict:
        from community_dw import ingest

        if contract.transport == "http_api":
            start, end = _requested_interval(dag_run, data_interval_start, data_interval_end)
        else:
            start, end = _interval(data_interval_start, data_interval_end)
        return _fail_fast_on_rejection(ingest.land, source, start, end).to_dict()

    @task(task_id="validate_batch")
    def validate_batch(landed: dict, run_id=None) -> dict:
        from community_dw import ingest
        from community_dw.landing import LandedBatch

        return _fail_fast_on_rejection(ingest.validate, LandedBatch.from_dict(landed), run_id).to_dict()

    @task(task_id="load_batch", outlets=[raw_asset(source)])
    def load_batch(validated: dict, run_id=None) -> dict:
        from community_dw import ingest

        return ingest.load(ingest.ValidatedBatch.from_dict(validated), run_id)

    landed = land_batch()
    loaded = load_batch(validate_batch(landed))
    if contract.transport == "http_api":
        return loaded

    @task.sensor(
        task_id="wait_for_delivery",
        poke_interval=300,
        timeout=delivery_timeout.total_seconds(),
        mode="reschedule",
    )
    def wait_for_delivery(data_interval_start=None, data_interval_end=None) -> bool:
        from community_dw import ingest

        return ingest.delivery_ready(source, *_interval(data_interval_start, data_interval_end))

    chain(wait_for_delivery(), landed)
    return loaded
