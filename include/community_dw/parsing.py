"""Turn a landed file into an Arrow table with the contract's names and types.

`readers` reads the file (and rejects what cannot be read as a whole); here each delivered column is
normalized where the contract says so (`meta.normalize`, see `normalize`), then converted to its
contract type, so that one bad cell costs one quarantined row instead of a failed batch: a value that
does not convert becomes null and is reported as UNPARSEABLE_VALUE for that row and column (or rejects
the batch where the contract's `schema_contract.data_type` is `freeze`). Last, the rules that need a
delivered identifier before it is pseudonymized (`meta.validate`) add their row problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from community_dw.arrowtypes import convert
from community_dw.contracts import SOURCE_ROW, Column, Contract
from community_dw.errors import BatchRejected, RowProblem
from community_dw.normalize import normalize
from community_dw.readers import read_landed
from community_dw.validation import door_problems

__all__ = ["SOURCE_ROW", "ParsedBatch", "parse_batch"]

UNPARSEABLE_VALUE = "UNPARSEABLE_VALUE"


@dataclass
class ParsedBatch:
    table: pa.Table
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def num_rows(self) -> int:
        return self.table.num_rows


def _delivered_text(values: pa.Array | pa.ChunkedArray, col: Column) -> pa.Array:
    """The column as delivered, normalized if the contract says so; blank text is absent (null)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return values
    if col.normalize:
        values = normalize(col.normalize, values)
    # Empty or only (Unicode) whitespace; a column without such a cell is returned as it is, not copied.
    blank = pc.or_(pc.equal(pc.binary_length(values), 0), pc.utf8_is_space(values))
    return pc.if_else(blank, None, values) if pc.any(blank).as_py() else values


def _not_a(col: Column) -> str:
    return f"not a valid {col.data_type}" + (f" in format {col.parse_format}" if col.parse_format else "")


def parse_batch(path: Path, contract: Contract, batch_id: str, as_of: date | None = None) -> ParsedBatch:
    """Read, rename to contract names, normalize, convert types and list the cells that fail.

    `as_of` is the batch's date for the door checks' plausibility bounds (see `validation.run_gate`).
    """
    raw = read_landed(path, contract, batch_id)
    text = raw.table
    rows = pa.array(range(1, text.num_rows + 1), pa.int32())
    arrays, names, problems = [], [], list(raw.problems)
    for col in contract.delivered_columns:
        delivered = _delivered_text(text.column(col.header), col)
        typed = convert(delivered, col.data_type, col.parse_format)
        lost = pc.and_(pc.is_valid(delivered), pc.is_null(typed))
        already = {p.row for p in raw.problems if p.column == col.name}
        lost_rows = [row for row in pc.filter(rows, lost).to_pylist() if row not in already]
        if lost_rows and contract.schema_contract.data_type == "freeze":
            raise BatchRejected(
                contract.name,
                batch_id,
                UNPARSEABLE_VALUE,
                f"{len(lost_rows)} value(s) of column {col.name} are {_not_a(col)}; the contract's "
                "schema_contract.data_type is freeze, so one such value rejects the batch. Ask "
                f"{contract.producer} to re-send the file, or set data_type: quarantine in "
                f"{contract.path.name} to hold back only the rows.",
                file=path.name,
                row=lost_rows[0],
                column=col.name,
                received_rows=text.num_rows,
            )
        problems.extend(RowProblem(row, col.name, UNPARSEABLE_VALUE, _not_a(col)) for row in lost_rows)
        arrays.append(typed)
        names.append(col.name)
    arrays.append(rows)
    names.append(SOURCE_ROW)
    table = pa.Table.from_arrays(arrays, names=names)
    problems.extend(door_problems(table, contract, as_of))
    return ParsedBatch(table, problems)
