"""Acknowledgements: an auditor marks a finding reviewed, with a comment, who and when.

Findings are named by a kind and a key (`rejected_batch` + `<batch id>@<recorded at>`, `anomaly` +
`<source>|<metric>|<batch id>`, …; see `finding_key`). The table is append-only: a second review of the
same finding adds a row and the page shows the newest with the history below it; nothing updates or
deletes a row. Only the view's auditor route writes here (after the auth manager said the user has
the auditor role); on PostgreSQL only `cdw_auditor` is granted INSERT on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from community_dw.clock import utc_now
from community_dw.warehouse.base import ACKNOWLEDGEMENTS_DDL

if TYPE_CHECKING:
    from community_dw.audit_view.store import AuditStore

KINDS = ("rejected_batch", "anomaly", "failing_expectation", "failing_dbt_test", "freshness")
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Acknowledgement:
    finding_kind: str
    finding_key: str
    comment: str
    acknowledged_by: str
    acknowledged_as: str
    acknowledged_at: datetime


def finding_key(*parts: object) -> str:
    return "|".join("" if p is None else str(p) for p in parts)


def acknowledge(store: AuditStore, kind: str, key: str, comment: str, by: str, role: str) -> Acknowledgement:
    """Record one review; the caller has already checked that `by` holds the auditor role."""
    comment = comment.strip()
    if kind not in KINDS:
        raise ValueError(f"unknown finding kind {kind!r}; known: {', '.join(KINDS)}")
    if not key or not comment:
        raise ValueError("an acknowledgement needs the finding's key and a comment")
    if len(comment) > MAX_COMMENT:
        raise ValueError(f"the comment is longer than {MAX_COMMENT} characters")
    ack = Acknowledgement(kind, key, comment, by, role, utc_now())
    store.execute(ACKNOWLEDGEMENTS_DDL)
    store.execute(
        "insert into audit.acknowledgements (finding_kind, finding_key, comment, acknowledged_by,"
        " acknowledged_as, acknowledged_at) values (?, ?, ?, ?, ?, ?)",
        [ack.finding_kind, ack.finding_key, ack.comment, ack.acknowledged_by, role, ack.acknowledged_at],
    )
    return ack


def history(store: AuditStore) -> dict[tuple[str, str], list[Acknowledgement]]:
    """Every review per (kind, key), newest first."""
    if not store.has_table("audit.acknowledgements"):
        return {}
    found: dict[tuple[str, str], list[Acknowledgement]] = {}
    for row in store.rows("select * from audit.acknowledgements order by acknowledged_at desc"):
        ack = Acknowledgement(**row)
        found.setdefault((ack.finding_kind, ack.finding_key), []).append(ack)
    return found
