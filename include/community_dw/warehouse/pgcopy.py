"""Arrow tables as PostgreSQL's binary COPY stream, built column-wise with NumPy (no Python per row).

`COPY ... FROM STDIN (FORMAT binary)` takes each value in the column type's own binary form, so the
server parses no text: integers and times are byte-swapped, strings copied as they are, and a batch
of a million rows is encoded in vectorized passes, chunk by chunk (`CHUNK_ROWS`), so memory stays
bounded. Each Arrow column is first cast to the Arrow type of its target column (`arrow_type_for`),
so the bytes always match what the table declares.

Format: a header, then per row a 16-bit field count and per field a 32-bit length (-1: NULL) and the
value; a 16-bit -1 ends the stream. Times count from 2000-01-01 (PostgreSQL's epoch); `numeric` is a
sign, a weight and base-10000 digits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from collections.abc import Iterator

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
CHUNK_ROWS = 65_536
_PG_EPOCH_DAYS = 10_957  # 1970-01-01 -> 2000-01-01
_PG_EPOCH_US = _PG_EPOCH_DAYS * 86_400 * 1_000_000
_NUMERIC_NEG = 0x4000


def arrow_type_for(pg_type: str, precision: int | None = None, scale: int | None = None) -> pa.DataType:
    """The Arrow type whose binary form this encoder writes for a column of `pg_type` (information_schema)."""
    fixed = {
        "character varying": pa.string(),
        "text": pa.string(),
        "character": pa.string(),
        "smallint": pa.int16(),
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "real": pa.float32(),
        "double precision": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp without time zone": pa.timestamp("us"),
    }
    if pg_type in fixed:
        return fixed[pg_type]
    if pg_type == "numeric" and precision is not None and scale is not None:
        return pa.decimal128(precision, scale)
    raise ValueError(f"binary COPY of a {pg_type} column is not supported")


def _scatter(buffer: np.ndarray, starts: np.ndarray, values: np.ndarray) -> None:
    """Write row i's bytes `values[i]` (shape n x width) at buffer[starts[i]:]."""
    width = values.shape[1]
    buffer[starts[:, None] + np.arange(width)] = values


def _big_endian(values: np.ndarray, dtype: str) -> np.ndarray:
    out = values.astype(dtype)
    return out.view(np.uint8).reshape(len(out), out.dtype.itemsize)


def _numeric_bytes(column: pa.Array) -> tuple[np.ndarray, int]:
    """Each decimal as numeric's binary form (a fixed number of base-10000 digits); n x width bytes."""
    kind: pa.Decimal128Type = column.type
    precision, scale = kind.precision, kind.scale
    fraction_digits = -(-scale // 4)
    integer_digits = max(1, -(-(precision - scale) // 4))
    ndigits = integer_digits + fraction_digits
    if 4 * ndigits > 18:
        raise ValueError(f"binary COPY of numeric({precision},{scale}) needs more than 64-bit arithmetic")
    # Decimal128 is 16 little-endian bytes; values this small live in the low 64 bits.
    raw = np.frombuffer(column.buffers()[1], dtype="<i8", count=2 * (len(column) + column.offset))
    unscaled = raw[2 * column.offset :: 2].copy()
    scaled = unscaled * (10 ** (4 * fraction_digits - scale))
    negative = scaled < 0
    magnitude = np.abs(scaled)
    encoded = np.empty((len(column), 4 + ndigits), dtype=">i2")
    encoded[:, 0] = ndigits
    encoded[:, 1] = integer_digits - 1  # weight of the first digit
    encoded[:, 2] = np.where(negative, _NUMERIC_NEG, 0)
    encoded[:, 3] = scale
    for position in range(ndigits):
        encoded[:, 4 + position] = (magnitude // 10_000 ** (ndigits - 1 - position)) % 10_000
    return encoded.view(np.uint8).reshape(len(column), -1), encoded.shape[1] * 2


def _fixed_values(column: pa.Array) -> tuple[np.ndarray, int]:
    """n x width big-endian bytes of a fixed-width column (NULL slots hold zeros, never written)."""
    kind = column.type
    if pa.types.is_decimal(kind):
        return _numeric_bytes(column)
    if pa.types.is_boolean(kind):
        values = np.asarray(column.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.uint8)
        return values.reshape(-1, 1), 1
    if pa.types.is_date32(kind):
        days = column.cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        return _big_endian(days - _PG_EPOCH_DAYS, ">i4"), 4
    if pa.types.is_timestamp(kind):
        micros = column.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        return _big_endian(micros - _PG_EPOCH_US, ">i8"), 8
    dtype = {
        pa.int16(): ">i2",
        pa.int32(): ">i4",
        pa.int64(): ">i8",
        pa.float32(): ">f4",
        pa.float64(): ">f8",
    }
    if kind not in dtype:
        raise ValueError(f"binary COPY of Arrow type {kind} is not supported")
    values = column.fill_null(0).to_numpy(zero_copy_only=False)
    return _big_endian(values, dtype[kind]), np.dtype(dtype[kind]).itemsize


class _Column:
    """One column of a chunk: per-row field sizes, and how to write its fields once rows are placed."""

    def __init__(self, column: pa.Array) -> None:
        self.valid = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            offsets_type = np.int64 if pa.types.is_large_string(column.type) else np.int32
            offsets = np.frombuffer(column.buffers()[1], dtype=offsets_type)[
                column.offset : column.offset + len(column) + 1
            ].astype(np.int64)
            data = column.buffers()[2]
            self.lengths = np.diff(offsets)
            self.data = (
                np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
                if data is not None
                else np.empty(0, np.uint8)
            )
            self.starts = offsets[:-1] - offsets[0]
            self.fixed = None
        else:
            self.fixed, width = _fixed_values(column)
            self.lengths = np.where(self.valid, width, 0).astype(np.int64)
        self.field_lengths = np.where(self.valid, self.lengths, -1)
        self.sizes = 4 + np.where(self.valid, self.lengths, 0)

    def write(self, buffer: np.ndarray, field_starts: np.ndarray) -> None:
        _scatter(buffer, field_starts, _big_endian(self.field_lengths, ">i4"))
        value_starts = field_starts + 4
        if self.fixed is not None:
            _scatter(buffer, value_starts[self.valid], self.fixed[self.valid])
            return
        if len(self.data):
            # Byte k of string i goes to value_starts[i] + k: one index per byte, built by repeat.
            shift = np.repeat(value_starts - self.starts, self.lengths)
            buffer[shift + np.arange(len(self.data))] = self.data


def _encode_chunk(chunk: pa.Table) -> bytes:
    columns = [_Column(c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c) for c in chunk.columns]
    rows = chunk.num_rows
    row_sizes = 2 + sum((c.sizes for c in columns), np.zeros(rows, np.int64))
    row_starts = np.concatenate([[0], np.cumsum(row_sizes)[:-1]]).astype(np.int64)
    buffer = np.zeros(int(row_sizes.sum()), dtype=np.uint8)
    _scatter(buffer, row_starts, _big_endian(np.full(rows, len(columns)), ">i2"))
    field_starts = row_starts + 2
    for column in columns:
        column.write(buffer, field_starts)
        field_starts = field_starts + column.sizes
    return buffer.tobytes()


def binary_copy_chunks(table: pa.Table, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """The COPY stream of `table` (columns already in the target's types and order), in pieces."""
    yield HEADER
    for start in range(0, table.num_rows, chunk_rows):
        yield _encode_chunk(table.slice(start, chunk_rows))
    yield TRAILER


def constant_column(value: object, rows: int) -> pa.Array:
    """`rows` copies of one value (a batch id, a load time), built without a Python list per row."""
    indices = pa.array(np.zeros(rows, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array([value])).dictionary_decode()


def cast_for(table: pa.Table, target: list[tuple[str, pa.DataType]]) -> pa.Table:
    """`table`'s columns in the target's order and types; a target column `table` lacks is all NULL."""
    columns = []
    for name, kind in target:
        if name in table.column_names:
            column = table.column(name)
            columns.append(column if column.type == kind else pc.cast(column, kind))
        else:
            columns.append(pa.nulls(table.num_rows, kind))
    return pa.Table.from_arrays(columns, names=[name for name, _ in target])
