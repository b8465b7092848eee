"""quarantine.split_rows: every row ends accepted or quarantined, with one reason per failing cell."""

from __future__ import annotations

import pyarrow as pa

from community_dw.errors import RowProblem
from community_dw.quarantine import first_reason_per_cell, split_rows


def _table(n: int) -> pa.Table:
    return pa.table(
        {"value": [f"v{i}" for i in range(1, n + 1)], "_source_row": pa.array(range(1, n + 1), pa.int32())}
    )


def test_rows_with_problems_are_quarantined_and_the_rest_accepted():
    problems = [RowProblem(4, "a", "UNPARSEABLE_VALUE", "r"), RowProblem(2, "b", "MISSING_REQUIRED", "r")]
    split = split_rows(_table(5), problems)
    assert split.accepted.column("_source_row").to_pylist() == [1, 3, 5]
    assert split.quarantined.column("_source_row").to_pylist() == [2, 4]
    assert split.accepted.num_rows + split.quarantined.num_rows == 5


def test_reasons_name_each_column_once_and_the_first_reported_wins():
    problems = [
        RowProblem(3, "a", "UNPARSEABLE_VALUE", "not a date"),
        RowProblem(3, "a", "MISSING_REQUIRED", "not null"),  # the same cell: parse error wins
        RowProblem(3, "b", "DUPLICATE_KEY", "unique"),
        RowProblem(3, None, "TABLE_RULE", "whole row"),
    ]
    split = split_rows(_table(3), problems)
    assert split.quarantined.column("_reasons").to_pylist() == [
        "UNPARSEABLE_VALUE(a); DUPLICATE_KEY(b); TABLE_RULE"
    ]
    assert dict(split.reason_counts()) == {"UNPARSEABLE_VALUE": 1, "DUPLICATE_KEY": 1, "TABLE_RULE": 1}
    assert len(first_reason_per_cell(problems)) == 3


def test_no_problems_accepts_everything():
    split = split_rows(_table(2), [])
    assert split.quarantined.num_rows == 0 and split.accepted.num_rows == 2
