"""Generated appeals with known planted personal data, from the demo's own planting code.

Every text is one of the demo's complaint templates with one to four values of random kinds written
into it by `community_dw_tools.synthetic.appeals.plant`, in the forms the demo city uses; the spans come
from the planting itself, not from any redactor. Reporters are drawn like the register's residents:
a Faker name pool, an 18-character ID number with a valid check character, a mobile number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker import Faker

from community_dw_tools.synthetic import appeals, identity
from community_dw_tools.synthetic.names import NamePool
from community_dw_tools.synthetic.population import ROADS

REGIONS = (330106, 330102, 330110, 110105, 310104, 440304, 320102, 510107, 420106, 341102)


@dataclass(frozen=True)
class Case:
    text: str
    spans: tuple[tuple[str, int, int], ...]  # (kind, start, end)
    forms: tuple[str, ...] = ()


def _id_number(rng: np.random.Generator) -> str:
    day = np.datetime64("1935-01-01") + rng.integers(0, 30_000)
    ymd = int(str(day).replace("-", ""))
    body = np.array(
        [REGIONS[int(rng.integers(len(REGIONS)))] * 10**11 + ymd * 1000 + int(rng.integers(0, 1000))]
    )
    return str(identity.id_strings(body)[0])


def generated_cases(n: int = 2000, seed: int = 8) -> list[Case]:
    """`n` texts; every kind is planted in about a third of them."""
    rng = np.random.default_rng(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    names = NamePool.from_faker(fake, rng, size=2000)
    templates = [t for options in appeals.TEMPLATES.values() for t in options]
    cases = []
    for _ in range(n):
        sex = np.array([int(rng.integers(1, 3))])
        reporter = appeals._Reporter(
            name=str(names.draw(rng, sex)[0]),
            phone=str(int(identity.phone_numbers(rng, 1)[0])),
            id_number=_id_number(rng),
        )
        road = ROADS[int(rng.integers(len(ROADS)))]
        base = templates[int(rng.integers(len(templates)))].format(
            road=road, building=f"{int(rng.integers(1, 41))}幢"
        )
        count = int(rng.integers(1, 5))
        kinds = tuple(str(k) for k in rng.choice(appeals.PII_KINDS, size=count, replace=False))
        text, planted = appeals.plant(rng, base, kinds, reporter, road, reporter.name)
        cases.append(
            Case(
                text,
                tuple((p.kind, p.start, p.end) for p in planted),
                tuple(f"{p.kind}:{p.form}" for p in planted),
            )
        )
    return cases
