"""Which cells to withhold: primary suppression under k, complementary suppression by optimization.

Primary: every cell with 1..k-1 contributors (distinct people or devices) is withheld.

Complementary: a mixed-integer programme (HiGHS through scipy's `milp`) picks the extra cells to
withhold with the least information lost (the sum of the withheld counts, plus one per cell so that
of two equal losses the one with fewer cells wins). Its constraints, for every identity "total =
sum of parts" found between the published cells (PopulationCells.nested_groups), ask each withheld
member to have other withheld members in the same identity whose counts, with its own, reach the
protection width — the classic model of Fischetti and Salazar reduced to its local form.

Local constraints do not see every way of combining equations across relations (a row-level view's
classes and a mart's cells add up to the same street total without either being published). So the
programme runs in a loop with the attacker (attack.attacker_intervals): every withheld cell whose
interval is still narrower than the protection width adds a cut, "withhold at least one more of the
published cells overlapping it", and the programme is solved again. The loop ends when the attacker
fails everywhere, or reports the cells it could not protect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from community_dw.disclosure.attack import Interval, attacker_intervals
from community_dw.disclosure.cells import PopulationCells

MAX_ROUNDS = 40


@dataclass
class Protection:
    population: str
    unit: str
    k: int
    width: int
    primary: set[int]
    suppressed: set[int]
    intervals: dict[int, Interval]
    rounds: int
    unprotected: list[Interval] = field(default_factory=list)

    @property
    def complementary(self) -> set[int]:
        return self.suppressed - self.primary

    @property
    def min_width(self) -> float | None:
        return min((i.width for i in self.intervals.values()), default=None)


def primary_cells(cells: PopulationCells, k: int) -> set[int]:
    """Cells with 1..k-1 contributors (or units), published or derivable."""
    return {c.id for c in cells.cells if 0 < c.contributors < k or 0 < c.value < k}


def _solve(cells: PopulationCells, primary: set[int], width: int, cuts: list[list[int]]) -> set[int]:
    count = len(cells.cells)
    values = np.array([c.value for c in cells.cells], dtype=float)
    mass = np.minimum(values, width)
    groups = cells.nested_groups()
    rows = sum(2 * (1 + len(parts)) for _, parts in groups) + len(cuts)
    matrix = lil_matrix((max(rows, 1), count))
    lower = np.zeros(max(rows, 1))
    r = 0
    for total, parts in groups:
        members = [total, *parts]
        for i in members:
            if cells.cells[i].implicit and i not in primary:
                continue  # a derivable cell of k or more needs no protection of its own
            others = [j for j in members if j != i]
            # at least one other member withheld with it ...
            for j in others:
                matrix[r, j] = 1.0
            matrix[r, i] = -1.0
            r += 1
            # ... and together enough count to keep its interval at least `width` wide, or all of
            # them when the identity holds less than that (the attacker's programme then decides)
            for j in others:
                matrix[r, j] = mass[j]
            matrix[r, i] = -min(max(0.0, width - values[i]), float(sum(mass[j] for j in others)))
            r += 1
    for cut in cuts:
        for j in cut:
            matrix[r, j] = 1.0
        lower[r] = 1.0
        r += 1
    low_bound = np.zeros(count)
    low_bound[list(primary)] = 1.0
    implicit = [c.id for c in cells.cells if c.implicit]
    low_bound[implicit] = 1.0  # never published: unknown to the attacker at no cost
    constraints = [LinearConstraint(matrix.tocsr(), lower, np.inf)] if r else []
    cost = values + 1.0
    cost[implicit] = 0.0
    result = milp(
        c=cost,
        integrality=np.ones(count),
        bounds=Bounds(low_bound, np.ones(count)),
        constraints=constraints,
        options={"time_limit": 120},
    )
    if result.x is None:
        raise RuntimeError(f"{cells.name}: no suppression pattern satisfies the policy ({result.message})")
    return {i for i in range(count) if result.x[i] > 0.5 and not cells.cells[i].implicit}


def protect(cells: PopulationCells, k: int, width: int) -> Protection:
    """Choose the withheld cells of one population and prove them against the attacker."""
    primary = primary_cells(cells, k)
    cells.small = primary
    primary_published = primary - {c.id for c in cells.cells if c.implicit}
    cuts: list[list[int]] = []
    suppressed: set[int] = set()
    intervals: dict[int, Interval] = {}
    round_number = 0
    for round_number in range(1, MAX_ROUNDS + 1):
        suppressed = _solve(cells, primary, width, cuts) if primary else set()
        intervals = attacker_intervals(cells, suppressed)
        failing = [i for i in intervals.values() if i.width < width]
        if not failing:
            return Protection(
                cells.name, cells.unit, k, width, primary_published, suppressed, intervals, round_number
            )
        new_cuts = []
        for interval in failing:
            candidates = [
                j
                for j in cells.overlapping(interval.cell)
                if j not in suppressed and not cells.cells[j].implicit
            ]
            if candidates:
                new_cuts.append(candidates)
        if not new_cuts:
            break
        cuts.extend(new_cuts)
    failing = sorted((i for i in intervals.values() if i.width < width), key=lambda i: i.cell)
    return Protection(
        cells.name, cells.unit, k, width, primary_published, suppressed, intervals, round_number, failing
    )
