"""The attacker's bounds on withheld cells, by linear programming over everything published.

This is what sdcTable's `attack()` computes for one table, done for the release as a whole: the
unknowns are the population's atoms (non-negative), every published cell of every relation is an
equation over them (rows shown by a row-level view are cells too), every withheld cell whose row is
listed counts at least one, and each withheld cell is minimized and maximized with HiGHS. Totals, margins in other marts, identities between columns
(total = sum of parts) and counts taken from row-level views all become equations this way without
being declared: they are sums over the same atoms.

Speed: one `linprog` call costs about 5 ms on this machine whatever its size, and a release has
thousands of withheld cells in hundreds of independent groups. Independent components are therefore
solved together: each call minimizes (or maximizes) the sum of one withheld cell per component, and
because the components share no variable, the optimum of the sum is the optimum of each part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from community_dw.disclosure.cells import PopulationCells


@dataclass(frozen=True)
class Interval:
    cell: int
    value: int
    lower: float
    upper: float  # inf when the attacker has no upper bound

    @property
    def width(self) -> float:
        return self.upper - self.lower


def components(cells: PopulationCells, involved: list[int]) -> list[list[int]]:
    """Connected components of cells (sharing atoms), as lists of cell ids."""
    parent = list(range(len(cells.atoms)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for cell_id in involved:
        atoms = cells.cells[cell_id].atoms
        root = find(int(atoms[0]))
        for atom in atoms[1:]:
            other = find(int(atom))
            if other != root:
                parent[other] = root
    grouped: dict[int, list[int]] = {}
    for cell_id in involved:
        grouped.setdefault(find(int(cells.cells[cell_id].atoms[0])), []).append(cell_id)
    return list(grouped.values())


def attacker_intervals(
    cells: PopulationCells, suppressed: set[int], targets: set[int] | None = None
) -> dict[int, Interval]:
    """Lower and upper bound of each target cell given every published cell of the population.

    Published: every cell that is neither withheld nor implicit (derivable, never shown itself).
    Targets: by default the withheld cells and the implicit ones under k.
    """
    unknown = set(suppressed) | {c.id for c in cells.cells if c.implicit}
    if targets is None:
        targets = set(suppressed) | {c.id for c in cells.cells if c.implicit and c.id in cells.small}
    if not targets:
        return {}
    suppressed = unknown
    published = [c.id for c in cells.cells if c.id not in unknown]
    comps = components(cells, sorted(unknown) + published)
    targets = [sorted(set(comp) & targets) for comp in comps]
    comps = [comp for comp, t in zip(comps, targets, strict=True) if t]
    targets = [t for t in targets if t]
    # The variables: atoms of the components that hold withheld cells.
    atoms = np.unique(np.concatenate([cells.cells[c].atoms for comp in comps for c in comp]))
    position = {int(a): i for i, a in enumerate(atoms)}
    rows, cols, data, rhs = [], [], [], []
    equations = 0
    for comp in comps:
        for cell_id in comp:
            if cell_id in suppressed:
                continue
            cell = cells.cells[cell_id]
            for atom in cell.atoms:
                rows.append(equations)
                cols.append(position[int(atom)])
                data.append(1.0)
            rhs.append(float(cell.value))
            equations += 1
    a_eq = coo_matrix((data, (rows, cols)), shape=(equations, len(atoms))).tocsr() if equations else None
    b_eq = np.array(rhs) if equations else None
    # A withheld cell still has its row: the attacker knows it counts at least one.
    rows, cols = [], []
    listed = [c for comp in comps for c in comp if c in suppressed and not cells.cells[c].implicit]
    for number, cell_id in enumerate(listed):
        for atom in cells.cells[cell_id].atoms:
            rows.append(number)
            cols.append(position[int(atom)])
    a_ub = (
        coo_matrix(([-1.0] * len(rows), (rows, cols)), shape=(len(listed), len(atoms))).tocsr()
        if listed
        else None
    )
    b_ub = -np.ones(len(listed)) if listed else None
    # An attacker knows no upper bound per atom; a finite cap keeps each LP bounded, and any bound at
    # the cap is reported as unbounded.
    cap = float(cells.atom_n.sum() * 10 + 1000)
    bounds = (0, cap)
    found: dict[int, Interval] = {}
    rounds = max(len(t) for t in targets)
    for r in range(rounds):
        chosen = [t[r] for t in targets if r < len(t)]
        objective = np.zeros(len(atoms))
        for cell_id in chosen:
            for atom in cells.cells[cell_id].atoms:
                objective[position[int(atom)]] += 1.0
        low = linprog(objective, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        high = linprog(-objective, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        if low.status != 0 or high.status != 0:
            raise RuntimeError(
                f"{cells.name}: the attacker's programme has no solution ({low.message} / {high.message});"
                " the published cells contradict each other"
            )
        for cell_id in chosen:
            idx = [position[int(a)] for a in cells.cells[cell_id].atoms]
            lower = float(low.x[idx].sum())
            upper = float(high.x[idx].sum())
            found[cell_id] = Interval(
                cell_id,
                cells.cells[cell_id].value,
                float(np.ceil(lower - 1e-6)),
                float("inf") if upper >= cap - 1e-6 else float(np.floor(upper + 1e-6)),
            )
    return found
