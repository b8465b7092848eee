"""Identifiers that look and check like real ones: resident ID numbers, phones, org codes, MSISDN hashes.

Resident IDs follow GB 11643: 6-digit region of first registration, birth date, a 3-digit sequence
whose parity is the sex (odd male) and a check digit. They are built for whole arrays with NumPy
(the same arithmetic as `stdnum.cn.ric.calc_check_digit`, which the tests cross-check), because a
district has a million of them. Region codes are only used for birth years in which python-stdnum's
division table says the code existed, so every clean ID passes `stdnum.cn.ric.is_valid`.
"""

from __future__ import annotations

import hashlib
from functools import cache

import numpy as np
from stdnum.cn import ric, uscc

from community_dw_tools.synthetic.arrays import distinct, member_of, repeated
from community_dw_tools.synthetic.geography import DISTRICT_CODE

FIRST_YEAR, LAST_YEAR = 1900, 2030
_WEIGHTS = np.array([(2 ** (17 - i)) % 11 for i in range(17)], dtype=np.int64)
_CHECK_CHARS = np.array(list("10X98765432"))

# Where residents were first registered, by residence category. Later codes are fallbacks for birth
# years in which the preferred code did not yet (or no longer) exist.
REGION_POOLS: dict[str, tuple[tuple[str, float], ...]] = {
    "local": (
        (DISTRICT_CODE, 0.78),
        ("330102", 0.06),
        ("330105", 0.05),
        ("330103", 0.04),
        ("330104", 0.03),
        ("330120", 0.03),  # 杭州市市区, before 1984
        ("330100", 0.01),
    ),
    "zhejiang": (
        ("330108", 0.06),
        ("330109", 0.08),
        ("330110", 0.08),
        ("330122", 0.05),
        ("330127", 0.05),
        ("330203", 0.06),
        ("330205", 0.04),
        ("330225", 0.04),
        ("330302", 0.06),
        ("330304", 0.04),
        ("330402", 0.05),
        ("330502", 0.05),
        ("330602", 0.05),
        ("330702", 0.06),
        ("330802", 0.05),
        ("330902", 0.03),
        ("331002", 0.05),
        ("331102", 0.05),
        ("330000", 0.01),
    ),
    "province": (
        ("341221", 0.08),  # 临泉县, Anhui
        ("340102", 0.05),
        ("342221", 0.05),
        ("362401", 0.03),
        ("360121", 0.05),
        ("412701", 0.05),
        ("410102", 0.04),
        ("411522", 0.04),
        ("420102", 0.04),
        ("421081", 0.03),
        ("430102", 0.04),
        ("431121", 0.04),
        ("510104", 0.04),
        ("511321", 0.04),
        ("522101", 0.04),
        ("520102", 0.03),
        ("320102", 0.04),
        ("320321", 0.04),
        ("310101", 0.03),
        ("110101", 0.02),
        ("350102", 0.03),
        ("370102", 0.03),
        ("130102", 0.02),
        ("230102", 0.02),
        ("450102", 0.03),
        ("610102", 0.02),
        ("620102", 0.02),
        ("340000", 0.01),
    ),
    "overseas": (
        ("810000", 0.45),  # Hong Kong residence permits (born after 1997 in stdnum's table)
        ("820000", 0.15),  # Macao
        ("710000", 0.40),  # Taiwan
    ),
}
CATEGORIES = tuple(REGION_POOLS)


@cache
def _valid_years(code: str) -> np.ndarray:
    """Birth years (FIRST_YEAR..LAST_YEAR) for which stdnum accepts `code` as a birth place."""
    years = np.zeros(LAST_YEAR - FIRST_YEAR + 1, dtype=bool)
    for i, year in enumerate(range(FIRST_YEAR, LAST_YEAR + 1)):
        body = f"{code}{year}0101001"
        years[i] = ric.is_valid(body + ric.calc_check_digit(body + "0"))
    return years


def valid_in_year(codes: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Whether each 6-digit region code (int) existed in stdnum's table in the matching birth year."""
    out = np.zeros(len(codes), dtype=bool)
    index = np.clip(years, FIRST_YEAR, LAST_YEAR) - FIRST_YEAR
    for code in distinct(codes).tolist():
        these = codes == code
        out[these] = _valid_years(f"{code:06d}")[index[these]]
    return out


def check_digits(body17: np.ndarray) -> np.ndarray:
    """GB 11643 check characters for an int64 array of 17-digit ID bodies."""
    digits = np.empty((len(body17), 17), dtype=np.int64)
    rest = body17.astype(np.int64)
    for i in range(16, -1, -1):
        digits[:, i] = rest % 10
        rest //= 10
    return _CHECK_CHARS[(digits @ _WEIGHTS) % 11]


def id_strings(body17: np.ndarray) -> np.ndarray:
    """Full 18-character ID numbers for an array of 17-digit bodies."""
    return np.char.add(body17.astype("U17"), check_digits(body17)).astype(object)


def draw_regions(rng: np.random.Generator, categories: np.ndarray, birth_years: np.ndarray) -> np.ndarray:
    """A 6-digit region code (int) per person, valid in stdnum's table for the person's birth year.

    `categories` indexes CATEGORIES. Within a category the pool weights hold among the codes that
    existed in the birth year; a year in which none existed falls back to the `province` pool.
    """
    regions = np.zeros(len(categories), dtype=np.int64)
    years = np.clip(birth_years, FIRST_YEAR, LAST_YEAR)
    for c, name in enumerate(CATEGORIES):
        pool = REGION_POOLS[name]
        codes = np.array([int(code) for code, _ in pool], dtype=np.int64)
        probs = np.array([w for _, w in pool])
        valid = np.stack([_valid_years(code) for code, _ in pool])  # (codes, years)
        members = np.flatnonzero(categories == c)
        for year in distinct(years[members]):
            who = members[years[members] == year]
            allowed = valid[:, year - FIRST_YEAR] * probs
            if allowed.sum() == 0:
                fallback = np.full(len(who), CATEGORIES.index("province"))
                regions[who] = draw_regions(rng, fallback, birth_years[who])
            else:
                regions[who] = rng.choice(codes, size=len(who), p=allowed / allowed.sum())
    return regions


def make_id_bodies(
    rng: np.random.Generator,
    regions: np.ndarray,
    birth_yyyymmdd: np.ndarray,
    sexes: np.ndarray,
    taken: np.ndarray | None = None,
) -> np.ndarray:
    """Unique 17-digit bodies (int64): region, birth date, sequence with parity from sex (1 male, 2 female).

    `taken` holds bodies already issued (e.g. yesterday's residents); new ones never collide with them.
    """
    base = regions.astype(np.int64) * 10**11 + birth_yyyymmdd.astype(np.int64) * 1000
    parity = (sexes == 1).astype(np.int64)  # odd sequence for men
    bodies = base + 2 * rng.integers(0, 500, len(base)) + parity
    taken = np.sort(np.zeros(0, dtype=np.int64) if taken is None else taken)
    for _ in range(100):
        clash = repeated(bodies) | member_of(bodies, taken)
        if not clash.any():
            return bodies
        n = int(clash.sum())
        bodies[clash] = base[clash] + 2 * rng.integers(0, 500, n) + parity[clash]
    raise RuntimeError("could not draw unique resident ID numbers")


def corrupt_check_digit(resident_id: str, rng: np.random.Generator) -> str:
    """The same ID with a different (therefore wrong) check character."""
    choices = [c for c in "0123456789X" if c != resident_id[-1]]
    return resident_id[:-1] + choices[int(rng.integers(len(choices)))]


# Mobile prefixes of the three carriers (CMCC, CUCC, CTCC).
MOBILE_PREFIXES = np.array(
    [134, 135, 136, 137, 138, 139, 147, 150, 151, 152, 157, 158, 159, 172, 178, 182, 183, 184, 187, 188,
     195, 197, 198, 130, 131, 132, 145, 155, 156, 166, 175, 176, 185, 186, 196, 133, 149, 153, 173, 177,
     180, 181, 189, 190, 191, 193, 199],
    dtype=np.int64,
)  # fmt: skip


def phone_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """11-digit mobile numbers (int64), 1[3-9]x prefixes."""
    prefix = MOBILE_PREFIXES[rng.integers(0, len(MOBILE_PREFIXES), n)]
    return prefix * 10**8 + rng.integers(0, 10**8, n)


def msisdn_hashes(msisdns: np.ndarray, carriers: list[str]) -> list[str]:
    """Each carrier's hash of its MSISDNs (SHA-256 hex of "CARRIER:number"): 64 hex characters."""
    return [
        hashlib.sha256(f"{c}:{m}".encode()).hexdigest()
        for c, m in zip(carriers, msisdns.tolist(), strict=True)
    ]


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def unified_social_credit_code(rng: np.random.Generator, region: str = DISTRICT_CODE) -> str:
    """An 18-character unified social credit code of a public institution (事业单位, prefix 12)."""
    body = "12" + region + "".join(_USCC_ALPHABET[int(i)] for i in rng.integers(0, 10, 9))
    return body + uscc.calc_check_digit(body)
