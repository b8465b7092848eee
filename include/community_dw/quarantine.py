"""Decide, row by row, what loads and what is held back, and say why.

A row with any problem is quarantined; the reasons are kept per column, most specific first (a value
that could not be parsed is reported as UNPARSEABLE_VALUE, not also as missing).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cached_property

import pyarrow as pa
import pyarrow.compute as pc

from community_dw.errors import RowProblem
from community_dw.parsing import SOURCE_ROW


@dataclass
class Split:
    table: pa.Table  # every row of the batch
    quarantined: pa.Table
    problems: list[RowProblem]

    @cached_property
    def accepted(self) -> pa.Table:
        """The rows without a problem; copied only when asked for (the loader takes them from `table`)."""
        return accepted_rows(self.table, self.quarantined)

    @property
    def accepted_count(self) -> int:
        return self.table.num_rows - self.quarantined.num_rows

    def reason_counts(self) -> Counter[str]:
        return Counter(p.reason for p in self.problems)


def accepted_rows(table: pa.Table, quarantined: pa.Table) -> pa.Table:
    """The rows of `table` whose `_source_row` is not among the quarantined rows'."""
    if quarantined.num_rows == 0:
        return table
    return table.filter(
        pc.invert(pc.is_in(table.column(SOURCE_ROW), value_set=quarantined.column(SOURCE_ROW)))
    )


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
    quarantined = table.filter(pc.is_in(table.column(SOURCE_ROW), value_set=bad_rows)).sort_by(SOURCE_ROW)
    reasons = ["; ".join(by_row[row]) for row in quarantined.column(SOURCE_ROW).to_pylist()]
    quarantined = quarantined.append_column("_reasons", pa.array(reasons, pa.string()))
    return Split(table, quarantined, problems)
