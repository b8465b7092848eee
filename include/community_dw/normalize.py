"""Normalization at the door: one spelling per identifier, so one person has one pseudonym.

A producer may send the same household number in full-width digits (１２３), an ID number with a
zero-width space copied from a web form or a lower-case check letter, a case id with a trailing blank.
Each spelling would hash to a different pseudonym and escape the duplicate-key rule. A contract column
declaring `meta.normalize` is rewritten here, in `parsing.parse_batch`, before type conversion,
validation, derivation and pseudonymization, so every later step sees the one spelling:

    identifier  Unicode NFKC (full-width digits and letters become ASCII, an ideographic space a
                space), invisible format characters removed, surrounding whitespace trimmed
    id_number   identifier, then upper case (a resident ID number's check letter x becomes X)

Everything is one pyarrow.compute kernel per step over the whole column; a column that is all ASCII
(nearly always) skips the Unicode steps, which cost about ten times more.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

# Zero-width space, non-joiner and joiner (U+200B..U+200D), word joiner (U+2060), the byte-order mark
# used as a zero-width no-break space (U+FEFF) and the soft hyphen (U+00AD): invisible when shown,
# different when hashed. NFKC keeps them, so they are removed explicitly.
INVISIBLE = "[\u00ad\u200b-\u200d\u2060\ufeff]"


def _as_string_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(pa.string())


def identifier(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """NFKC, invisible characters removed, surrounding whitespace trimmed; null stays null."""
    values = _as_string_array(values)
    if pc.all(pc.string_is_ascii(values)).as_py() is False:
        values = pc.utf8_normalize(values, "NFKC")
        values = pc.replace_substring_regex(values, INVISIBLE, "")
    return pc.utf8_trim_whitespace(values)


def id_number(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """An identifier in upper case: 11010519491231002x and 11010519491231002X are one person."""
    return pc.utf8_upper(identifier(values))


NORMALIZERS: dict[str, Callable[[pa.Array | pa.ChunkedArray], pa.Array]] = {
    "identifier": identifier,
    "id_number": id_number,
}


def normalize(kind: str, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if kind not in NORMALIZERS:
        raise KeyError(f"unknown normalization {kind!r}; known: {', '.join(sorted(NORMALIZERS))}")
    return NORMALIZERS[kind](values)
