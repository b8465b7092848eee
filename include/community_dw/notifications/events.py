"""What is worth telling someone, read from the warehouse: events with a stable key and safe facts.

An event is a condition (a crowd in a grid, a ticket past its SLA, a late or refused delivery) with a
key that stays the same across reruns, retries and backfills, and a state: `open`, or `resolved` once
the condition has ended (the crowd dispersed, the ticket answered, the batch loaded). Its facts are
the only values a message carries, and they are chosen here so nothing identifying leaves: no
pseudonym, reporter, description or person-level row, and every count under the disclosure policy's
k (`community_dw.disclosure.policy`) is written as "fewer than k", never as its value.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from community_dw.audit_view.store import AuditStore
    from community_dw.disclosure.policy import DisclosurePolicy

CROWD_ALERT = "crowd_alert"
RESPONSE_OVERDUE = "appeal_response_overdue"
RESOLUTION_OVERDUE = "appeal_resolution_overdue"
DELIVERY_LATE = "delivery_late"
BATCH_REJECTED = "batch_rejected"
KINDS = (CROWD_ALERT, RESPONSE_OVERDUE, RESOLUTION_OVERDUE, DELIVERY_LATE, BATCH_REJECTED)
OPEN, RESOLVED = "open", "resolved"

# Crowd episodes considered: those alerting within this many hours of the latest delivered hour, so a
# backfill of old months does not page the duty room for crowds long gone.
CROWD_LOOKBACK_HOURS = 24
# Rejections considered: those recorded within this many days (a failed callback is caught up later).
REJECTION_LOOKBACK = timedelta(days=7)
# What a message (and its digest) says of an event, in this order: not its scope and role, which only
# pick the recipients.
MESSAGE_FIELDS = ("kind", "state", "key", "title", "facts")


@dataclass(frozen=True)
class Event:
    kind: str
    key: str  # the condition's identity: the same on every rerun, retry and backfill
    state: str  # open | resolved
    scope: str  # community:<code> | source:<name>; picks the recipients
    role: str  # duty | appeals | data_owner
    title: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def scope_kind(self) -> str:
        return self.scope.partition(":")[0]

    @property
    def scope_name(self) -> str:
        return self.scope.partition(":")[2]

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in MESSAGE_FIELDS}


def count_fact(value: Any, k: int) -> int | str:
    """A count as a message may show it: its value from k up, else a statement that it is under k."""
    if value is None:
        return "withheld"
    if int(value) < k:
        return f"fewer than {k}"
    return int(value)


def _hour(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:00")


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d %H:%M")


# --- crowd alerts -----------------------------------------------------------------------------------


def crowd_events(store: AuditStore, policy: DisclosurePolicy, lookback_hours: int = CROWD_LOOKBACK_HOURS):
    """One event per crowd episode: consecutive delivered hours in which a grid (for one user type) is
    in `crowd_alerts`. Open from its first hour; resolved once a later hour was delivered without it.

    Read from the candidate mart (engineers' schema): the alerts must go out even when the analyst
    release is held back; the facts are then protected here, by the same policy (device counts).
    """
    if not store.has_table("candidate_marts.crowd_alerts"):
        return []
    k = policy.k_for("device")
    [latest] = store.rows("select max(hour_start) as h from intermediate.int_grid_presence_hourly")
    if latest["h"] is None:
        return []
    since = latest["h"] - timedelta(hours=lookback_hours)
    delivered = [
        r["hour_start"]
        for r in store.rows(
            "select distinct hour_start from intermediate.int_grid_presence_hourly where hour_start >= ? "
            "order by hour_start",
            [since],
        )
    ]
    following = dict(pairwise(delivered))
    alerts = store.rows(
        "select community_code, community_name, street_name, grid_code, grid_name, hour_start, user_type, "
        "devices_present, usual_devices, is_baseline_suppressed, excess_ratio, alert_factor "
        "from candidate_marts.crowd_alerts where hour_start >= ? order by grid_code, user_type, hour_start",
        [since],
    )
    by_series: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for alert in alerts:
        by_series[(alert["grid_code"], alert["user_type"])].append(alert)
    events = []
    for (grid, user_type), rows in by_series.items():
        episode: list[dict] = []
        for row in rows:
            if episode and following.get(episode[-1]["hour_start"]) != row["hour_start"]:
                events += _crowd_episode(grid, user_type, episode, following, k)
                episode = []
            episode.append(row)
        events += _crowd_episode(grid, user_type, episode, following, k)
    return events


def _crowd_episode(grid: str, user_type: str, episode: list[dict], following: dict, k: int) -> list[Event]:
    first, last = episode[0], episode[-1]
    ratio = first["excess_ratio"]
    facts = {
        "street": first["street_name"],
        "community_code": first["community_code"],
        "community": first["community_name"],
        "grid_code": grid,
        "grid": first["grid_name"],
        "devices": user_type,
        "hour": _hour(first["hour_start"]),
        "level": count_fact(first["devices_present"], k),
        # the mart withholds a usual level under k (rounded to a multiple of k otherwise)
        "usual_level": f"fewer than {k}"
        if first["is_baseline_suppressed"]
        else count_fact(first["usual_devices"], k),
        "factor": round(float(ratio), 2) if ratio is not None else f"above {first['alert_factor']:g}",
        "alert_factor": float(first["alert_factor"]),
    }
    key = f"{grid}|{user_type}|{first['hour_start']:%Y-%m-%dT%H}"
    where = f"{first['community_name']} {first['grid_name'] or grid}"
    common = {
        "kind": CROWD_ALERT,
        "key": key,
        "scope": f"community:{first['community_code']}",
        "role": "duty",
    }
    events = [Event(state=OPEN, title=f"Crowd in {where} from {facts['hour']}", facts=facts, **common)]
    dispersed = following.get(last["hour_start"])
    if dispersed is not None:
        resolved = facts | {
            "last_alerting_hour": _hour(last["hour_start"]),
            "dispersed_by": _hour(dispersed),
            "peak_level": count_fact(max(r["devices_present"] or 0 for r in episode), k),
        }
        events.append(
            Event(
                state=RESOLVED,
                title=f"Crowd in {where} dispersed by {_hour(dispersed)}",
                facts=resolved,
                **common,
            )
        )
    return events


# --- appeals ----------------------------------------------------------------------------------------

_SLA = {
    RESPONSE_OVERDUE: ("response_due_at", "responded_at", "response_sla_hours", "response"),
    RESOLUTION_OVERDUE: ("resolution_due_at", "resolved_at", "resolution_sla_hours", "resolution"),
}


def appeal_events(store: AuditStore, previously_open: dict[tuple[str, str], dict]) -> list[Event]:
    """Tickets past their response or resolution SLA as of the latest version delivered (open), and
    the ones told of before that have since been answered, resolved or closed (resolved).

    Only the ticket number, category, community and the SLA's times leave: no reporter, description
    or grid (`int_appeal_lifecycle` is person-level; its reporter column is never selected).
    """
    if not store.has_table("intermediate.int_appeal_lifecycle"):
        return []
    tickets = {
        t["ticket_id"]: t
        for t in store.rows(
            "select l.ticket_id, l.category_code, l.community_code, c.community_name, l.status, "
            "l.received_at, l.response_due_at, l.resolution_due_at, l.responded_at, l.resolved_at, "
            "l.response_sla_hours, l.resolution_sla_hours, l.evaluated_at "
            "from intermediate.int_appeal_lifecycle as l "
            "left join intermediate.int_communities as c on l.community_code = c.community_code"
        )
    }
    events = []
    for ticket in tickets.values():
        for kind, (due, reached, sla, what) in _SLA.items():
            overdue = (
                ticket[reached] is None
                and ticket["status"] != "closed"
                and ticket["evaluated_at"] > ticket[due]
            )
            if overdue:
                hours = (ticket["evaluated_at"] - ticket[due]).total_seconds() / 3600
                facts = _ticket_facts(ticket) | {
                    "sla_hours": int(ticket[sla]),
                    "due_at": _stamp(ticket[due]),
                    "hours_overdue": round(hours, 1),
                    "as_of": _stamp(ticket["evaluated_at"]),
                }
                events.append(
                    _ticket_event(
                        kind, OPEN, ticket, f"Ticket {ticket['ticket_id']} past its {what} SLA", facts
                    )
                )
    for (kind, key), told in previously_open.items():
        ticket = tickets.get(key)
        if kind not in _SLA or ticket is None:
            continue
        due, reached, _, what = _SLA[kind]
        if ticket[reached] is not None or ticket["status"] == "closed":
            done = ticket[reached] or ticket["evaluated_at"]
            facts = told | {
                "outcome": "closed" if ticket[reached] is None else f"{what} given",
                "at": _stamp(done),
                "hours_late": round((done - ticket[due]).total_seconds() / 3600, 1),
            }
            title = f"Ticket {key}: {what} given" if ticket[reached] is not None else f"Ticket {key} closed"
            events.append(_ticket_event(kind, RESOLVED, ticket, title, facts))
    return events


def _ticket_facts(ticket: dict) -> dict[str, Any]:
    return {
        "ticket_id": ticket["ticket_id"],
        "category": ticket["category_code"],
        "community_code": ticket["community_code"],
        "community": ticket["community_name"],
        "received_at": _stamp(ticket["received_at"]),
    }


def _ticket_event(kind: str, state: str, ticket: dict, title: str, facts: dict) -> Event:
    return Event(
        kind=kind,
        key=ticket["ticket_id"],
        state=state,
        scope=f"community:{ticket['community_code']}",
        role="appeals",
        title=title,
        facts=facts,
    )


# --- deliveries -------------------------------------------------------------------------------------


def rejection_events(store: AuditStore, source: str, now: datetime) -> list[Event]:
    """Refused deliveries of `source` from the ledger (open), and those whose batch has been loaded
    since (resolved). A rerun refused for the same rule is the same event: the key is the batch, the
    rule and the batch's last load before the refusal (none), so only a refusal after a new load
    (a changed replay) is a new one. The rejection message names positions, never values."""
    from community_dw.redact import redact_text

    rows = store.rows(
        "select r.batch_id, r.file, r.sha256, r.rejection_rule, r.rejection_detail, r.recorded_at, "
        "  (select max(l.recorded_at) from audit.batch_ledger as l where l.source = r.source "
        "     and l.batch_id = r.batch_id and l.status = 'loaded' and l.recorded_at < r.recorded_at) as loaded_before, "
        "  (select min(l.recorded_at) from audit.batch_ledger as l where l.source = r.source "
        "     and l.batch_id = r.batch_id and l.status = 'loaded' and l.recorded_at > r.recorded_at) as loaded_after "
        "from audit.batch_ledger as r where r.source = ? and r.status = 'rejected' and r.recorded_at >= ? "
        "order by r.recorded_at",
        [source, now - REJECTION_LOOKBACK],
    )
    latest: dict[str, dict] = {}
    for row in rows:
        since = row["loaded_before"].isoformat(timespec="seconds") if row["loaded_before"] else "never-loaded"
        latest[f"{row['batch_id']}|{row['rejection_rule']}|{since}"] = row
    events = []
    for key, row in latest.items():
        facts = {
            "source": source,
            "batch_id": row["batch_id"],
            "file": row["file"],
            "sha256": row["sha256"],
            "rule": row["rejection_rule"],
            "message": redact_text(row["rejection_detail"] or "", names=False),
            "refused_at_utc": _stamp(row["recorded_at"]),
        }
        common = {"kind": BATCH_REJECTED, "key": key, "scope": f"source:{source}", "role": "data_owner"}
        events.append(
            Event(
                state=OPEN,
                title=f"{source}: batch {row['batch_id']} rejected ({row['rejection_rule']})",
                facts=facts,
                **common,
            )
        )
        if row["loaded_after"] is not None:
            loaded = facts | {"loaded_at_utc": _stamp(row["loaded_after"])}
            events.append(
                Event(
                    state=RESOLVED, title=f"{source}: batch {row['batch_id']} loaded", facts=loaded, **common
                )
            )
    return events


def late_delivery_event(
    source: str, start: datetime, end: datetime, waited: timedelta, state: str = OPEN
) -> Event:
    """The extract of [start, end) had not arrived when the sensor gave up (open), or has been loaded
    since (resolved: a later run of the same interval loaded it)."""
    facts = {
        "source": source,
        "interval_start": _stamp(start),
        "interval_end": _stamp(end),
        "waited_hours": round(waited.total_seconds() / 3600, 2),
    }
    title = f"{source}: extract for {_stamp(start)} - {_stamp(end)} " + (
        "missing" if state == OPEN else "arrived"
    )
    return Event(
        kind=DELIVERY_LATE,
        key=f"{source}|{start:%Y-%m-%dT%H:%M}",
        state=state,
        scope=f"source:{source}",
        role="data_owner",
        title=title,
        facts=facts,
    )


def facts_json(facts: dict[str, Any]) -> str:
    return json.dumps(facts, ensure_ascii=False, sort_keys=True, default=str)
