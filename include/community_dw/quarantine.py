"""Decide, row by row, what loads and what is held back, and say why.

A row with any problem is quarantined; the reasons are kept per column, most specific first (a value
that could not be parsed is reported as UNPARSEABLE_VALUE, not also as missing).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from community_dw.errors import RowProblem
from community_dw.parsing import SOURCE_ROW


@dataclass
class Split:
    accepted: pa.Table
    quarantined: pa.Table
    problems: list[RowProblem]

    def reason_counts(self) -> Counter[str]:
        return Counter(p.reason for p in self.problems)


def first_reason_per_cell(problems: list[RowProblem]) -> list[RowProblem]:
    """Keep one problem per (row, column): the first reported, so parse errors win over not-null."""
    seen: set[tuple[int, str | None]] = set()
    kept = []
    for problem in problems:
        key = (problem.row, problem.column)
        if key not in seen:
            seen.add(key)
            kept.append(problem)
    return kept


def split_rows(table: pa.Table, problems: list[RowProblem]) -> Split:
    """Accepted rows, and quarantined rows with a `_reasons` column such as `ID_CHECKSUM(resident_id)`."""
    problems = sorted(first_reason_per_cell(problems), key=lambda p: p.row)
    by_row: dict[int, list[str]] = defaultdict(list)
    for problem in problems:
        by_row[problem.row].append(
            f"{problem.reason}({problem.column})" if problem.column else problem.reason
        )
    bad_rows = pa.array(sorted(by_row), pa.int32())
    is_bad = pc.is_in(table.column(SOURCE_ROW), value_set=bad_rows)
    accepted = table.filter(pc.invert(is_bad))
    quarantined = table.filter(is_bad).sort_by(SOURCE_ROW)
    reasons = ["; ".join(by_row[row]) for row in quarantined.column(SOURCE_ROW).to_pylist()]
    quarantined = quarantined.append_column("_reasons", pa.array(reasons, pa.string()))
    return Split(accepted, quarantined, problems)
