"""Redact personal data from Chinese free text (appeal descriptions) on whole Arrow columns.

Replaced, in this order, because an earlier pattern's digits would otherwise be half-eaten by a later
one (an ID number contains a valid-looking mobile number; a 16-19 digit card number contains both):

    e-mail addresses                                                  -> [EMAIL]
    18-character resident ID numbers (GB 11643 layout, trailing X)    -> [ID]
    bank-card-like runs of 16-19 digits                               -> [CARD]
    mainland mobile numbers 1[3-9]x xxxx xxxx (+86/0086, spaces, dashes) -> [PHONE]
    landlines 0xx(x)-xxxxxxx(x), area code optionally in parentheses  -> [PHONE]
    card numbers written in groups of four ("6222 0212 3456 7890")   -> [CARD]

Why hand-written: the PII libraries at hand (Presidio and the like) work on Python strings one at a time
and know Western formats; none matches Chinese ID, mobile and landline numbers on Arrow columns.
`pyarrow.compute.replace_substring_regex` runs RE2 over the whole column in C++, so a day of descriptions
takes milliseconds and nulls stay null.

RE2 has no lookbehind or lookahead, so "not part of a longer number" is written as a captured
neighbour: `(^|[^0-9])core([^0-9]|$)` and the neighbours are put back (`\\1[TOKEN]\\2`). A match
consumes its right neighbour, so of two numbers separated by a single character the second is only
found by a second pass; each pattern therefore runs twice (enough: the first pass never skips two
numbers in a row). When the consumed neighbour was an opening parenthesis or a plus sign that belongs to
the number, the number is still replaced but that sign stays in front of the token (`([PHONE]`).

Full-width digits (０-９, typed with Chinese input methods) are first turned into ASCII digits, the only
change made to text without personal data in it. Numbers written with other separators (dots, slashes)
or in Chinese numerals are not caught; digit runs longer than 19 are left alone, as they are not
identifiers of these kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

D = "[0-9]"
NOT_D = "[^0-9]"
SEPS = "[ \\-－　]"  # a single space or dash (ASCII or full-width) between digit groups
SEP = SEPS + "?"
FULL_WIDTH_DIGITS = "０１２３４５６７８９"


@dataclass(frozen=True)
class PiiPattern:
    """One kind of personal data: the RE2 expression for the value itself and its replacement."""

    name: str
    token: str
    core: str
    bounded: bool = True  # must not be part of a longer digit run
    right: str = NOT_D  # what may follow the value (when bounded)

    @property
    def regex(self) -> str:
        if not self.bounded:
            return self.core
        return f"(^|{NOT_D})(?:{self.core})({self.right}|$)"

    @property
    def replacement(self) -> str:
        return f"\\1{self.token}\\2" if self.bounded else self.token


PATTERNS: tuple[PiiPattern, ...] = (
    PiiPattern(
        "email",
        "[EMAIL]",
        r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
        bounded=False,
    ),
    PiiPattern(
        "resident_id",
        "[ID]",
        # region (6), birth date yyyymmdd, sequence (3), check character (digit or X)
        f"[1-9]{D}{{5}}(?:18|19|20){D}{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]{D}|3[01]){D}{{3}}[0-9Xx]",
        right="[^0-9Xx]",
    ),
    PiiPattern("bank_card", "[CARD]", f"{D}{{16,19}}"),
    PiiPattern("mobile", "[PHONE]", f"(?:(?:\\+|00)?86{SEP})?1[3-9]{D}(?:{SEP}{D}{{4}}){{2}}"),
    PiiPattern("landline", "[PHONE]", f"[(（]?0{D}{{2,3}}[)）]?{SEP}{D}{{7,8}}"),
    # Card numbers written in groups of four come last: a grouped pattern would otherwise read phone
    # numbers side by side ("6222 0212 3456 7890 010-70638065") as one card and leave half a number.
    PiiPattern("bank_card_grouped", "[CARD]", f"{D}{{4}}(?:{SEPS}{D}{{4}}){{3}}(?:{SEPS}{D}{{1,3}})?"),
)


def redact_free_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Replace ID, card, phone and e-mail patterns in a string column; nulls and other text unchanged."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise TypeError(f"redact_free_text needs a string column, got {values.type}")
    for ascii_digit, wide in enumerate(FULL_WIDTH_DIGITS):
        values = pc.replace_substring(values, pattern=wide, replacement=str(ascii_digit))
    for pattern in PATTERNS:
        passes = 2 if pattern.bounded else 1
        for _ in range(passes):
            values = pc.replace_substring_regex(
                values, pattern=pattern.regex, replacement=pattern.replacement
            )
    return values
