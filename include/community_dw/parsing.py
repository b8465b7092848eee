"""Parse a landed file into an Arrow table with the contract's names and types.

Everything is first read as text, so that one bad cell costs one quarantined row instead of a failed
batch: a value that does not convert to its column's type becomes null and is reported as
UNPARSEABLE_VALUE for that row and column. A header that does not match the contract (schema drift)
rejects the batch and names the missing and unexpected columns.
"""

from __future__ import annotations

import codecs
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from community_dw.arrowtypes import convert
from community_dw.contracts import Contract
from community_dw.errors import BatchRejected

SOURCE_ROW = "_source_row"


@dataclass
class RowProblem:
    """One failed cell: a data row (1-based, header excluded), the column and the reason code."""

    row: int
    column: str | None
    reason: str
    rule: str


@dataclass
class ParsedBatch:
    table: pa.Table
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def num_rows(self) -> int:
        return self.table.num_rows


def _csv_header(path: Path, encoding: str) -> list[str]:
    """The header row, decoded as the contract says (a UTF-8 byte-order mark is tolerated)."""
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    with path.open("r", encoding=codec, newline="") as handle:
        return next(csv.reader(handle), [])


def _read_csv(path: Path, contract: Contract, batch_id: str) -> pa.Table:
    header = _csv_header(path, contract.encoding)
    _check_header(header, contract, batch_id, path)
    encoding = "utf8" if codecs.lookup(contract.encoding).name == "utf-8" else contract.encoding
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=16 << 20),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        raise BatchRejected(
            contract.name, batch_id, "UNREADABLE_FILE", f"the CSV cannot be read: {exc}.", file=path.name
        ) from exc


def _read_jsonl(path: Path, contract: Contract, batch_id: str) -> pa.Table:
    """JSON Lines, one object per line; read as text so that a bad value costs one row, not the batch."""
    headers = [c.header for c in contract.delivered_columns]
    columns: dict[str, list] = {h: [] for h in headers}
    seen: set[str] = set()
    with path.open("r", encoding="utf-8-sig") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BatchRejected(
                    contract.name,
                    batch_id,
                    "UNREADABLE_FILE",
                    f"invalid JSON: {exc.msg}.",
                    file=path.name,
                    row=line_number,
                ) from exc
            seen.update(record)
            for h in headers:
                value = record.get(h)
                columns[h].append(None if value is None or value == "" else str(value))
    if seen:
        _check_header(sorted(seen), contract, batch_id, path, ordered=False)
    return pa.table({h: pa.array(v, pa.string()) for h, v in columns.items()})


def _read_parquet(path: Path, contract: Contract, batch_id: str) -> pa.Table:
    """A Parquet file, or a landed partition folder of Parquet files read in name order."""
    import pyarrow.parquet as pq

    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    tables = [pq.read_table(f) for f in files]
    if not tables:
        return pa.table({c.header: pa.array([], pa.string()) for c in contract.delivered_columns})
    table = pa.concat_tables(tables, promote_options="permissive")
    _check_header(table.column_names, contract, batch_id, path, ordered=False)
    return table


# API pages are landed as JSON Lines (one ticket version per line), so `json` reads like `jsonl`.
READERS = {"csv": _read_csv, "jsonl": _read_jsonl, "json": _read_jsonl, "parquet": _read_parquet}


def _check_header(
    found: list[str], contract: Contract, batch_id: str, path: Path, ordered: bool = True
) -> None:
    expected = [c.header for c in contract.delivered_columns]
    missing = [h for h in expected if h not in found]
    unexpected = [h for h in found if h not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append("missing columns: " + ", ".join(missing))
        if unexpected:
            parts.append("unexpected columns: " + ", ".join(unexpected))
        raise BatchRejected(
            contract.name,
            batch_id,
            "SCHEMA_DRIFT",
            "the header does not match the contract (" + "; ".join(parts) + "). Update the contract "
            f"{contract.path.name} if the producer changed the format on purpose.",
            file=path.name,
            row=0,
            column=(missing or unexpected)[0],
        )


def parse_batch(path: Path, contract: Contract, batch_id: str) -> ParsedBatch:
    """Read, rename to contract names, convert types and list unparseable cells."""
    if contract.format not in READERS:
        raise ValueError(f"{contract.name}: no reader for format {contract.format!r}")
    text = READERS[contract.format](path, contract, batch_id)
    rows = pa.array(range(1, text.num_rows + 1), pa.int32())
    arrays, names, problems = [], [], []
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
        for row in pc.filter(rows, lost).to_pylist():
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
