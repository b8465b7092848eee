"""Every published number of a population as a cell: a set of the population's atoms.

An atom is one combination of all the population's columns that any analyst-facing relation groups
by (its finest cross-classification); a cell is the set of atoms one published count adds up. Two
relations that publish the same cell (a grid-hour's total in two marts) share one cell, so they are
suppressed together; a total and its parts in other relations are found as cells whose atoms nest.
This is the representation the attacker's linear programme and the suppression optimizer share.

Only atoms that exist are represented. An attacker who does not know which combinations are empty
has more freedom, never less, so intervals computed here are at most as wide as the attacker's: an
audit that passes here passes for the attacker.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


def normalize(value: Any) -> Any:
    """A key value in one form whatever the engine returned it as (dates, timestamps, numbers, nulls)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=None)
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass
class Cell:
    id: int
    atoms: np.ndarray
    value: int
    contributors: int
    family: int  # the (relation, column, grain) the cell was first seen in
    uses: list[tuple[str, int, str]] = field(default_factory=list)  # (relation, row, column)
    # Never published but derivable: the rest of a total once a filtered part of it is published
    # (residents in need minus those served = those not served). Protected like a published cell.
    implicit: bool = True
    derived_from: list[int] = field(default_factory=list)  # the published parts an implicit cell comes from


@dataclass
class Family:
    """All cells of one count column at one grain (a relation's rows with the same rollup columns)."""

    id: int
    relation: str
    column: str
    grain: tuple[str, ...]
    where: tuple[tuple[str, Any], ...]
    cell_of_atom: np.ndarray  # atom -> cell id, -1 when the atom is in no cell of the family


class PopulationCells:
    """The atoms of one population and every cell published over them."""

    def __init__(self, name: str, unit: str, units: pd.DataFrame, columns: list[str]) -> None:
        """`units`: the population's rows with `columns`, a count `_n` and optionally `_contributor`."""
        self.name = name
        self.unit = unit
        frame = units.copy()
        for column in columns:
            frame[column] = [normalize(v) for v in frame[column]]
        self.columns = columns
        keyed = frame[columns].astype(object).where(frame[columns].notna(), None)
        codes, uniques = pd.factorize(pd.Series([tuple(r) for r in keyed.itertuples(index=False)]))
        self.atom_of_unit = codes
        self.atoms = (
            pd.DataFrame(list(uniques), columns=columns) if len(uniques) else pd.DataFrame(columns=columns)
        )
        self.atom_n = np.bincount(codes, weights=frame["_n"].to_numpy(dtype=float), minlength=len(uniques))
        self.atom_n = np.rint(self.atom_n).astype(np.int64)
        self.contributors = frame["_contributor"].to_numpy() if "_contributor" in frame else None
        self.cells: list[Cell] = []
        self.families: list[Family] = []
        self._cell_by_atoms: dict[bytes, int] = {}
        self._index_cache: dict[tuple, dict[tuple, np.ndarray]] = {}
        self.derived_groups: set[tuple[int, tuple[int, ...]]] = set()
        self.small: set[int] = set()  # cells under k, set by the suppression step

    # -- building --------------------------------------------------------------------------------

    def _mask(self, where: Iterable[tuple[str, Any]]) -> np.ndarray:
        mask = np.ones(len(self.atoms), dtype=bool)
        for column, value in where:
            mask &= (self.atoms[column] == normalize(value)).to_numpy()  # atoms are normalized already
        return mask

    def _index(self, grain: tuple[str, ...], where: tuple[tuple[str, Any], ...]) -> dict[tuple, np.ndarray]:
        cache_key = (grain, where)
        if cache_key not in self._index_cache:
            selected = np.flatnonzero(self._mask(where))
            groups: dict[tuple, list[int]] = {}
            if grain:
                values = self.atoms[list(grain)].to_numpy(dtype=object)
                for atom in selected:
                    groups.setdefault(tuple(values[atom]), []).append(int(atom))
            else:
                groups[()] = [int(a) for a in selected]
            self._index_cache[cache_key] = {k: np.array(v, dtype=np.int64) for k, v in groups.items()}
        return self._index_cache[cache_key]

    def _family(self, relation: str, column: str, grain: tuple[str, ...], where) -> Family:
        for family in self.families:
            if (family.relation, family.column, family.grain, family.where) == (
                relation,
                column,
                grain,
                where,
            ):
                return family
        family = Family(len(self.families), relation, column, grain, where, np.full(len(self.atoms), -1))
        self.families.append(family)
        return family

    def _contributors(self, atoms: np.ndarray) -> int:
        if self.contributors is None:
            return int(self.atom_n[atoms].sum())
        rows = np.isin(self.atom_of_unit, atoms)
        people = pd.unique(self.contributors[rows])
        return int(sum(1 for p in people if p is not None and not (isinstance(p, float) and math.isnan(p))))

    def add(
        self, relation: str, row: int, column: str, key: dict[str, Any], where: dict[str, Any]
    ) -> Cell | None:
        """Register the cell of one published count: `key` maps population columns to the row's values.

        Returns None for an empty cell (a published zero constrains nothing the attacker does not
        already know from the cell's absence of atoms)."""
        grain = tuple(sorted(key))
        where_items = tuple(sorted((c, normalize(v)) for c, v in where.items()))
        family = self._family(relation, column, grain, where_items)
        atoms = self._index(grain, where_items).get(tuple(normalize(key[c]) for c in grain))
        if atoms is None or len(atoms) == 0:
            return None
        cell = self._cell(atoms, family)
        cell.implicit = False
        cell.uses.append((relation, row, column))
        if where_items:
            self._complement(cell, grain, key, where_items)
        return cell

    def _cell(self, atoms: np.ndarray, family: Family) -> Cell:
        signature = np.sort(atoms).tobytes()
        cell_id = self._cell_by_atoms.get(signature)
        if cell_id is None:
            cell_id = len(self.cells)
            self._cell_by_atoms[signature] = cell_id
            self.cells.append(
                Cell(
                    cell_id,
                    np.sort(atoms),
                    int(self.atom_n[atoms].sum()),
                    self._contributors(atoms),
                    family.id,
                )
            )
        family.cell_of_atom[atoms] = cell_id
        return self.cells[cell_id]

    def _complement(self, part: Cell, grain: tuple[str, ...], key: dict[str, Any], where_items) -> None:
        """Register the whole (same key, no filter) and the rest (whole minus part) of a filtered cell.

        An attacker who reads the filtered count and the whole subtracts one from the other; the rest
        is then a cell like any other, and under k it is a small cell. The whole is implicit unless
        some relation publishes it."""
        whole_family = self._family("(derived)", "(whole)", grain, ())
        whole_atoms = self._index(grain, ()).get(tuple(normalize(key[c]) for c in grain))
        rest_atoms = np.setdiff1d(whole_atoms, part.atoms)
        if len(rest_atoms) == 0:
            return
        whole = self._cell(whole_atoms, whole_family)
        rest_family = self._family("(derived)", "(rest)", grain, where_items)
        rest = self._cell(rest_atoms, rest_family)
        rest.derived_from.append(part.id)
        self.derived_groups.add((whole.id, tuple(sorted((part.id, rest.id)))))

    # -- structure -------------------------------------------------------------------------------

    def nested_groups(self) -> list[tuple[int, list[int]]]:
        """(total cell, part cells) for every cell of one family that is exactly the union of cells of another.

        These are the identities an attacker subtracts along; the optimizer protects every cell in each.
        """
        groups: list[tuple[int, list[int]]] = []
        for coarse in self.families:
            if coarse.relation == "(derived)":
                continue
            in_coarse = coarse.cell_of_atom >= 0
            if not in_coarse.any():
                continue
            for fine in self.families:
                if fine.id == coarse.id or fine.relation == "(derived)":
                    continue
                in_fine = fine.cell_of_atom >= 0
                if not in_fine[in_coarse].all():
                    continue
                # every fine cell touching the coarse family must lie inside one coarse cell
                pairs = pd.DataFrame(
                    {"fine": fine.cell_of_atom[in_fine], "coarse": coarse.cell_of_atom[in_fine]}
                )
                touching = pairs[pairs["fine"].isin(pairs.loc[pairs["coarse"] >= 0, "fine"])]
                if touching.groupby("fine")["coarse"].nunique().max() != 1 or (touching["coarse"] < 0).any():
                    continue
                for total, parts in touching.groupby("coarse")["fine"]:
                    members = sorted(set(parts.tolist()) - {total})
                    if members:
                        groups.append((int(total), members))
        unique = {(t, tuple(p)) for t, p in groups} | self.derived_groups
        return [(t, list(p)) for t, p in sorted(unique)]

    def overlapping(self, cell_id: int) -> list[int]:
        """Cells sharing at least one atom with the given cell (itself excluded)."""
        atoms = self.cells[cell_id].atoms
        found = {int(f.cell_of_atom[a]) for f in self.families for a in atoms}
        found.discard(-1)
        found.discard(cell_id)
        return sorted(found)
