"""Turn a landed file into an Arrow table with the contract's names and types.

`readers` reads the file (and rejects what cannot be read as a whole); here each delivered column is
converted to its contract type, so that one bad cell costs one quarantined row instead of a failed
batch: a value that does not convert becomes null and is reported as UNPARSEABLE_VALUE for that row and
column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from community_dw.arrowtypes import convert
from community_dw.contracts import Contract
from community_dw.errors import RowProblem
from community_dw.readers import read_landed

SOURCE_ROW = "_source_row"


@dataclass
class ParsedBatch:
    table: pa.Table
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def num_rows(self) -> int:
        return self.table.num_rows


def parse_batch(path: Path, contract: Contract, batch_id: str) -> ParsedBatch:
    """Read, rename to contract names, convert types and list unparseable cells."""
    raw = read_landed(path, contract, batch_id)
    text = raw.table
    rows = pa.array(range(1, text.num_rows + 1), pa.int32())
    arrays, names, problems = [], [], list(raw.problems)
    for col in contract.delivered_columns:
        delivered = text.column(col.header)
        if pa.types.is_string(delivered.type):
            delivered = pc.if_else(pc.equal(pc.utf8_trim_whitespace(delivered), ""), None, delivered)
        typed = convert(
            delivered.combine_chunks() if isinstance(delivered, pa.ChunkedArray) else delivered,
            col.data_type,
            col.parse_format,
        )
        lost = pc.and_(pc.is_valid(delivered), pc.is_null(typed))
        already = {p.row for p in raw.problems if p.column == col.name}
        for row in pc.filter(rows, lost).to_pylist():
            if row in already:
                continue
            problems.append(
                RowProblem(
                    row,
                    col.name,
                    "UNPARSEABLE_VALUE",
                    f"not a valid {col.data_type}"
                    + (f" in format {col.parse_format}" if col.parse_format else ""),
                )
            )
        arrays.append(typed)
        names.append(col.name)
    arrays.append(rows)
    names.append(SOURCE_ROW)
    return ParsedBatch(pa.Table.from_arrays(arrays, names=names), problems)
