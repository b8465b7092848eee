"""Chinese personal names from Faker('zh_CN'), drawn for a million people in about a second.

Calling Faker once per person is too slow for a district, and its zh_CN given-name lists are short
(a few dozen per sex), so we draw pools once from a seeded Faker and combine them with NumPy:
a surname (Faker's weighted draw) plus either a Faker given name or two characters taken from that
sex's given names. Names stay consistent with sex and are all encodable in GBK, the register's
encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker import Faker


def _gbk(text: str) -> bool:
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class NamePool:
    surnames: np.ndarray  # weighted draws, so uniform sampling from it keeps Faker's frequencies
    given_male: np.ndarray
    given_female: np.ndarray

    @classmethod
    def from_faker(cls, fake: Faker, rng: np.random.Generator, size: int = 4000) -> NamePool:
        surnames = [s for s in (fake.last_name() for _ in range(size)) if _gbk(s)]

        def given(draw) -> np.ndarray:
            draws = [n for n in (draw() for _ in range(size)) if _gbk(n)]
            chars = sorted({ch for n in draws for ch in n})
            # Faker's own names keep their frequency; two-character pairs add variety.
            pairs = ["".join(p) for p in rng.choice(chars, size=(size // 2, 2))]
            return np.array(draws + pairs, dtype=object)

        return cls(
            surnames=np.array(surnames, dtype=object),
            given_male=given(fake.first_name_male),
            given_female=given(fake.first_name_female),
        )

    def draw(
        self, rng: np.random.Generator, sexes: np.ndarray, surnames: np.ndarray | None = None
    ) -> np.ndarray:
        """Full names for sex codes (1 male, 2 female); `surnames` overrides the surname (e.g. a father's)."""
        n = len(sexes)
        if surnames is None:
            surnames = self.surnames[rng.integers(0, len(self.surnames), n)]
        male = self.given_male[rng.integers(0, len(self.given_male), n)]
        female = self.given_female[rng.integers(0, len(self.given_female), n)]
        return surnames + np.where(sexes == 1, male, female)
