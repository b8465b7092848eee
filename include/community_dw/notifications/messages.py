"""One message per recipient and run, holding all its events, with a digest of its content.

The digest (sha256 over the recipient, subject and events as canonical JSON) is printed in the message
and kept in `audit.notifications`, so an auditor can match what was received with what was recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from community_dw.notifications.events import OPEN, RESOLVED

if TYPE_CHECKING:
    from community_dw.notifications.events import Event
    from community_dw.notifications.recipients import Contact

PAYLOAD_SCHEMA = "community_dw.notification/1"
_NOUNS = {
    "crowd_alert": ("crowd alert", "crowd alerts"),
    "appeal_response_overdue": ("ticket past its response SLA", "tickets past their response SLA"),
    "appeal_resolution_overdue": ("ticket past its resolution SLA", "tickets past their resolution SLA"),
    "delivery_late": ("late delivery", "late deliveries"),
    "batch_rejected": ("rejected batch", "rejected batches"),
}


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
