"""Strict, column-at-a-time conversions from delivered text to the contract's Arrow types.

Arrow's own `strptime` normalizes impossible dates (it reads 20230230 as 2023-03-02); a register that
says a resident was born on 30 February must be quarantined, not silently corrected. So dates are parsed
and then formatted back: any value that does not round-trip is treated as unparseable.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

_DECIMAL = re.compile(r"numeric\((\d+),\s*(\d+)\)|decimal\((\d+),\s*(\d+)\)")


def arrow_type(data_type: str) -> pa.DataType:
    """The Arrow type for a contract `data_type` (a type name valid in both DuckDB and PostgreSQL)."""
    name = data_type.strip().lower()
    if name in ("varchar", "text", "string"):
        return pa.string()
    if name == "date":
        return pa.date32()
    if name in ("timestamp", "timestamp without time zone"):
        return pa.timestamp("us")
    if name in ("integer", "int", "int4"):
        return pa.int32()
    if name in ("bigint", "int8"):
        return pa.int64()
    if name in ("double precision", "double", "float8"):
        return pa.float64()
    if name == "boolean":
        return pa.bool_()
    match = _DECIMAL.fullmatch(name)
    if match:
        precision, scale = (int(g) for g in match.groups() if g is not None)
        return pa.decimal128(precision, scale)
    raise ValueError(f"unsupported contract data_type {data_type!r}")


_FIXED_WIDTH = {"%Y": 4, "%m": 2, "%d": 2, "%H": 2, "%M": 2, "%S": 2}
_COMPONENT = {"%Y": pc.year, "%m": pc.month, "%d": pc.day, "%H": pc.hour, "%M": pc.minute, "%S": pc.second}


def _field_positions(fmt: str) -> dict[str, tuple[int, int]] | None:
    """Offsets of each directive in a fixed-width format, or None when the width can vary."""
    positions: dict[str, tuple[int, int]] = {}
    offset, i = 0, 0
    while i < len(fmt):
        if fmt[i] == "%":
            directive = fmt[i : i + 2]
            if directive not in _FIXED_WIDTH:
                return None
            positions[directive] = (offset, _FIXED_WIDTH[directive])
            offset += _FIXED_WIDTH[directive]
            i += 2
        else:
            offset += 1
            i += 1
    return positions


def strict_strptime(values: pa.Array, fmt: str, target: pa.DataType) -> pa.Array:
    """Parse text with `fmt`; values that are not real dates/times in exactly that form become null."""
    parsed = pc.strptime(values, format=fmt, unit="us", error_is_null=True)
    positions = _field_positions(fmt)
    if positions is None:
        exact = pc.equal(pc.strftime(parsed, format=fmt), values)
    else:
        # Compare each parsed component with the digits that were written: cheap and strict.
        exact = pc.equal(
            pc.utf8_length(values),
            sum(width for _, width in positions.values()) + len(fmt) - 2 * len(positions),
        )
        for directive, (start, width) in positions.items():
            written = pc.utf8_slice_codeunits(values, start, start + width)
            written = pc.cast(
                pc.if_else(pc.match_substring_regex(written, "^[0-9]+$"), written, None), pa.int64()
            )
            exact = pc.and_(exact, pc.equal(_COMPONENT[directive](parsed), written))
    exact = pc.fill_null(exact, False)
    parsed = pc.if_else(exact, parsed, pa.scalar(None, parsed.type))
    return parsed.cast(target)


def _numeric_text(values: pa.Array, pattern: str) -> pa.Array:
    ok = pc.fill_null(pc.match_substring_regex(values, pattern), False)
    return pc.if_else(ok, values, pa.scalar(None, pa.string()))


def convert(values: pa.Array, data_type: str, parse_format: str | None = None) -> pa.Array:
    """Convert delivered values to the contract type; anything unconvertible becomes null.

    Callers compare nulls before and after to find unparseable cells (see `parsing.parse_batch`).
    """
    target = arrow_type(data_type)
    if pa.types.is_string(target):
        return values.cast(pa.string())
    if values.type == target:
        return values
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        return pc.cast(values, target, safe=False)
    values = values.cast(pa.string())
    if pa.types.is_date(target) or pa.types.is_timestamp(target):
        fmt = parse_format or ("%Y-%m-%d" if pa.types.is_date(target) else "%Y-%m-%d %H:%M:%S")
        return strict_strptime(values, fmt, target)
    if pa.types.is_integer(target):
        return _numeric_text(values, r"^-?[0-9]+$").cast(target)
    if pa.types.is_floating(target):
        return _numeric_text(values, r"^-?[0-9]+(\.[0-9]+)?$").cast(target)
    if pa.types.is_decimal(target):
        text = _numeric_text(
            values, rf"^-?[0-9]{{1,{target.precision - target.scale}}}(\.[0-9]{{1,{target.scale}}})?$"
        )
        return text.cast(target)
    if pa.types.is_boolean(target):
        lowered = pc.utf8_lower(values)
        truthy = pc.is_in(lowered, pa.array(["true", "t", "1", "yes", "y"]))
        falsy = pc.is_in(lowered, pa.array(["false", "f", "0", "no", "n"]))
        return pc.if_else(truthy, True, pc.if_else(falsy, False, pa.scalar(None, pa.bool_())))
    raise ValueError(f"cannot convert to {data_type!r}")
