"""Freshness: the batches received against the contract's schedule, interval by interval.

A batch id is `<source>/<local interval start>` (see `community_dw.transports`), so the ledger says which
interval each delivery was for. For a source whose producer delivers on a schedule (file drop, object
storage: transports with a sensor), every interval the schedule (`meta.contract.schedule`, cron) opened
in the period, from the source's first batch on and closed by now, is one of:

    on time   a batch was loaded (or loaded with quarantine) and received within one interval of its end
    late      loaded, but received more than one interval after the interval closed (the delay is shown)
    rejected  every delivery for it was refused, so nothing of it is loaded
    missing   no delivery at all

An on-demand API (no sensor) is asked for catch-up windows of any length, and the ledger keeps a window's
start only, so its intervals are not enumerated: it is judged by the age of its newest window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from community_dw.clock import LOCAL_TZ


def interval_start(batch_id: str) -> datetime:
    """The local interval start a batch id names: `src/2026-11-25`, `src/2026-11-25T03`, `src/…T03:15`."""
    stamp = batch_id.split("/", 1)[1]
    for layout in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H", "%Y-%m-%d"):
        try:
            return datetime.strptime(stamp, layout)
        except ValueError:
            continue
    raise ValueError(f"batch id {batch_id!r} does not end in a local interval stamp")


def local_from_utc(value: datetime | None) -> datetime | None:
    """Audit columns are naive UTC; intervals are naive local time."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(LOCAL_TZ).replace(tzinfo=None)


def scheduled_intervals(schedule: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The (start, end) of every interval the cron `schedule` opens in [start, end) that closes by `end`."""
    from croniter import croniter

    intervals = []
    fires = croniter(schedule, start - timedelta(seconds=1))
    current = fires.get_next(datetime)
    while current < end:
        following = fires.get_next(datetime)
        if following > end:
            break
        intervals.append((current, following))
        current = following
    return intervals


@dataclass
class Interval:
    start: datetime
    end: datetime
    state: str  # on time | late | rejected | missing
    received_at: datetime | None = None

    @property
    def delay(self) -> timedelta | None:
        return self.received_at - self.end if self.received_at else None


@dataclass
class SourceFreshness:
    source: str
    schedule: str
    enumerated: bool
    last_interval: datetime | None
    last_received_at: datetime | None
    age: timedelta | None
    intervals: list[Interval] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for i in self.intervals if i.state == state)

    @property
    def findings(self) -> list[Interval]:
        return [i for i in self.intervals if i.state != "on time"]


def judge_source(
    source: str,
    schedule: str,
    scheduled: bool,
    deliveries: list[dict],
    period: tuple[datetime, datetime],
    now: datetime,
) -> SourceFreshness:
    """`deliveries`: ledger rows of the source (batch_id, status, received_at UTC); times local, naive."""
    received: dict[datetime, list[dict]] = {}
    for row in deliveries:
        received.setdefault(interval_start(row["batch_id"]), []).append(row)
    loaded_at = {
        start: min((local_from_utc(r["received_at"]) or now) for r in rows if r["status"] == "loaded")
        for start, rows in received.items()
        if any(r["status"] == "loaded" for r in rows)
    }
    last_interval = max(loaded_at, default=None)
    last_received = max(
        (local_from_utc(r["received_at"]) for r in deliveries if r["received_at"]), default=None
    )
    result = SourceFreshness(
        source=source,
        schedule=schedule,
        enumerated=scheduled,
        last_interval=last_interval,
        last_received_at=last_received,
        age=(now - last_interval) if last_interval else None,
    )
    if not scheduled or not received:
        return result
    start = max(period[0], min(received))
    for begin, end in scheduled_intervals(schedule, start, min(period[1], now)):
        if begin in loaded_at:
            late = loaded_at[begin] - end > end - begin
            result.intervals.append(Interval(begin, end, "late" if late else "on time", loaded_at[begin]))
        elif begin in received:
            result.intervals.append(Interval(begin, end, "rejected"))
        else:
            result.intervals.append(Interval(begin, end, "missing"))
    return result
