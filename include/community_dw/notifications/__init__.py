"""Act on what the warehouse sees: tell the people who must act, once, and keep a record.

    build_warehouse  notify_communities task -> notify_warehouse_events(): crowd alerts to each
                     community's duty contact, appeals past their SLA to its appeals contact
    ingest_<source>  DeliveryWatch (`watch`), an Airflow notifier on every task's failure and on load_batch's
                     success (watch_deliveries): a delivery the sensor gave up waiting for and a
                     rejected batch to the source's data owner, and "resolved" once loaded

Events (`events`) carry only safe facts; recipients are declared in one YAML file (`recipients`);
messages (`messages`) go out through Airflow notifiers (`channels`: the SMTP provider's and a webhook),
grouped per recipient, each (event, state, recipient) once, every one recorded in `audit.notifications` (`outbox`).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from community_dw.notifications import events as ev
from community_dw.notifications import outbox
from community_dw.notifications.recipients import load_recipients

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from airflow.sdk import DAG

log = logging.getLogger(__name__)

# Importing the package does not import Airflow (the demo and the CLI read recipients and
# audit.notifications before Airflow is configured); the modules that need it import it themselves.
__all__ = ["notify_warehouse_events", "sent_notifications", "watch_deliveries"]


class _Session:
    """The reading surface the event finders use (rows, execute, has_table; `?` placeholders) over one
    `community_dw.warehouse` session, DuckDB or PostgreSQL."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.session.execute(sql, list(params) if params else None)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.session.execute(sql, list(params) if params else None)

    def has_table(self, relation: str) -> bool:
        return self.session.exists(relation)


@contextmanager
def warehouse_store(role: str | None = None) -> Iterator[_Session]:
    """The warehouse (CDW_WAREHOUSE_URL, else the DuckDB file), committed on exit. On PostgreSQL the
    session takes `role`: the builder's for the build's events, the loader's for the ledger's."""
    from community_dw import warehouse

    with warehouse.connection(role=role or warehouse.LOADER_ROLE) as session:
        yield _Session(session)


def _run(find: Callable[[_Session], list[ev.Event]], run_id: str | None, role: str | None) -> dict[str, Any]:
    """Find events, plan (under one short connection), send (none held), record; raise on failures."""
    recipients = load_recipients()
    with warehouse_store(role) as store:
        found = find(store)
        planned = outbox.plan(store, found, recipients)
    rows, failures = outbox.deliver(planned, recipients) if planned else ([], [])
    if rows:
        with warehouse_store(role) as store:
            outbox.record(store, rows, run_id)
    summary = {
        "events": len(found),
        "messages": len({r["message_digest"] for r in rows}),
        "recipients": sorted({r["recipient"] for r in rows}),
    }
    log.info("Notifications: %s", summary)
    if failures:
        missing = [f for f in failures if "AirflowNotFoundException" in f]
        if missing and len(missing) == len(failures):
            # A channel whose connection is not defined cannot succeed on a retry: fail at once, naming
            # it; nothing was recorded as sent, so the next run sends these messages once it exists.
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(
                "Notifications not sent, a channel's connection is not defined (see README, Notifications): "
                + "; ".join(missing)
            )
        raise outbox.NotificationsNotSent("; ".join(failures))
    return summary


def notify_warehouse_events(run_id: str | None = None) -> dict[str, Any]:
    """After a build: crowd episodes and appeals past their SLAs, each told once, with follow-ups."""
    from community_dw.disclosure.policy import load_policy

    def find(store: _Session) -> list[ev.Event]:
        told = outbox.told(store, (ev.RESPONSE_OVERDUE, ev.RESOLUTION_OVERDUE))
        return ev.crowd_events(store, load_policy()) + ev.appeal_events(store, told)

    from community_dw.warehouse import ENGINEER_ROLE

    return _run(find, run_id, ENGINEER_ROLE)


def watch_delivery(source: str, context: dict[str, Any]) -> dict[str, Any]:
    """What an ingestion task's end means for the data owner: the sensor gave up (late delivery), a
    refusal in the ledger, or a loaded batch that resolves an earlier late or refused delivery."""
    from airflow.sdk.exceptions import AirflowSensorTimeout

    from community_dw.clock import utc_now

    task = context.get("task")
    task_id = getattr(task, "task_id", None)
    start, end = _interval(source, context)

    def find(store: _Session) -> list[ev.Event]:
        found = ev.rejection_events(store, source, utc_now())
        if isinstance(context.get("exception"), AirflowSensorTimeout) and start is not None:
            found.append(ev.late_delivery_event(source, start, end, timedelta(seconds=task.timeout)))
        if task_id == "load_batch" and context.get("exception") is None and start is not None:
            late = ev.late_delivery_event(source, start, end, timedelta(0), ev.RESOLVED)
            told = outbox.told(store, (ev.DELIVERY_LATE,)).get((late.kind, late.key))
            if told is not None:
                found.append(replace(late, facts=told | {"arrived": "loaded"}))
        return found

    return _run(find, context.get("run_id"), None)


def _interval(source: str, context: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """The run's interval as the transport reads it (local wall-clock time)."""
    if context.get("data_interval_start") is None:
        return None, None
    from community_dw.contracts import get_contract
    from community_dw.transports import transport_for

    contract = get_contract(source)
    dag_run = context.get("dag_run")
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
    return transport_for(contract).interval_for_run(
        contract, context["data_interval_start"], context["data_interval_end"], conf
    )


def watch_deliveries(dag: DAG, source: str) -> DAG:
    """Attach DeliveryWatch to the DAG's tasks: every task on failure, load_batch on success too."""
    from community_dw.notifications.watch import DeliveryWatch

    watch = DeliveryWatch(source)
    for task in dag.tasks:
        task.on_failure_callback = [*_callbacks(task.on_failure_callback), watch]
        if task.task_id == "load_batch":
            task.on_success_callback = [*_callbacks(task.on_success_callback), watch]
    return dag


def _callbacks(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def sent_notifications(limit: int = 200) -> list[dict[str, Any]]:
    """The latest notifications recorded in `audit.notifications`, newest first (demo, CLI)."""
    with warehouse_store() as store:
        outbox.ensure_table(store)
        return store.rows(
            "select sent_at, event_kind, event_state, event_key, recipient, subject, message_digest, run_id "
            f"from audit.notifications order by sent_at desc, recipient, event_kind, event_key limit {int(limit)}"
        )
