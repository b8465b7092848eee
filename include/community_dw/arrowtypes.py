"""Strict, column-at-a-time conversions from delivered text to the contract's Arrow types.

Arrow's own `strptime` normalizes impossible dates (it reads 20230230 as 2023-03-02); a register that
says a resident was born on 30 February must be quarantined, not silently corrected. So dates are parsed
and then formatted back: any value that does not round-trip is treated as unparseable.

Contract timestamps are naive local time (`clock.LOCAL_TZ`). A value that names its zone
(`2026-11-25T02:00:00+00:00`, `...Z`, ISO 8601 with `T` or a space) is unambiguous whatever the declared
format, so it is converted to local wall-clock time: quarantining it would lose a good value, reading
its digits as local would load it shifted by the offset.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from community_dw.clock import LOCAL_TZ_NAME

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


_ZONED = (
    r"^(?P<wall>[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2})(?P<fraction>\.[0-9]{1,6})?"
    r"(?P<zone>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)$"
)
_MICROS = 1_000_000


def _digits(text: pa.Array, start: int, stop: int) -> pa.Array:
    """Characters [start, stop) as an integer; 0 where the text is shorter."""
    part = pc.utf8_slice_codeunits(text, start, stop)
    return pc.cast(pc.if_else(pc.equal(part, ""), "0", part), pa.int64())


def zoned_to_local(values: pa.Array) -> pa.Array:
    """ISO 8601 text with a zone as naive local timestamps (us); null where a value has no zone or is
    not a real moment (month 13, offset +25:00)."""
    parts = pc.extract_regex(values, _ZONED)
    wall_text = pc.replace_substring(pc.struct_field(parts, "wall"), "T", " ")
    wall = strict_strptime(wall_text, "%Y-%m-%d %H:%M:%S", pa.timestamp("us"))
    fraction = pc.utf8_rpad(pc.utf8_slice_codeunits(pc.struct_field(parts, "fraction"), 1, 7), 6, "0")
    zone = pc.utf8_upper(pc.struct_field(parts, "zone"))
    offset = pc.replace_substring(pc.utf8_slice_codeunits(zone, 1, 7), ":", "")  # HH or HHMM
    hours, minutes = _digits(offset, 0, 2), _digits(offset, 2, 4)
    sign = pc.if_else(pc.equal(pc.utf8_slice_codeunits(zone, 0, 1), "-"), -1, 1)
    offset_micros = pc.multiply(
        sign, pc.multiply(pc.add(pc.multiply(hours, 3600), pc.multiply(minutes, 60)), _MICROS)
    )
    sane = pc.and_(pc.less_equal(hours, 14), pc.less(minutes, 60))
    utc = pc.subtract(pc.add(wall.cast(pa.int64()), pc.cast(fraction, pa.int64())), offset_micros)
    utc = pc.if_else(sane, utc, pa.scalar(None, pa.int64()))
    local = utc.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us", tz=LOCAL_TZ_NAME))
    return pc.local_timestamp(local)


def _timestamps(values: pa.Array, fmt: str, target: pa.DataType) -> pa.Array:
    """Naive text in the declared format, and zone-aware ISO 8601 text converted to local time."""
    naive = strict_strptime(values, fmt, target)
    if not pc.any(pc.and_(pc.is_valid(values), pc.is_null(naive))).as_py():
        return naive  # every value was naive text in the declared format: the usual case, no regex
    zoned = pc.fill_null(pc.match_substring_regex(values, _ZONED), False)
    return pc.if_else(zoned, zoned_to_local(values).cast(target), naive)


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
    if pa.types.is_timestamp(target):
        return _timestamps(values, parse_format or "%Y-%m-%d %H:%M:%S", target)
    if pa.types.is_date(target):
        return strict_strptime(values, parse_format or "%Y-%m-%d", target)
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
