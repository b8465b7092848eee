"""Civil-affairs assistance cases: who receives which allowance, as daily incremental case versions.

Cases follow the register's special groups: low-income residents receive the minimum living allowance
(or extreme-poverty support), a share of disabled residents a disability subsidy, registered residents
aged 88+ the senior allowance; a few receive temporary assistance. About 3% of residents have a case.
The first day's extract carries every case's current version; later days carry the ~0.3% of cases
that changed (suspended, resumed, closed, amount adjusted) and new cases. Amounts are the Hangzhou
orders of magnitude, in CNY with two decimals, held as integer fen so they never drift.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from community_dw_tools.synthetic.geography import Geography
from community_dw_tools.synthetic.population import DISABLED, LOW_INCOME, Register

SOURCE = "civil_affairs_assistance"
PROGRAMMES = (
    "minimum_living_allowance",
    "extreme_poverty_support",
    "temporary_assistance",
    "disability_subsidy",
    "senior_allowance",
)
CHANGE_SHARE = 0.003
SENIOR_AGE = 88  # registered residents this old receive the senior allowance
MIN_CHANGES = 100  # a day's file big enough to carry every defect kind under max_bad_row_share


def _fen(yuan: float) -> int:
    return round(yuan * 100)


def format_amount(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


@dataclass
class Case:
    case_id: str
    resident: int  # register index
    resident_id: str
    programme: str
    status: str
    start_date: dt.date
    end_date: dt.date | None
    amount_fen: int
    community_code: str
    updated_at: dt.datetime

    def record(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "resident_id": self.resident_id,
            "programme": self.programme,
            "status": self.status,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat() if self.end_date else None,
            "monthly_amount": format_amount(self.amount_fen),
            "community_code": self.community_code,
            "updated_at": self.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
        }


@dataclass
class CaseBook:
    """All cases with their current version."""

    cases: list[Case] = field(default_factory=list)
    next_number: int = 1

    def new_id(self, year: int) -> str:
        number = self.next_number
        self.next_number += 1
        return f"MZ{year}{number:07d}"


def _amount(rng: np.random.Generator, programme: str, age: int) -> int:
    if programme == "minimum_living_allowance":  # the gap to the 1,255 yuan standard
        return _fen(int(rng.integers(300, 1256)))
    if programme == "extreme_poverty_support":
        return _fen(1632 + (0, 251, 502)[int(rng.integers(3))])
    if programme == "temporary_assistance":
        return _fen(int(rng.integers(5, 31)) * 100)
    if programme == "disability_subsidy":
        return _fen((314, 251, 502)[int(rng.integers(3))])
    return _fen(600 if age >= 100 else 300 if age >= 90 else 100)


def _office_time(rng: np.random.Generator, day: dt.date) -> dt.datetime:
    seconds = int(rng.integers(8 * 3600, 18 * 3600))
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)


def _community(register: Register, geo: Geography, i: int) -> str:
    return str(geo.community_codes[geo.grid_community[register.grid[i]]])


def open_cases(rng: np.random.Generator, register: Register, geo: Geography, on: dt.date) -> CaseBook:
    """The case book as it stands on the first day (all current versions, historical timestamps)."""
    book = CaseBook()
    ages = register.ages(on)
    present = register.present()
    low = present[(register.groups[present] & LOW_INCOME) > 0]
    disabled = present[((register.groups[present] & DISABLED) > 0) & (rng.random(len(present)) < 0.4)]
    senior = present[(ages[present] >= SENIOR_AGE) & (register.residence_type[present] == 1)]
    temporary = rng.choice(present, size=max(1, len(present) // 2000), replace=False)
    candidates: list[tuple[int, str]] = []
    for i in low.tolist():
        extreme = rng.random() < (0.15 if ages[i] >= 60 or register.groups[i] & DISABLED else 0.05)
        candidates.append((i, "extreme_poverty_support" if extreme else "minimum_living_allowance"))
    candidates += [(i, "disability_subsidy") for i in disabled.tolist()]
    candidates += [(i, "senior_allowance") for i in senior.tolist()]
    candidates += [(i, "temporary_assistance") for i in sorted(temporary.tolist())]
    for i, programme in candidates:
        lived = (np.datetime64(on) - register.move_in[i]).astype(int)
        start = on - dt.timedelta(days=int(rng.integers(30, max(31, min(lived, 8 * 365)))))
        end = None
        status = ("active", "suspended", "closed")[int(rng.choice(3, p=[0.92, 0.04, 0.04]))]
        if programme == "temporary_assistance":
            start = on - dt.timedelta(days=int(rng.integers(1, 80)))
            end = start + dt.timedelta(days=90)
            status = "active"
        if status == "closed":
            end = start + dt.timedelta(days=int(rng.integers(1, max(2, (on - start).days))))
        last_change = (end if status == "closed" and end else start) + dt.timedelta(
            days=int(rng.integers(0, 20))
        )
        book.cases.append(
            Case(
                case_id=book.new_id(start.year),
                resident=i,
                resident_id=str(register.resident_id[i]),
                programme=programme,
                status=status,
                start_date=start,
                end_date=end,
                amount_fen=_amount(rng, programme, int(ages[i])),
                community_code=_community(register, geo, i),
                updated_at=_office_time(rng, min(last_change, on - dt.timedelta(days=1))),
            )
        )
    return book


def change_cases(
    rng: np.random.Generator, book: CaseBook, register: Register, geo: Geography, day: dt.date
) -> list[Case]:
    """One day's changes: ~0.3% of cases change status or amount, and new cases open."""
    open_ = [j for j, c in enumerate(book.cases) if c.status != "closed"]
    n = min(len(open_), max(MIN_CHANGES, round(len(book.cases) * CHANGE_SHARE)))
    changed: list[Case] = []
    picked = rng.choice(len(open_), size=n, replace=False) if n else []
    for j in sorted(open_[int(x)] for x in picked):
        case = book.cases[j]
        action = rng.choice(["suspend", "close", "adjust", "new"], p=[0.35, 0.25, 0.2, 0.2])
        if action == "suspend":
            case.status = "active" if case.status == "suspended" else "suspended"
        elif action == "close":
            case.status, case.end_date = "closed", day
        elif action == "adjust" and case.programme in ("minimum_living_allowance", "temporary_assistance"):
            case.amount_fen = _amount(rng, case.programme, 0)
        else:  # a new case for someone present today
            present = register.present()
            i = int(rng.choice(present))
            programme = ("temporary_assistance", "minimum_living_allowance")[int(rng.integers(2))]
            case = Case(
                case_id=book.new_id(day.year),
                resident=i,
                resident_id=str(register.resident_id[i]),
                programme=programme,
                status="active",
                start_date=day,
                end_date=day + dt.timedelta(days=90) if programme == "temporary_assistance" else None,
                amount_fen=_amount(rng, programme, 0),
                community_code=_community(register, geo, i),
                updated_at=day,  # replaced below
            )
            book.cases.append(case)
        case.updated_at = _office_time(rng, day)
        changed.append(case)
    changed.sort(key=lambda c: (c.updated_at, c.case_id))
    return changed


def day_records(
    rng: np.random.Generator, book: CaseBook, register: Register, geo: Geography, day: dt.date, first: bool
) -> list[dict[str, Any]]:
    """The records of one day's extract (versions in updated_at order)."""
    if first:
        cases = sorted(book.cases, key=lambda c: (c.updated_at, c.case_id))
    else:
        cases = change_cases(rng, book, register, geo, day)
    return [c.record() for c in cases]
