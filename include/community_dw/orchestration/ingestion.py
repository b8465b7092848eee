"""Task groups that ingest one source: wait for the delivery, land it, validate it, load it.

A batch rejected by a critical rule fails its task without retries (retrying cannot fix a bad file) and
names the file, row, column and rule; the rejection is already in the ledger when the task fails.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import chain, task
from airflow.sdk.exceptions import AirflowFailException

from community_dw.contracts import get_contract
from community_dw.orchestration.common import interval_date, raw_asset


def _fail_fast_on_rejection(func, *args, **kwargs):
    from community_dw.errors import BatchRejected

    try:
        return func(*args, **kwargs)
    except BatchRejected as rejection:
        raise AirflowFailException(str(rejection)) from rejection


def file_drop_ingestion(source: str, delivery_timeout: timedelta = timedelta(hours=6)):
    """wait_for_delivery >> land_batch >> validate_batch >> load_batch for a file-drop source."""
    contract = get_contract(source)
    @task.sensor(task_id="wait_for_delivery", poke_interval=300, timeout=delivery_timeout.total_seconds(),
                 mode="reschedule")
    def wait_for_delivery(data_interval_start=None) -> bool:
        from community_dw.landing import delivery_ready

        return delivery_ready(contract, interval_date(data_interval_start))

    @task(task_id="land_batch")
    def land_batch(data_interval_start=None) -> dict:
        from community_dw import ingest

        return _fail_fast_on_rejection(ingest.land, source, interval_date(data_interval_start)).to_dict()

    @task(task_id="validate_batch")
    def validate_batch(landed: dict, run_id=None) -> dict:
        from community_dw import ingest
        from community_dw.landing import LandedBatch

        batch = LandedBatch.from_dict(landed)
        return _fail_fast_on_rejection(ingest.validate, batch, run_id).to_dict()

    @task(task_id="load_batch", outlets=[raw_asset(source)])
    def load_batch(validated: dict, run_id=None) -> dict:
        from community_dw import ingest

        return ingest.load(ingest.ValidatedBatch.from_dict(validated), run_id)

    landed = land_batch()
    chain(wait_for_delivery(), landed, load_batch(validate_batch(landed)))

    return landed
