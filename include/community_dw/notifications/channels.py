"""How a message leaves: Airflow notifiers, one per channel, and the message they carry.

E-mail goes through the SMTP provider's `SmtpNotifier` (connection of the `email` channel, default
`cdw_smtp`), a webhook through `WebhookNotifier`, a small `BaseNotifier` that POSTs the message as JSON
to an http connection. Both are called with every field given, so nothing in a message is rendered
as a Jinja template (a rejection message with braces stays text).

One message per recipient and run holds all its events; its digest (sha256 over the recipient,
subject and events as canonical JSON) is printed in it and kept in `audit.notifications`, so an
auditor can match what was received with what was recorded.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from community_dw.notifications.events import OPEN, RESOLVED

if TYPE_CHECKING:
    from community_dw.notifications.events import Event
    from community_dw.notifications.recipients import Contact, Recipients

PAYLOAD_SCHEMA = "community_dw.notification/1"
_NOUNS = {
    "crowd_alert": ("crowd alert", "crowd alerts"),
    "appeal_response_overdue": ("ticket past its response SLA", "tickets past their response SLA"),
    "appeal_resolution_overdue": ("ticket past its resolution SLA", "tickets past their resolution SLA"),
    "delivery_late": ("late delivery", "late deliveries"),
    "batch_rejected": ("rejected batch", "rejected batches"),
}


class WebhookNotifier(BaseNotifier):
    """POST a JSON payload to an Airflow http connection (its host, port and schema) at `endpoint`."""

    template_fields = ()

    def __init__(
        self, *, http_conn_id: str, payload: dict[str, Any], endpoint: str = "/", timeout: float = 10
    ):
        super().__init__()
        self.http_conn_id = http_conn_id
        self.payload = payload
        self.endpoint = endpoint
        self.timeout = timeout

    def notify(self, context) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        HttpHook(method="POST", http_conn_id=self.http_conn_id).run(
            endpoint=self.endpoint,
            json=self.payload,
            headers={"X-CDW-Digest": self.payload["digest"]},
            extra_options={"timeout": self.timeout, "check_response": True},
        )


@dataclass(frozen=True)
class Message:
    recipient: Contact
    subject: str
    events: tuple[Event, ...]
    digest: str
    text: str

    def payload(self) -> dict[str, Any]:
        return {
            "schema": PAYLOAD_SCHEMA,
            "recipient": str(self.recipient),
            "subject": self.subject,
            "digest": self.digest,
            "events": [e.as_dict() for e in self.events],
            "text": self.text,
        }


def _summary(events: tuple[Event, ...]) -> str:
    opened = Counter(e.kind for e in events if e.state == OPEN)
    parts = [f"{n} {_NOUNS[kind][n != 1]}" for kind, n in opened.items()]
    resolved = sum(e.state == RESOLVED for e in events)
    if resolved:
        parts.append(f"{resolved} resolved")
    return ", ".join(parts)


def compose(recipient: Contact, events: list[Event]) -> Message:
    ordered = tuple(sorted(events, key=lambda e: (e.kind, e.key, e.state != OPEN)))
    subject = f"[community-dw] {_summary(ordered)}"
    canonical = json.dumps(
        {"recipient": str(recipient), "subject": subject, "events": [e.as_dict() for e in ordered]},
        ensure_ascii=False,
        sort_keys=True,
        default=str,
    )
    digest = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    lines = [subject, ""]
    for event in ordered:
        lines.append(("RESOLVED: " if event.state == RESOLVED else "") + event.title)
        lines += [f"    {name}: {value}" for name, value in event.facts.items() if value is not None]
        lines.append("")
    lines.append(f"Message digest {digest} (kept in audit.notifications).")
    return Message(recipient, subject, ordered, digest, "\n".join(lines))


def send(message: Message, recipients: Recipients) -> None:
    """Hand the message to its channel's notifier; raises if the server refuses it."""
    channel = recipients.channel(message.recipient.channel)
    if message.recipient.channel == "email":
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        SmtpNotifier(
            to=message.recipient.address,
            from_email=channel.get("from", "community-dw@localhost"),
            subject=message.subject,
            html_content=f"<pre>{html.escape(message.text)}</pre>",
            smtp_conn_id=channel.get("conn_id", "cdw_smtp"),
            custom_headers={"X-CDW-Digest": message.digest},
        ).notify({})
    else:
        WebhookNotifier(
            http_conn_id=message.recipient.address,
            payload=message.payload(),
            endpoint=channel.get("endpoint", "/"),
        ).notify({})
