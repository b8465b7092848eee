"""Identity numbers for hand-built deliveries, computed here independently of the package's own code."""

from __future__ import annotations

import datetime as dt

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(birth: dt.date, sex: str = "2", region: str = "110105", serial: str = "00") -> str:
    """A GB 11643 resident ID number born on `birth` (sex '1' male, '2' female) with a correct check digit."""
    body = f"{region}{birth:%Y%m%d}{serial}{'1' if sex == '1' else '2'}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]
