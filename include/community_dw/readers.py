"""Read a landed file into Arrow columns named as the producer wrote them, or reject it.

One reader per delivery format, in a registry (`READERS`), each turning the file into a `RawBatch`:
text columns for CSV and JSON Lines (so one bad cell costs one quarantined row, not the batch), the
producer's physical types for Parquet (checked against the contract, zone-aware times made local).
Whatever makes a file unreadable as a whole becomes a `BatchRejected` that names the file, the data row
(1-based, header excluded) or byte offset, the column and the rule:

    ENCODING          bytes that are not the contract's encoding (a GBK file sent as UTF-8, UTF-8 lines
                      inside a GBK file, a UTF-8 byte-order mark on a GBK file)
    MALFORMED_RECORD  a CSV row with the wrong number of fields, a JSON line that is not a JSON object
    CORRUPT_FILE      a Parquet part that cannot be opened or read
    SCHEMA_DRIFT      columns missing or unexpected, or a column of the wrong physical type

Messages never quote the delivered bytes: a broken row of the register holds an ID number, a name and a
phone number, and rejection messages go to the ledger and the task log, which auditors read.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from community_dw.arrowtypes import arrow_type
from community_dw.clock import LOCAL_TZ_NAME
from community_dw.contracts import Contract
from community_dw.errors import BatchRejected, RowProblem

UTF8_BOM = codecs.BOM_UTF8


@dataclass
class RawBatch:
    """A landed file as delivered columns (producer headers), plus row problems found while reading."""

    table: pa.Table
    problems: list[RowProblem] = field(default_factory=list)
    parts: tuple[str, ...] = ()


class _Rejector:
    """Builds the rejections of one file, so every message names the same source, batch and file."""

    def __init__(self, contract: Contract, batch_id: str, file: str) -> None:
        self.contract, self.batch_id, self.file = contract, batch_id, file

    def __call__(self, rule: str, detail: str, **where) -> BatchRejected:
        where.setdefault("file", self.file)
        return BatchRejected(self.contract.name, self.batch_id, rule, detail, **where)


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def _undecodable(line: bytes, encoding: str) -> int | None:
    """The position in `line` of the first byte that does not decode, or None."""
    try:
        line.decode(encoding)
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def decode_text(data: bytes, encoding: str, reject: _Rejector, record_of: Callable[[bytes], int]) -> str:
    """The file as text, strictly in the contract's encoding.

    A GBK file cannot prove it is not UTF-8 by decoding (GBK accepts most UTF-8 byte pairs and yields
    mojibake), so for any other encoding each non-ASCII line is also tried as UTF-8: a line that is valid
    UTF-8 with non-ASCII characters is, in practice, never GBK (GBK text almost never forms valid UTF-8
    sequences). `record_of(prefix)` maps the bytes before a bad line to the data row it starts.
    """
    utf8 = _is_utf8(encoding)
    if data.startswith(UTF8_BOM):
        if not utf8:
            raise reject(
                "ENCODING",
                f"the file starts with a UTF-8 byte-order mark but the contract says {encoding}. Ask the "
                f"producer to send {encoding}, or change `encoding` in {reject.contract.path.name} if the "
                "format changed on purpose.",
                offset=0,
            )
        data = data[len(UTF8_BOM) :]
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        text = None
    if text is not None and (utf8 or data.isascii()):
        return text
    offset = 0
    for line in data.splitlines(keepends=True):
        if not line.isascii():
            # A file that decoded whole has no undecodable line (line breaks are never inside a character
            # of the ASCII-compatible encodings contracts name): each line is only tried as UTF-8, which
            # takes decode_text on the 1,000,000-row register from 4.2-4.9 s to 2.4-3.1 s.
            bad = None if text is not None else _undecodable(line, encoding)
            looks_utf8 = not utf8 and _undecodable(line, "utf-8") is None
            if bad is not None or looks_utf8:
                row = record_of(data[:offset])
                if looks_utf8:
                    what = f"this line is UTF-8, not {encoding} as the contract says"
                else:
                    other = "gbk" if utf8 else "utf-8"
                    hint = f" (the line decodes as {other})" if _undecodable(line, other) is None else ""
                    what = f"byte {offset + bad} does not decode as {encoding}{hint}"
                raise reject(
                    "ENCODING",
                    f"data row {row} (byte offset {offset}): {what}. The file mixes encodings or is not "
                    f"{encoding}; ask the producer to re-send it in {encoding}.",
                    row=row,
                    offset=offset if looks_utf8 else offset + bad,
                )
        offset += len(line)
    if text is None:  # unreachable: some line must have failed; kept so a decoder quirk cannot pass
        raise reject("ENCODING", f"the file does not decode as {encoding}.")
    return text


def _check_columns(found: list[str], contract: Contract, reject: _Rejector, part: str | None = None) -> None:
    expected = [c.header for c in contract.delivered_columns]
    missing = [h for h in expected if h not in found]
    unexpected = [h for h in found if h not in expected]
    if not (missing or unexpected):
        return
    parts = []
    if missing:
        parts.append("missing columns: " + ", ".join(missing))
    if unexpected:
        parts.append("unexpected columns: " + ", ".join(unexpected))
    where = f"part {part} " if part else "the header "
    raise reject(
        "SCHEMA_DRIFT",
        f"{where}does not match the contract (" + "; ".join(parts) + "). Update the contract "
        f"{contract.path.name} if the producer changed the format on purpose.",
        row=0,
        column=(missing or unexpected)[0],
        **({"file": part} if part else {}),
    )


def read_csv(path: Path, contract: Contract, batch_id: str) -> RawBatch:
    """CSV with a header row, every value as text; a row with the wrong field count rejects the file."""
    reject = _Rejector(contract, batch_id, path.name)
    data = path.read_bytes()

    def record_of(prefix: bytes) -> int:
        records = sum(1 for _ in csv.reader(io.StringIO(prefix.decode(contract.encoding, "replace"))))
        return max(records, 1)  # the header is record 1, so this is the next data row's number

    text = decode_text(data, contract.encoding, reject, record_of)
    header = next(csv.reader(io.StringIO(text[: text.find("\n") + 1 or len(text)])), [])
    _check_columns(header, contract, reject)
    invalid: list[pacsv.InvalidRow] = []

    def keep_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    utf8 = io.BytesIO(text.encode("utf-8"))
    try:
        table = pacsv.read_csv(
            utf8,
            read_options=pacsv.ReadOptions(block_size=16 << 20, use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=keep_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header}, strings_can_be_null=True, null_values=[""]
            ),
        )
    except pa.ArrowInvalid as exc:
        # pyarrow quotes the offending row in its message; keep only its first clause.
        raise reject(
            "MALFORMED_RECORD",
            f"the CSV cannot be parsed ({str(exc).split(':')[0]}); nothing quoted here because the row "
            "holds personal data. Ask the producer to re-send a well-formed file.",
        ) from None
    if invalid:
        first = invalid[0]
        row = first.number - 1 if first.number is not None else None
        raise reject(
            "MALFORMED_RECORD",
            f"{len(invalid)} row(s) do not have the header's {first.expected_columns} fields; the first, "
            f"data row {row}, has {first.actual_columns}. A field with an unquoted comma or quote is the "
            "usual cause; ask the producer to re-send the file quoted as RFC 4180.",
            row=row,
        )
    return RawBatch(table)


_DUPLICATED = object()  # the key under which the hook lists repeated keys; no delivered key equals it


def _json_object_pairs(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    duplicated = {k for k in keys if keys.count(k) > 1} if len(set(keys)) != len(keys) else set()
    record = dict(pairs)
    if duplicated:
        record[_DUPLICATED] = sorted(duplicated)
    return record


def _json_text(value: object) -> str | None:
    """A JSON scalar as the text a CSV would have carried; None for null or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def read_jsonl(path: Path, contract: Contract, batch_id: str) -> RawBatch:
    """JSON Lines, one object per line, values as text.

    A line that is not JSON, or JSON but not an object, rejects the file (MALFORMED_RECORD); an object
    that repeats a key (`{"a": 1, "a": 2}`, where a parser would silently keep the last) or holds a nested
    value where the contract declares a scalar is quarantined with its row and column.
    """
    reject = _Rejector(contract, batch_id, path.name)
    data = path.read_bytes()
    lines = data.split(b"\n")
    decode_text(data, contract.encoding, reject, lambda prefix: prefix.count(b"\n") + 1)
    headers = [c.header for c in contract.delivered_columns]
    by_header = {c.header: c.name for c in contract.delivered_columns}
    columns: dict[str, list] = {h: [] for h in headers}
    problems: list[RowProblem] = []
    seen: set[str] = set()
    row = 0
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        text = line.decode(contract.encoding).lstrip("\ufeff")
        try:
            record = json.loads(text, object_pairs_hook=_json_object_pairs)
        except json.JSONDecodeError as exc:
            raise reject(
                "MALFORMED_RECORD",
                f"line {line_number} is not valid JSON ({exc.msg} at column {exc.colno}).",
                row=row + 1,
            ) from None
        if not isinstance(record, dict):
            raise reject(
                "MALFORMED_RECORD",
                f"line {line_number} is JSON but a {type(record).__name__.replace('NoneType', 'null')}, not "
                "an object; every line must be one object with the contract's keys.",
                row=row + 1,
            )
        row += 1
        for key in record.pop(_DUPLICATED, []):
            if key in by_header:
                problems.append(
                    RowProblem(row, by_header[key], "DUPLICATE_KEY", f"key {key!r} appears more than once")
                )
                record[key] = None  # neither value is trusted; the row is quarantined
        seen.update(record)
        for h in headers:
            value = record.get(h)
            if isinstance(value, (dict, list)):
                problems.append(RowProblem(row, by_header[h], "UNPARSEABLE_VALUE", "a nested JSON value"))
                value = None
            columns[h].append(_json_text(value))
    if seen:
        _check_columns(sorted(seen), contract, reject)
    return RawBatch(pa.table({h: pa.array(v, pa.string()) for h, v in columns.items()}), problems)


def _physical_type_fits(actual: pa.DataType, declared: pa.DataType) -> bool:
    """Whether a Parquet column's type carries the contract's type without reinterpretation.

    Text is always accepted (it is parsed like CSV). An epoch integer where a timestamp is declared is
    not: casting it would load 1970 dates.
    """
    if pa.types.is_string(actual) or pa.types.is_large_string(actual) or actual == declared:
        return True
    if pa.types.is_timestamp(declared):
        return pa.types.is_timestamp(actual)
    if pa.types.is_date(declared):
        return pa.types.is_date(actual)
    if pa.types.is_integer(declared):
        return pa.types.is_integer(actual)
    if pa.types.is_floating(declared) or pa.types.is_decimal(declared):
        return pa.types.is_integer(actual) or pa.types.is_floating(actual) or pa.types.is_decimal(actual)
    return False


def _local_wall_clock(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Zone-aware timestamps as the producers' local wall-clock time (naive), the warehouse's convention."""
    local = values.cast(pa.timestamp(values.type.unit, tz=LOCAL_TZ_NAME))
    return pc.local_timestamp(local)


def read_parquet(path: Path, contract: Contract, batch_id: str) -> RawBatch:
    """A Parquet file, or a landed partition folder of parts read in name order, each checked alone."""
    import pyarrow.parquet as pq

    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    reject = _Rejector(contract, batch_id, path.name)
    declared = {c.header: arrow_type(c.data_type) for c in contract.delivered_columns}
    tables = []
    for part in files:
        try:
            table = pq.read_table(part)
        except (pa.ArrowException, OSError) as exc:
            raise reject(
                "CORRUPT_FILE",
                f"Parquet part {part.name} cannot be read ({type(exc).__name__}: {str(exc)[:160]}); it is "
                "truncated or not Parquet. Ask the carrier to re-deliver the hour.",
                file=part.name,
            ) from None
        _check_columns(table.column_names, contract, reject, part=part.name)
        for header, wanted in declared.items():
            actual = table.schema.field(header).type
            if not _physical_type_fits(actual, wanted):
                raise reject(
                    "SCHEMA_DRIFT",
                    f"part {part.name} delivers column {header} as {actual}, the contract declares "
                    f"{wanted}; values would be reinterpreted (epoch numbers as 1970 dates). Ask the "
                    f"carrier for {wanted}, or update {contract.path.name}.",
                    file=part.name,
                    column=header,
                )
            if pa.types.is_timestamp(actual) and actual.tz is not None:
                index = table.column_names.index(header)
                table = table.set_column(index, header, _local_wall_clock(table.column(header)))
        tables.append(table.select(list(declared)))
    if not tables:
        return RawBatch(pa.table({h: pa.array([], pa.string()) for h in declared}))
    return RawBatch(
        pa.concat_tables(tables, promote_options="permissive"), parts=tuple(f.name for f in files)
    )


# API pages are landed as JSON Lines (one ticket version per line), so `json` reads like `jsonl`.
READERS: dict[str, Callable[[Path, Contract, str], RawBatch]] = {
    "csv": read_csv,
    "jsonl": read_jsonl,
    "json": read_jsonl,
    "parquet": read_parquet,
}

# Lines before the first record in the text formats (what `count_rows` subtracts).
HEADER_LINES = {"csv": 1, "jsonl": 0, "json": 0}


def read_landed(path: Path, contract: Contract, batch_id: str) -> RawBatch:
    """Read a landed file with the reader its contract's `format` names."""
    if contract.format not in READERS:
        raise KeyError(f"{contract.name}: no reader for format {contract.format!r}; known: {sorted(READERS)}")
    return READERS[contract.format](path, contract, batch_id)


def count_rows(path: Path, contract: Contract) -> int | None:
    """Data rows in a delivered file, for the ledger record of a refused delivery; None if uncountable.

    Read as the contract says; a file too broken for that is counted by lines (CSV: minus the header).
    """
    try:
        return read_landed(path, contract, "count").table.num_rows
    except (BatchRejected, OSError, ValueError, TypeError, KeyError, pa.ArrowException):
        pass
    if contract.format not in HEADER_LINES:  # binary formats have no lines to count
        return None
    lines = sum(1 for line in path.read_bytes().split(b"\n") if line.strip())
    return max(lines - HEADER_LINES[contract.format], 0)
