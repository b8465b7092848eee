"""The tasks that ingest one source, whatever its transport.

    wait_for_delivery >> land_batch >> protect_identities >> validate_batch >> load_batch (emits raw.<source>)

`protect_identities` is the privacy step by name: after it, no task sees an original identifier (the
vault pairs travel in an owner-only file). A batch rejected by a critical rule fails its task without
retries (retrying cannot fix a bad file) and names the file, row, column and rule; the rejection is
already in the ledger when the task fails. A transport that answers on demand (an API) has no sensor:
the run starts once its interval has closed. The tasks may run on different workers: the batch travels
between them through the staging store (`community_dw.staging`). On DuckDB, validate_batch and
load_batch take the warehouse writer pool's one slot (`common.warehouse_writer`).
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG, chain, task
from airflow.sdk.exceptions import AirflowFailException

from community_dw.contracts import get_contract
from community_dw.notifications import watch_deliveries
from community_dw.orchestration.common import (
    ONE_RUN_AT_A_TIME,
    raw_asset,
    schedule_for,
    warehouse_writer,
)


def delivery_poke_interval() -> timedelta:
    """How often a sensor looks for its delivery: 5 minutes, or CDW_DELIVERY_POKE_SECONDS (read when the
    DAG is parsed; a deployment that wants deliveries noticed sooner sets it, as the distributed test does)."""
    return timedelta(seconds=float(os.environ.get("CDW_DELIVERY_POKE_SECONDS", "300")))


def _fail_fast_on_rejection(func, *args, **kwargs):
    from community_dw.errors import BatchRejected

    try:
        return func(*args, **kwargs)
    except BatchRejected as rejection:
        raise AirflowFailException(str(rejection)) from rejection


def _transport(source: str):
    from community_dw.transports import transport_for

    return transport_for(get_contract(source))


def ingestion_tasks(source: str, delivery_timeout: timedelta = timedelta(hours=6)):
    """Wire the ingestion tasks for `source` into the DAG being defined; returns the load task."""
    contract = get_contract(source)

    @task(task_id="land_batch")
    def land_batch(data_interval_start=None, data_interval_end=None, dag_run=None, run_id=None) -> dict:
        from community_dw import ingest

        conf = (dag_run.conf if dag_run is not None else None) or {}
        start, end = _transport(source).interval_for_run(
            contract, data_interval_start, data_interval_end, conf
        )
        return _fail_fast_on_rejection(ingest.land, source, start, end, run_id).to_dict()

    @task(task_id="protect_identities")
    def protect_identities(landed: dict, run_id=None) -> dict:
        from community_dw import ingest
        from community_dw.transports.base import LandedBatch

        return _fail_fast_on_rejection(
            ingest.protect_identities, LandedBatch.from_dict(landed), run_id
        ).to_dict()

    # Both write the warehouse: the gate's outcomes (audit.dq_results), then the batch.
    @task(task_id="validate_batch", **warehouse_writer())
    def validate_batch(protected: dict, run_id=None) -> dict:
        from community_dw import ingest

        batch = ingest.ProtectedBatch.from_dict(protected)
        return _fail_fast_on_rejection(ingest.validate, batch, run_id).to_dict()

    @task(task_id="load_batch", outlets=[raw_asset(source)], **warehouse_writer())
    def load_batch(validated: dict, run_id=None) -> dict:
        from community_dw import ingest

        return ingest.load(ingest.ValidatedBatch.from_dict(validated), run_id)

    landed = land_batch()
    loaded = load_batch(validate_batch(protect_identities(landed)))
    if not _transport(source).needs_sensor:
        return loaded

    @task.sensor(
        task_id="wait_for_delivery",
        poke_interval=delivery_poke_interval(),
        timeout=delivery_timeout.total_seconds(),
        mode="reschedule",
    )
    def wait_for_delivery(data_interval_start=None, data_interval_end=None) -> bool:
        from community_dw import ingest

        start, end = _transport(source).interval_for_run(contract, data_interval_start, data_interval_end, {})
        return ingest.delivery_ready(source, start, end)

    chain(wait_for_delivery(), landed)
    return loaded


def ingestion_dag(source: str, doc_md: str | None = None) -> DAG:
    """The DAG `ingest_<source>`: scheduled by its contract, one run per data interval, one at a time.

    A DAG file is then its docstring (what it reads and writes) and one call; everything a source's
    ingestion varies by comes from its contract.
    """
    contract = get_contract(source)
    with DAG(
        dag_id=f"ingest_{source}",
        schedule=schedule_for(contract),
        tags=["ingestion", contract.transport, source],
        doc_md=doc_md,
        **ONE_RUN_AT_A_TIME,
    ) as dag:
        ingestion_tasks(source)
    # The source's data owner hears of a delivery the sensor gave up on and of a rejected batch, once,
    # and again when it is loaded: a notifier on every task's failure and load_batch's success.
    return watch_deliveries(dag, source)
