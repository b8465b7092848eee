"""What the auditor's page and the monthly report show, computed from the rows of `audit`.

Batch status comes from the ledger, nowhere else: a batch is `loaded`, `loaded with quarantine` or
`rejected` by its newest ledger record (see `community_dw.ledger`: one `loaded` record per batch, replaced
on a rerun, and a `rejected` record per refused delivery). Per batch the balance is shown as a proof,
from three records written by different steps: the ledger's received = loaded + quarantined, the
quarantine index's own count of held-back rows, and (where the role may read raw) the rows in
`raw.<source>` and `raw.<source>_quarantine` carrying the batch id.

Periods are local calendar days of the batches' intervals (the day the data is for), inclusive.
Nothing here reads a value of a delivered row: counts, rule names, columns and messages only.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from community_dw.audit_view import access_log, bands, findings, freshness

if TYPE_CHECKING:
    from community_dw.audit_view.store import AuditStore

LEDGER_COLUMNS = (
    "source",
    "batch_id",
    "file",
    "sha256",
    "status",
    "received_rows",
    "loaded_rows",
    "quarantined_rows",
    "rejected_rows",
    "rejection_rule",
    "rejection_detail",
    "key_fingerprint",
    "run_id",
    "received_at",
    "recorded_at",
)


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return datetime.combine(self.start, datetime.min.time()), datetime.combine(
            self.end + timedelta(days=1), datetime.min.time()
        )

    def __str__(self) -> str:
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


def batch_status(record: dict[str, Any]) -> str:
    if record["status"] == "rejected":
        return "rejected"
    return "loaded with quarantine" if (record["quarantined_rows"] or 0) > 0 else "loaded"


@dataclass
class Batch:
    """One batch: its newest ledger record, its loaded record (if any) and the proof of its balance."""

    source: str
    batch_id: str
    interval_start: datetime
    records: list[dict[str, Any]]  # every ledger record of the batch, oldest first
    index_rows: int  # rows the quarantine index holds back for it
    raw_loaded: int | None = None  # None: raw not readable by this role
    raw_quarantined: int | None = None

    @property
    def newest(self) -> dict[str, Any]:
        return self.records[-1]

    @property
    def loaded_record(self) -> dict[str, Any] | None:
        return next((r for r in reversed(self.records) if r["status"] == "loaded"), None)

    @property
    def status(self) -> str:
        return batch_status(self.newest)

    @property
    def day(self) -> date:
        return self.interval_start.date()

    @property
    def proof(self) -> dict[str, Any]:
        """The balance as checks with their operands, each True, False or None (not checkable)."""
        loaded = self.loaded_record
        if loaded is None:
            received = self.newest["received_rows"]
            return {"received": received, "loaded": 0, "quarantined": 0, "checks": {}, "balanced": None}
        received, kept, held = loaded["received_rows"], loaded["loaded_rows"], loaded["quarantined_rows"]
        checks = {
            "received = loaded + quarantined": received == kept + held,
            "quarantine index rows = quarantined": self.index_rows == held,
            "raw rows = loaded": None if self.raw_loaded is None else self.raw_loaded == kept,
            "raw quarantine rows = quarantined": None
            if self.raw_quarantined is None
            else self.raw_quarantined == held,
        }
        verdicts = [v for v in checks.values() if v is not None]
        return {
            "received": received,
            "loaded": kept,
            "quarantined": held,
            "checks": checks,
            "balanced": all(verdicts),
        }


@dataclass
class Figures:
    period: Period
    sources: list[str]
    generated_at: datetime
    batches: list[Batch]
    ledger_rows: list[dict[str, Any]]  # every ledger record of the period, in canonical order
    timeline: dict[str, list[dict[str, Any]]]
    freshness: list[freshness.SourceFreshness]
    reasons: dict[str, dict[date, Counter]]
    anomalies: list[dict[str, Any]]
    band_series: dict[str, list[dict[str, Any]]]
    expectations: dict[str, list[dict[str, Any]]]
    expectation_table: list[dict[str, Any]]
    dbt_daily: dict[str, list[dict[str, Any]]]
    dbt_table: list[dict[str, Any]]
    rejections: list[dict[str, Any]]
    release_audits: list[dict[str, Any]]
    purges: list[dict[str, Any]]
    acknowledgements: dict[tuple[str, str], list[findings.Acknowledgement]] = field(default_factory=dict)
    access: access_log.AccessLogFigures | None = None  # reads of person-level data (PostgreSQL + pgaudit)

    @property
    def ledger_sha256(self) -> str:
        return ledger_sha256(self.ledger_rows)

    def totals(self) -> dict[str, int]:
        sums: Counter = Counter()
        for days in self.timeline.values():
            for day in days:
                sums.update({k: v for k, v in day.items() if k != "day"})
        return dict(sums)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return value


def ledger_sha256(rows: list[dict[str, Any]]) -> str:
    """sha256 of the ledger rows as JSON lines: the named columns in order, timestamps ISO to the µs,
    rows sorted by (source, batch_id, recorded_at, status). Anyone with read access to the ledger can
    recompute it (`community_dw.audit_view.figures.ledger_sha256`) and compare it with a report's."""
    ordered = sorted(rows, key=lambda r: (r["source"], r["batch_id"], str(r["recorded_at"]), r["status"]))
    digest = hashlib.sha256()
    for row in ordered:
        line = json.dumps([_canonical(row[c]) for c in LEDGER_COLUMNS], ensure_ascii=False)
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()


def _local_day(value: datetime | None) -> date | None:
    local = freshness.local_from_utc(value)
    return local.date() if local else None


def _ledger(store: AuditStore, sources: list[str]) -> list[dict[str, Any]]:
    rows = store.rows(f"select {', '.join(LEDGER_COLUMNS)} from audit.batch_ledger order by recorded_at")
    return [r for r in rows if r["source"] in sources]


def _raw_counts(
    store: AuditStore, source: str, batch_id: str | None = None
) -> tuple[dict[str, int] | None, dict[str, int] | None]:
    """Rows per batch id in raw.<source> and its quarantine table; None where the role may not read raw."""
    where, params = ("where _batch_id = ?", [batch_id]) if batch_id else ("", [])
    counts = []
    for table in (f"raw.{source}", f"raw.{source}_quarantine"):
        found = store.try_rows(
            f"select _batch_id as batch_id, count(*) as n from {table} {where} group by _batch_id", params
        )
        counts.append(None if found is None else {r["batch_id"]: r["n"] for r in found})
    return counts[0], counts[1]


def _batches(store: AuditStore, ledger: list[dict[str, Any]], sources: list[str]) -> list[Batch]:
    index_rows = {
        (r["source"], r["batch_id"]): r["n"]
        for r in store.rows(
            "select source, batch_id, count(distinct source_row) as n from audit.quarantine_index"
            " group by source, batch_id"
        )
    }
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in ledger:
        grouped[(row["source"], row["batch_id"])].append(row)
    raw = {source: _raw_counts(store, source) for source in sources}
    batches = []
    for (source, batch_id), records in grouped.items():
        loaded, held = raw[source]
        batches.append(
            Batch(
                source=source,
                batch_id=batch_id,
                interval_start=freshness.interval_start(batch_id),
                records=sorted(records, key=lambda r: r["recorded_at"]),
                index_rows=index_rows.get((source, batch_id), 0),
                raw_loaded=None if loaded is None else loaded.get(batch_id, 0),
                raw_quarantined=None if held is None else held.get(batch_id, 0),
            )
        )
    return sorted(batches, key=lambda b: (b.source, b.interval_start))


def _timeline(batches: list[Batch], period: Period) -> dict[str, list[dict[str, Any]]]:
    """Per source and day: batches by ledger status, and rows received, loaded, quarantined, rejected."""
    days: dict[str, dict[date, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for batch in batches:
        if batch.day not in period:
            continue
        day = days[batch.source][batch.day]
        day["batches"] += 1
        day[f"batches {batch.status}"] += 1
        loaded = batch.loaded_record
        if loaded:
            day["rows received"] += loaded["received_rows"] or 0
            day["rows loaded"] += loaded["loaded_rows"] or 0
            day["rows quarantined"] += loaded["quarantined_rows"] or 0
        for record in batch.records:
            if record["status"] == "rejected":
                day["deliveries rejected"] += 1
                day["rows received"] += record["received_rows"] or 0
                day["rows rejected"] += record["rejected_rows"] or 0
    keys = (
        "batches",
        "batches loaded",
        "batches loaded with quarantine",
        "batches rejected",
        "deliveries rejected",
        "rows received",
        "rows loaded",
        "rows quarantined",
        "rows rejected",
    )
    return {
        source: [{"day": d} | {k: per_day[d][k] for k in keys} for d in sorted(per_day)]
        for source, per_day in sorted(days.items())
    }


def _anomalies(batches: list[Batch], period: Period) -> tuple[list[dict], dict[str, list[dict]]]:
    """Rows received and quarantine rate per source and day, each judged against its own 14-day band.

    Days, not batches, are the points (Elementary's default time bucket): an hourly source's volume
    follows the day's rhythm, and a band learned from consecutive hours would flag every morning.
    """
    flagged, series = [], {}
    for source in sorted({b.source for b in batches}):
        received: Counter = Counter()
        held: Counter = Counter()
        for batch in batches:
            record = batch.loaded_record
            if batch.source == source and record:
                received[batch.day] += record["received_rows"] or 0
                held[batch.day] += record["quarantined_rows"] or 0
        metrics = {
            "rows received": {d: float(n) for d, n in received.items()},
            "quarantine rate": {d: held[d] / n for d, n in received.items() if n},
        }
        for metric, values in metrics.items():
            points = []
            judged_points = bands.judge(
                [(datetime.combine(d, datetime.min.time()), v) for d, v in values.items()]
            )
            for judged in judged_points:
                if judged.at.date() not in period:
                    continue
                point = {
                    "source": source,
                    "metric": metric,
                    "day": judged.at.date(),
                    "value": judged.value,
                    "mean": judged.mean,
                    "low": judged.low,
                    "high": judged.high,
                    "training_points": judged.training_points,
                    "anomalous": judged.anomalous,
                }
                points.append(point)
                if judged.anomalous:
                    flagged.append(point)
            series[f"{source} · {metric}"] = points
    return flagged, series


def _reasons(store: AuditStore, batches: list[Batch], period: Period) -> dict[str, dict[date, Counter]]:
    day_of = {(b.source, b.batch_id): b.day for b in batches}
    reasons: dict[str, dict[date, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for row in store.rows(
        "select source, batch_id, reason_code, count(distinct source_row) as n from audit.quarantine_index"
        " group by source, batch_id, reason_code"
    ):
        day = day_of.get((row["source"], row["batch_id"]))
        if day is not None and day in period:
            reasons[row["source"]][day][row["reason_code"]] += row["n"]
    return {s: dict(sorted(d.items())) for s, d in sorted(reasons.items())}


def _expectations(store: AuditStore, batches: list[Batch], period: Period):
    """GX pass rates per source and day, and per expectation sorted by failure rate (as Elementary)."""
    day_of = {(b.source, b.batch_id): b.day for b in batches}
    daily: dict[str, dict[date, Counter]] = defaultdict(lambda: defaultdict(Counter))
    per_rule: dict[tuple, dict[str, Any]] = {}
    rows = store.rows(
        "select source, batch_id, expectation_type, column_name, severity, reason_code, success,"
        " unexpected_count, element_count, validated_at from audit.dq_results order by validated_at"
    )
    for row in rows:
        day = day_of.get((row["source"], row["batch_id"]))
        if day is None or day not in period:
            continue
        daily[row["source"]][day]["run"] += 1
        daily[row["source"]][day]["passed"] += bool(row["success"])
        key = (row["source"], row["expectation_type"], row["column_name"], row["reason_code"])
        rule = per_rule.setdefault(
            key,
            {
                "source": row["source"],
                "expectation": row["expectation_type"],
                "column": row["column_name"],
                "severity": row["severity"],
                "reason_code": row["reason_code"],
                "runs": 0,
                "failures": 0,
                "unexpected": 0,
            },
        )
        rule["runs"] += 1
        rule["failures"] += not row["success"]
        rule["unexpected"] += row["unexpected_count"] or 0
        rule["last_success"] = bool(row["success"])
        rule["last_batch"] = row["batch_id"]
    series = {
        source: [
            {"day": d, "run": c["run"], "passed": c["passed"], "pass_rate": c["passed"] / c["run"]}
            for d, c in sorted(per_day.items())
        ]
        for source, per_day in sorted(daily.items())
    }
    table = sorted(
        per_rule.values(), key=lambda r: (-r["failures"] / r["runs"], r["source"], r["expectation"])
    )
    for rule in table:
        rule["failure_rate"] = rule["failures"] / rule["runs"]
    return series, table


def _model_of(attached_to: str | None) -> str:
    nodes = [n for n in (attached_to or "").split(",") if n]
    return ", ".join(n.split(".")[-1] for n in nodes) or "(none)"


def _dbt_tests(store: AuditStore, period: Period):
    """dbt test results per model and day, and per test sorted by failure rate."""
    if not store.has_table("audit.dbt_test_results"):
        return {}, []
    daily: dict[str, dict[date, Counter]] = defaultdict(lambda: defaultdict(Counter))
    per_test: dict[tuple, dict[str, Any]] = {}
    for row in store.rows("select * from audit.dbt_test_results order by executed_at"):
        day = _local_day(row["executed_at"])
        if day not in period:
            continue
        model = _model_of(row["attached_to"])
        failed = row["status"] not in ("pass", "success")
        daily[model][day]["run"] += 1
        daily[model][day]["failed"] += failed
        test = per_test.setdefault(
            (row["test_name"], model),
            {"test": row["test_name"], "model": model, "runs": 0, "failures": 0},
        )
        test["runs"] += 1
        test["failures"] += failed
        test["last_status"] = row["status"]
        test["last_message"] = row["message"]
        test["last_invocation"] = row["invocation_id"]
    series = {
        model: [{"day": d, "run": c["run"], "failed": c["failed"]} for d, c in sorted(per_day.items())]
        for model, per_day in sorted(daily.items())
    }
    table = sorted(per_test.values(), key=lambda t: (-t["failures"] / t["runs"], t["model"], t["test"]))
    for test in table:
        test["failure_rate"] = test["failures"] / test["runs"]
    return series, table


def _dated_rows(store: AuditStore, relation: str, column: str, period: Period) -> list[dict[str, Any]]:
    if not store.has_table(relation):
        return []
    rows = store.rows(f"select * from {relation} order by {column} desc")
    return [r for r in rows if _local_day(r[column]) in period]


def compute(
    store: AuditStore,
    period: Period,
    contracts: dict[str, Any],
    now: datetime,
    source: str | None = None,
) -> Figures:
    """Every figure of the view for `period` (and one source, if named); `now` is local, naive."""
    sources = [source] if source else sorted(contracts)
    ledger = _ledger(store, sources)
    batches = _batches(store, ledger, sources)
    in_period = [b for b in batches if b.day in period]
    anomalies, band_series = _anomalies(batches, period)
    expectations, expectation_table = _expectations(store, batches, period)
    dbt_daily, dbt_table = _dbt_tests(store, period) if source is None else ({}, [])
    fresh = [
        freshness.judge_source(
            name,
            contracts[name].schedule,
            _scheduled(contracts[name]),
            [r for r in ledger if r["source"] == name],
            period.bounds,
            now,
        )
        for name in sources
    ]
    rejections = [
        r | {"interval_start": b.interval_start}
        for b in in_period
        for r in b.records
        if r["status"] == "rejected"
    ]
    purges = _dated_rows(store, "audit.purge_log", "purged_at", period)
    return Figures(
        period=period,
        sources=sources,
        generated_at=now,
        batches=in_period,
        ledger_rows=[r for b in in_period for r in b.records],
        timeline=_timeline(batches, period),
        freshness=fresh,
        reasons=_reasons(store, batches, period),
        anomalies=anomalies,
        band_series=band_series,
        expectations=expectations,
        expectation_table=expectation_table,
        dbt_daily=dbt_daily,
        dbt_table=dbt_table,
        rejections=sorted(rejections, key=lambda r: r["recorded_at"], reverse=True),
        release_audits=_dated_rows(store, "audit.release_audits", "audited_at", period)
        if source is None
        else [],
        purges=[p for p in purges if source is None or p["source"] == source],
        acknowledgements=findings.history(store),
        access=access_log.summarize(store, period),
    )


def _scheduled(contract: Any) -> bool:
    from community_dw.transports import transport_for

    return transport_for(contract).needs_sensor


def default_period(store: AuditStore, today: date, days: int = 31) -> Period:
    """The `days` ending on the newest day in the ledger, a batch's interval day or the day it was
    recorded (`today` while there is none), so a backfilled or demo history opens on its own days."""
    rows = store.rows("select distinct batch_id, recorded_at from audit.batch_ledger")
    seen = [freshness.interval_start(r["batch_id"]).date() for r in rows]
    seen += [_local_day(r["recorded_at"]) for r in rows]
    end = max(seen, default=today)
    return Period(end - timedelta(days=days - 1), end)


def batch_detail(store: AuditStore, batch_id: str) -> dict[str, Any] | None:
    """One batch's drill-down: its ledger records, reason counts and expectation results."""
    ledger = store.rows(
        f"select {', '.join(LEDGER_COLUMNS)} from audit.batch_ledger where batch_id = ? order by recorded_at",
        [batch_id],
    )
    if not ledger:
        return None
    reasons = store.rows(
        "select reason_code, column_name, rule, count(distinct source_row) as rows_held from audit.quarantine_index"
        " where batch_id = ? group by reason_code, column_name, rule order by rows_held desc, reason_code",
        [batch_id],
    )
    expectations = store.rows(
        "select run_id, expectation_type, column_name, severity, reason_code, success, observed_value,"
        " unexpected_count, element_count, validated_at from audit.dq_results where batch_id = ?"
        " order by validated_at desc, expectation_type, column_name",
        [batch_id],
    )
    newest_run = expectations[0]["validated_at"] if expectations else None
    source = ledger[0]["source"]
    index_rows = store.rows(
        "select count(distinct source_row) as n from audit.quarantine_index where batch_id = ?", [batch_id]
    )[0]["n"]
    loaded, held = _raw_counts(store, source, batch_id)
    batch = Batch(
        source=source,
        batch_id=batch_id,
        interval_start=freshness.interval_start(batch_id),
        records=ledger,
        index_rows=index_rows,
        raw_loaded=None if loaded is None else loaded.get(batch_id, 0),
        raw_quarantined=None if held is None else held.get(batch_id, 0),
    )
    return {
        "batch": batch,
        "reasons": reasons,
        "expectations": [e for e in expectations if e["validated_at"] == newest_run],
        "earlier_runs": len({e["validated_at"] for e in expectations}) - (1 if expectations else 0),
    }
