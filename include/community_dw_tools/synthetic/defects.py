"""Deliberate row-level defects, and the sidecar that says where they are.

Validation is only testable against known answers: every defect injected into a delivered file is
recorded in `defects.json` with the file, 1-based data row (header excluded; for JSON Lines the line,
for the appeals JSON array the element, for Parquet the row of the part file), the contract column,
the kind of defect and the reason code a correct validator must give. A defective row carries exactly
one defect (a duplicate key marks both rows of the pair), so the expected reason is unambiguous.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from community_dw_tools.synthetic.identity import corrupt_check_digit

# kind -> reason code, per source (the codes the validation gate must report)
REASONS: dict[str, dict[str, str]] = {
    "population_registry": {
        "bad_check_digit": "ID_CHECKSUM",
        "birth_date_mismatch": "ID_BIRTH_DATE_MISMATCH",
        "sex_mismatch": "ID_SEX_MISMATCH",
        "duplicate_key": "DUPLICATE_KEY",
        "unknown_community": "UNKNOWN_COMMUNITY",
        "impossible_date": "UNPARSEABLE_VALUE",
        "missing_required": "MISSING_REQUIRED",
    },
    "telecom_stays": {
        "negative_duration": "NEGATIVE_DURATION",
        "unknown_grid": "UNKNOWN_GRID",
    },
    "civil_affairs_assistance": {
        "bad_check_digit": "ID_CHECKSUM",
        "unknown_community": "UNKNOWN_COMMUNITY",
        "negative_amount": "NEGATIVE_AMOUNT",
        "end_before_start": "END_BEFORE_START",
    },
    "health_services": {
        "bad_check_digit": "ID_CHECKSUM",
        "impossible_date": "UNPARSEABLE_VALUE",
        "unknown_community": "UNKNOWN_COMMUNITY",
    },
    "appeals": {
        "timestamps_out_of_order": "TIMESTAMP_ORDER",
        "bad_satisfaction": "OUT_OF_RANGE",
    },
}
# Required population columns without a cross-check against the ID number, so emptying one gives
# exactly one reason (an empty sex would also be an ID/sex disagreement for some validators).
MISSING_REQUIRED_COLUMNS = ("residence_type", "status", "household_id", "name")


@dataclass
class DefectLog:
    """Everything the sidecar `defects.json` records."""

    defects: list[dict[str, Any]] = field(default_factory=list)
    batch_defects: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, source: str, file: str, row: int, column: str, defect: str) -> None:
        self.defects.append(
            {
                "source": source,
                "file": file,
                "row": int(row),
                "column": column,
                "defect": defect,
                "expected_reason": REASONS[source][defect],
            }
        )

    def count(self, source: str) -> int:
        return sum(1 for d in self.defects if d["source"] == source)

    def document(self) -> dict[str, Any]:
        return {"defects": self.defects, "batch_defects": self.batch_defects, "events": self.events}


def plan(rate: float, rows: int, kinds: list[str], max_share: float, turn: int = 0) -> dict[str, int]:
    """How many defects of each kind go into one file.

    The rate is spread over the kinds with at least one of each, as long as the file's defective rows
    stay under 80% of the contract's `max_bad_row_share` (so the batch is quarantined row by row, not
    rejected). A file too small for every kind under that cap gets a rotating subset (`turn` = day),
    so each kind still appears within a run of a few days.
    """
    if rate <= 0 or rows == 0:
        return {}
    k = max(1, round(rate * rows / len(kinds)))
    cap = max(1, int(rows * max_share * 0.8))
    if k * len(kinds) <= cap:
        return dict.fromkeys(kinds, k)
    if len(kinds) <= cap:
        return dict.fromkeys(kinds, cap // len(kinds))
    chosen = {kinds[(turn * cap + i) % len(kinds)] for i in range(cap)}
    return {kind: 1 for kind in kinds if kind in chosen}


def _distinct_rows(rng: np.random.Generator, rows: int, wanted: int) -> np.ndarray:
    return rng.choice(rows, size=min(wanted, rows), replace=False)


def _set_cells(table: pa.Table, column: str, rows: np.ndarray, values: list[str | None]) -> pa.Table:
    if len(rows) == 0:
        return table
    data = table[column].to_numpy(zero_copy_only=False).astype(object)
    data[rows] = values
    i = table.schema.get_field_index(column)
    return table.set_column(i, column, pa.array(data, type=pa.string()))


def _impossible_date(original: str, rng: np.random.Generator, compact: bool) -> str:
    year = original[:4] if original and original[:4].isdigit() else "2020"
    month_day = ("0230", "1345", "0431", "0931", "0000")[int(rng.integers(5))]
    if compact:
        return year + month_day
    return f"{year}-{month_day[:2]}-{month_day[2:]}"


def _earlier(yyyymmdd: str, rng: np.random.Generator) -> str:
    """Another real date, 1-400 days earlier (so it parses but disagrees with the ID number)."""
    born = dt.datetime.strptime(yyyymmdd, "%Y%m%d").date()
    return (born - dt.timedelta(days=int(rng.integers(1, 400)))).strftime("%Y%m%d")


def _unknown_community(code: str, rng: np.random.Generator) -> str:
    """A well-formed 12-digit code of the same street that the division seed does not have."""
    return code[:9] + f"9{int(rng.integers(0, 100)):02d}"


def inject_population(
    table: pa.Table,
    rng: np.random.Generator,
    rate: float,
    file: str,
    log: DefectLog,
    max_share: float,
    turn: int,
) -> pa.Table:
    """Population defects; `duplicate_key` inserts a second row with an existing resident's ID."""
    source = "population_registry"
    counts = plan(rate, table.num_rows, list(REASONS[source]), max_share, turn)
    if not counts:
        return table
    picked = _distinct_rows(rng, table.num_rows, sum(counts.values()))
    groups: dict[str, np.ndarray] = {}
    for kind in REASONS[source]:
        groups[kind], picked = picked[: counts.get(kind, 0)], picked[counts.get(kind, 0) :]
    duplicates = groups["duplicate_key"]
    edits: dict[str, tuple[str, Callable[[str], str]]] = {
        "bad_check_digit": ("resident_id", lambda v: corrupt_check_digit(v, rng)),
        "birth_date_mismatch": ("birth_date", lambda v: _earlier(v, rng)),
        "sex_mismatch": ("sex", lambda v: "2" if v == "1" else "1"),
        "unknown_community": ("community_code", lambda v: _unknown_community(v, rng)),
        "impossible_date": ("move_in_date", lambda v: _impossible_date(v, rng, compact=True)),
    }
    changes: list[tuple[str, int, str, str | None]] = []  # (kind, row, column, new value)
    for kind, (column, edit) in edits.items():
        values = table[column].take(pa.array(groups[kind], type=pa.int64())).to_pylist()
        changes += [(kind, int(r), column, edit(v)) for r, v in zip(groups[kind], values, strict=True)]
    for i, r in enumerate(groups["missing_required"]):
        column = MISSING_REQUIRED_COLUMNS[i % len(MISSING_REQUIRED_COLUMNS)]
        changes.append(("missing_required", int(r), column, None))
    for column in sorted({c[2] for c in changes}):
        these = [c for c in changes if c[2] == column]
        table = _set_cells(table, column, np.array([c[1] for c in these]), [c[3] for c in these])

    # duplicates: a later, conflicting version of an existing resident's row, inserted elsewhere
    n = table.num_rows
    positions = np.sort(rng.integers(0, n + 1, len(duplicates)))
    order = np.insert(np.arange(n), positions, duplicates)
    inserted = np.zeros(len(order), dtype=bool)
    inserted[positions + np.arange(len(positions))] = True
    final_of_original = np.flatnonzero(~inserted)
    copies = np.flatnonzero(inserted)
    table = table.take(pa.array(order))
    stamps = [v[:11] + "23:59:59" for v in table["updated_at"].take(pa.array(copies)).to_pylist()]
    table = _set_cells(table, "updated_at", copies, stamps)

    for kind, r, column, _ in changes:
        log.add(source, file, final_of_original[r] + 1, column, kind)
    for original, copy in zip(duplicates, copies, strict=True):
        log.add(source, file, final_of_original[original] + 1, "resident_id", "duplicate_key")
        log.add(source, file, copy + 1, "resident_id", "duplicate_key")
    return table


def inject_records(
    records: list[dict[str, Any]],
    rng: np.random.Generator,
    rate: float,
    source: str,
    file: str,
    log: DefectLog,
    mutators: dict[str, Callable[[dict[str, Any], np.random.Generator], str]],
    max_share: float,
    turn: int = 0,
    eligible: Callable[[str, dict[str, Any]], bool] | None = None,
) -> None:
    """Mutate distinct records in place; each mutator returns the column it broke.

    `eligible(kind, record)` restricts which records a kind may hit. Rows are recorded 1-based.
    """
    counts = plan(rate, len(records), list(mutators), max_share, turn)
    used: set[int] = set()
    order = rng.permutation(len(records)) if counts else []
    for kind, k in counts.items():
        mutate = mutators[kind]
        hits = 0
        for i in order:
            if hits == k:
                break
            i = int(i)
            if i in used or (eligible is not None and not eligible(kind, records[i])):
                continue
            used.add(i)
            hits += 1
            column = mutate(records[i], rng)
            log.add(source, file, i + 1, column, kind)


# -- mutators for the record-shaped sources ------------------------------------------------------


def break_check_digit(record: dict[str, Any], rng: np.random.Generator) -> str:
    record["resident_id"] = corrupt_check_digit(record["resident_id"], rng)
    return "resident_id"


def break_community(record: dict[str, Any], rng: np.random.Generator) -> str:
    record["community_code"] = _unknown_community(record["community_code"], rng)
    return "community_code"


def negative_amount(record: dict[str, Any], rng: np.random.Generator) -> str:
    record["monthly_amount"] = "-" + record["monthly_amount"]
    return "monthly_amount"


def end_before_start(record: dict[str, Any], rng: np.random.Generator) -> str:
    start = dt.date.fromisoformat(record["start_date"])
    record["end_date"] = (start - dt.timedelta(days=int(rng.integers(1, 200)))).isoformat()
    return "end_date"


def impossible_service_date(record: dict[str, Any], rng: np.random.Generator) -> str:
    record["service_date"] = _impossible_date(record["service_date"], rng, compact=False)
    return "service_date"


def resolved_before_received(record: dict[str, Any], rng: np.random.Generator) -> str:
    received = dt.datetime.strptime(record["received_at"], "%Y-%m-%d %H:%M:%S")
    earlier = received - dt.timedelta(minutes=int(rng.integers(60, 48 * 60)))
    record["resolved_at"] = earlier.strftime("%Y-%m-%d %H:%M:%S")
    return "resolved_at"


def bad_satisfaction(record: dict[str, Any], rng: np.random.Generator) -> str:
    record["satisfaction"] = int((0, 6, 7, 9, 10)[int(rng.integers(5))])
    return "satisfaction"


Mutator = Callable[[dict[str, Any], np.random.Generator], str]
MUTATORS: dict[str, dict[str, Mutator]] = {
    "civil_affairs_assistance": {
        "bad_check_digit": break_check_digit,
        "unknown_community": break_community,
        "negative_amount": negative_amount,
        "end_before_start": end_before_start,
    },
    "health_services": {
        "bad_check_digit": break_check_digit,
        "impossible_date": impossible_service_date,
        "unknown_community": break_community,
    },
    "appeals": {
        "timestamps_out_of_order": resolved_before_received,
        "bad_satisfaction": bad_satisfaction,
    },
}


def inject_telecom(
    rng: np.random.Generator,
    rate: float,
    grid: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    unknown_grid: Callable[[np.ndarray], np.ndarray],
    file: str,
    log: DefectLog,
    max_share: float,
    turn: int = 0,
) -> None:
    """Telecom defects on the hour's arrays (already in file order), in place.

    `unknown_grid(rows)` gives, for each row, an index of a grid code that is not in the seed.
    """
    counts = plan(rate, len(grid), ["negative_duration", "unknown_grid"], max_share, turn)
    if not counts:
        return
    k_swap, k_unknown = counts.get("negative_duration", 0), counts.get("unknown_grid", 0)
    picked = _distinct_rows(rng, len(grid), k_swap + k_unknown)
    swap, unknown = np.sort(picked[:k_swap]), np.sort(picked[k_swap:])
    start[swap], end[swap] = end[swap].copy(), start[swap].copy()
    grid[unknown] = unknown_grid(unknown)
    for r in swap:
        log.add("telecom_stays", file, r + 1, "stay_end", "negative_duration")
    for r in unknown:
        log.add("telecom_stays", file, r + 1, "grid_code", "unknown_grid")
