"""Send each event once per recipient, grouped, and record every message in `audit.notifications`.

The dedup key of a (event, state, recipient) is the sha256 of its kind, key, state and recipient; a
row with it in `audit.notifications` means it was sent, so a rerun, a retry or a backfill that sees
the same condition sends nothing. A message is recorded after its server accepted it: if a send fails,
the task fails after trying the other recipients, and its retry sends only what is still missing.

A resolved follow-up goes to whoever was told of the open condition; one whose open was never sent
goes out only beside its open in the same message (a crowd that came and went between two builds).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from community_dw.clock import utc_now
from community_dw.notifications.events import OPEN, RESOLVED, Event, facts_json
from community_dw.notifications.messages import compose
from community_dw.notifications.recipients import Contact, Recipients
from community_dw.warehouse.base import NOTIFICATIONS_DDL

if TYPE_CHECKING:
    from community_dw.audit_view.store import AuditStore

log = logging.getLogger(__name__)

COLUMNS = (
    "dedup_key",
    "event_kind",
    "event_key",
    "event_state",
    "scope",
    "recipient",
    "subject",
    "facts",
    "message_digest",
    "run_id",
    "sent_at",
)


class NotificationsNotSent(RuntimeError):
    """Some messages were refused; the others were sent and recorded, a retry sends the rest."""


def dedup_key(event: Event, recipient: Contact) -> str:
    return hashlib.sha256(f"{event.kind}|{event.key}|{event.state}|{recipient}".encode()).hexdigest()


def ensure_table(store: AuditStore) -> None:
    store.execute("create schema if not exists audit")
    store.execute(NOTIFICATIONS_DDL)


def told(store: AuditStore, kinds: tuple[str, ...]) -> dict[tuple[str, str], dict]:
    """Open conditions of these kinds someone was told of and nobody has been told are resolved:
    (kind, key) -> the facts last sent about it."""
    ensure_table(store)
    marks = ", ".join("?" for _ in kinds)
    rows = store.rows(
        f"select event_kind, event_key, event_state, facts, sent_at from audit.notifications "
        f"where event_kind in ({marks}) order by sent_at",
        list(kinds),
    )
    opened: dict[tuple[str, str], dict] = {}
    for row in rows:
        key = (row["event_kind"], row["event_key"])
        if row["event_state"] == OPEN:
            opened[key] = json.loads(row["facts"])
        else:
            opened.pop(key, None)
    return opened


@dataclass(frozen=True)
class Plan:
    """What to send: per recipient the events it has not been sent yet."""

    messages: dict[Contact, list[Event]]

    def __bool__(self) -> bool:
        return bool(self.messages)


def plan(store: AuditStore, events: list[Event], recipients: Recipients) -> Plan:
    ensure_table(store)
    keys = sorted({e.key for e in events})
    sent: set[str] = set()
    told_open: dict[tuple[str, str], set[Contact]] = defaultdict(set)
    for chunk in (keys[i : i + 500] for i in range(0, len(keys), 500)):
        marks = ", ".join("?" for _ in chunk)
        for row in store.rows(
            f"select dedup_key, event_kind, event_key, event_state, recipient from audit.notifications "
            f"where event_key in ({marks})",
            chunk,
        ):
            sent.add(row["dedup_key"])
            if row["event_state"] == OPEN:
                told_open[(row["event_kind"], row["event_key"])].add(Contact.parse(row["recipient"]))
    opened_now = {(e.kind, e.key) for e in events if e.state == OPEN}
    messages: dict[Contact, list[Event]] = defaultdict(list)
    for event in _unique(events):
        identity = (event.kind, event.key)
        if event.state == RESOLVED:
            targets = told_open.get(identity) or (
                _configured(event, recipients) if identity in opened_now else ()
            )
        else:
            targets = _configured(event, recipients)
        for contact in targets:
            if dedup_key(event, contact) not in sent:
                messages[contact].append(event)
    # a resolved follow-up alone is only sent where its open was sent before (checked above), or now
    return Plan({c: evs for c, evs in messages.items() if evs})


def _unique(events: list[Event]) -> list[Event]:
    seen: dict[tuple[str, str, str], Event] = {}
    for event in events:
        seen[(event.kind, event.key, event.state)] = event
    return list(seen.values())


def _configured(event: Event, recipients: Recipients) -> tuple[Contact, ...]:
    if event.scope_kind == "community":
        return recipients.for_community(event.scope_name, event.role)
    return recipients.for_source(event.scope_name, event.role)


def deliver(plan: Plan, recipients: Recipients) -> tuple[list[dict], list[str]]:
    """Send every planned message; the audit rows of those accepted, and the failures."""
    from community_dw.notifications.channels import send

    rows, failures = [], []
    for contact, events in sorted(plan.messages.items()):
        message = compose(contact, events)
        try:
            send(message, recipients)
        except Exception as exc:  # every channel's errors: SMTP, HTTP, connection lookup
            log.error("Notification to %s not sent: %s", contact, exc)
            failures.append(f"{contact}: {type(exc).__name__}: {exc}")
            continue
        log.info("Sent %s to %s (%s)", message.subject, contact, message.digest)
        sent_at = utc_now()
        rows += [
            {
                "dedup_key": dedup_key(event, contact),
                "event_kind": event.kind,
                "event_key": event.key,
                "event_state": event.state,
                "scope": event.scope,
                "recipient": str(contact),
                "subject": message.subject,
                "facts": facts_json(event.facts),
                "message_digest": message.digest,
                "sent_at": sent_at,
            }
            for event in message.events
        ]
    return rows, failures


def record(store: AuditStore, rows: list[dict], run_id: str | None) -> None:
    ensure_table(store)
    marks = ", ".join("?" for _ in COLUMNS)
    for row in rows:
        values = row | {"run_id": run_id}
        store.execute(
            f"insert into audit.notifications ({', '.join(COLUMNS)}) values ({marks})",
            [values[c] for c in COLUMNS],
        )
