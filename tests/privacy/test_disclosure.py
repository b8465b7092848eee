"""Disclosure control, unit by unit: cells over atoms, suppression by optimization, the attacker's bounds,
the data-driven generalization of row-level views and the policy.

Each test checks the engine against an attacker written here independently: a linear programme over
the published cells themselves (not over atoms), or plain subtraction.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from community_dw.disclosure.cells import PopulationCells
from community_dw.disclosure.declarations import Ladder, RowLevelView
from community_dw.disclosure.kanonymity import choose_generalization
from community_dw.disclosure.policy import DisclosurePolicy, load_policy
from community_dw.disclosure.suppression import primary_cells, protect

K, WIDTH = 11, 10


def profile_population(seed: int, communities: int = 4) -> tuple[pd.DataFrame, PopulationCells]:
    """A population profile (community x age x sex), its cells and the communities' totals."""
    rng = np.random.default_rng(seed)
    rows = [
        {"community": f"c{c}", "age": a, "sex": s, "_n": int(rng.integers(1, 40))}
        for c in range(communities)
        for a in range(6)
        for s in "MF"
    ]
    units = pd.DataFrame(rows)
    cells = PopulationCells("residents", "person", units, ["community", "age", "sex"])
    for i, row in units.iterrows():
        cells.add("marts.profile", i, "n", {"community": row.community, "age": row.age, "sex": row.sex}, {})
    for i, community in enumerate(sorted(units.community.unique())):
        cells.add("marts.totals", i, "n", {"community": community}, {})
    return units, cells


def independent_bounds(units: pd.DataFrame, suppressed_keys: set[tuple]) -> dict[tuple, tuple[float, float]]:
    """Bounds on each withheld profile cell from the published profile cells and community totals."""
    unknowns = sorted(suppressed_keys)
    index = {key: i for i, key in enumerate(unknowns)}
    rows, rhs = [], []
    for _, group in units.groupby("community"):
        row = np.zeros(len(unknowns))
        known = 0
        for r in group.itertuples():
            key = (r.community, r.age, r.sex)
            if key in index:
                row[index[key]] = 1
            else:
                known += r._4
        rows.append(row)
        rhs.append(group["_n"].sum() - known)
    bounds = {}
    for key, i in index.items():
        c = np.zeros(len(unknowns))
        c[i] = 1
        low = linprog(c, A_eq=np.array(rows), b_eq=rhs, bounds=(0, None), method="highs")
        high = linprog(-c, A_eq=np.array(rows), b_eq=rhs, bounds=(0, None), method="highs")
        bounds[key] = (low.fun, -high.fun if high.status == 0 else float("inf"))
    return bounds


@pytest.mark.parametrize("seed", range(6))
def test_withheld_profile_cells_keep_the_protection_interval(seed: int) -> None:
    units, cells = profile_population(seed)
    protection = protect(cells, K, WIDTH)
    assert not protection.unprotected
    small = {c.id for c in cells.cells if 0 < c.value < K}
    assert small and small <= protection.suppressed, "every small cell is withheld"
    withheld = {
        (units.community[row], units.age[row], units.sex[row])
        for cell_id in protection.suppressed
        for relation, row, _ in cells.cells[cell_id].uses
        if relation == "marts.profile"
    }
    for key, (low, high) in independent_bounds(units, withheld).items():
        assert high - low >= WIDTH - 1e-6, f"{key}: an attacker bounds it to [{low}, {high}]"


def test_a_community_total_withheld_with_its_cells_when_they_cannot_protect_each_other() -> None:
    units = pd.DataFrame(
        [{"community": "c1", "age": 1, "_n": 3}, {"community": "c1", "age": 2, "_n": 2}]
        + [{"community": "c2", "age": a, "_n": 30} for a in (1, 2)]
    )
    cells = PopulationCells("p", "person", units, ["community", "age"])
    for i, row in units.iterrows():
        cells.add("profile", i, "n", {"community": row.community, "age": row.age}, {})
    total_c1 = cells.add("totals", 0, "n", {"community": "c1"}, {})
    cells.add("totals", 1, "n", {"community": "c2"}, {})
    protection = protect(cells, K, WIDTH)
    assert total_c1.id in protection.suppressed, "a total of 5 is itself a small cell"
    assert not protection.unprotected


def test_the_rest_of_a_total_is_a_cell_too() -> None:
    """20 in need, 18 served: publishing both tells that 2 were not served."""
    units = pd.DataFrame(
        [{"community": "c1", "served": True, "_n": 18}, {"community": "c1", "served": False, "_n": 2}]
    )
    cells = PopulationCells("needs", "person", units, ["community", "served"])
    need = cells.add("coverage", 0, "people_in_need", {"community": "c1"}, {})
    served = cells.add("coverage", 0, "people_served", {"community": "c1"}, {"served": True})
    assert need.value == 20 and served.value == 18
    rest = [c for c in cells.cells if c.implicit]
    assert [c.value for c in rest] == [2], "the derivable rest is registered"
    protection = protect(cells, K, WIDTH)
    assert protection.suppressed & {need.id, served.id}, "one of the two is withheld"
    assert not protection.unprotected


def test_one_cell_published_in_two_relations_is_withheld_in_both() -> None:
    units = pd.DataFrame(
        [{"grid": "g1", "type": t, "_n": n} for t, n in (("resident", 5), ("worker", 40), ("visitor", 30))]
    )
    cells = PopulationCells("devices", "device", units, ["grid", "type"])
    for _, row in units.iterrows():
        cells.add("presence", 0, f"{row.type}_devices", {"grid": "g1"}, {"type": row.type})
    total = cells.add("presence", 0, "total_devices", {"grid": "g1"}, {})
    again = cells.add("alerts", 0, "devices_present", {"grid": "g1"}, {})
    assert again is total and len(total.uses) == 2
    protection = protect(cells, 20, 19)
    assert not protection.unprotected
    resident = next(c for c in cells.cells if ("presence", 0, "resident_devices") in c.uses)
    assert resident.id in protection.suppressed
    # total = resident + worker + visitor: with the total published, a second type must be withheld.
    assert len(protection.suppressed) >= 2


def test_the_attacker_loop_covers_identities_no_single_relation_shows() -> None:
    """A view's classes (by street) and a mart's cells (by community) add up to the same street total."""
    rng = np.random.default_rng(3)
    units = pd.DataFrame(
        [
            {"community": c, "street": "s1", "topic": t, "channel": ch, "_n": int(rng.integers(0, 9))}
            for c in ("c1", "c2")
            for t in ("a", "b", "c")
            for ch in ("app", "phone")
        ]
    )
    units = units[units._n > 0].reset_index(drop=True)
    cells = PopulationCells("tickets", "person", units, ["community", "street", "topic", "channel"])
    for i, (key, _) in enumerate(units.groupby(["community", "topic"])):
        cells.add("mart", i, "tickets", {"community": key[0], "topic": key[1]}, {})
    for i, (key, _) in enumerate(units.groupby(["street", "channel"])):
        cells.add("view", i, "_rows", {"street": key[0], "channel": key[1]}, {})
    protection = protect(cells, 5, 4)
    assert not protection.unprotected
    assert all(i.width >= 4 for i in protection.intervals.values())


def test_primary_cells_count_contributors_not_rows() -> None:
    """Twelve tickets from two reporters are a small cell."""
    units = pd.DataFrame({"community": ["c1"] * 12, "_n": 1, "_contributor": ["p1"] * 6 + ["p2"] * 6})
    cells = PopulationCells("tickets", "person", units, ["community"])
    cell = cells.add("mart", 0, "tickets", {"community": "c1"}, {})
    assert cell.value == 12 and cell.contributors == 2
    assert primary_cells(cells, K) == {cell.id}


def _view(ladders: dict[str, list[str]], keep: list[str]) -> RowLevelView:
    return RowLevelView(
        name="analyst.v",
        candidate="candidate_analyst.v",
        population="tickets",
        purpose="test",
        generalize=tuple(Ladder(c, tuple(levels)) for c, levels in ladders.items()),
        keep=tuple(keep),
        show=(),
    )


def test_generalization_is_the_least_one_the_data_allows() -> None:
    rows = pd.DataFrame(
        [
            {"community": f"c{c}", "street": f"s{c // 2}", "week": w, "month": "m1", "topic": t}
            for c in range(4)
            for w in range(4)
            for t in "ab"
            for _ in range(3)
        ]
    )
    view = _view({"area": ["community", "street"], "period": ["week", "month"]}, ["topic"])
    # 3 rows per (community, week, topic): k = 3 needs no generalization.
    assert choose_generalization(view, rows, 3, 0.0).levels == {"area": "community", "period": "week"}
    # k = 6: either two communities (street) or two weeks... only a month or a street doubles; the
    # least height wins, ties by fewer withheld rows, then ladder order.
    chosen = choose_generalization(view, rows, 6, 0.0)
    assert chosen.within_limit and chosen.height == 0.5
    # k = 24: street x month (2 communities x 4 weeks x 3 = 24).
    chosen = choose_generalization(view, rows, 24, 0.0)
    assert chosen.levels == {"area": "street", "period": "month"} and chosen.smallest_kept_class == 24


def test_generalization_tolerates_residual_suppression_up_to_the_limit() -> None:
    rows = pd.DataFrame(
        [{"community": "c1", "street": "s1", "topic": "a"}] * 40
        + [{"community": "c2", "street": "s1", "topic": "a"}]
    )
    view = _view({"area": ["community", "street"]}, ["topic"])
    strict = choose_generalization(view, rows, 11, 0.0)
    lenient = choose_generalization(view, rows, 11, 0.05)
    assert strict.levels == {"area": "street"} and strict.suppressed_rows == 0
    assert lenient.levels == {"area": "community"} and lenient.suppressed_rows == 1


def test_policy_is_declared_once_in_the_dbt_project() -> None:
    import yaml

    from community_dw import paths

    declared = yaml.safe_load((paths.DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert "k_person" not in declared and "k_device" not in declared, "k lives only in disclosure_policy"
    policy = load_policy()
    assert policy == DisclosurePolicy(
        k=declared["disclosure_policy"]["k"],
        protection_width=declared["disclosure_policy"]["protection_width"],
        max_suppressed_row_share=declared["disclosure_policy"]["max_suppressed_row_share"],
        quasi_identifier_classes=tuple(declared["disclosure_policy"]["quasi_identifier_classes"]),
    )
    assert policy.k_for("person") == 11 and policy.k_for("device") == 20


def test_every_small_cell_of_random_tables_is_protected() -> None:
    """Random two-way tables with both margins published: no withheld cell narrower than the width."""
    rng = np.random.default_rng(11)
    for _ in range(20):
        rows = [
            {"r": r, "c": c, "_n": int(rng.choice([1, 2, 4, 8, 15, 30]))}
            for r, c in itertools.product(range(int(rng.integers(2, 5))), range(int(rng.integers(2, 5))))
        ]
        units = pd.DataFrame(rows)
        cells = PopulationCells("t", "person", units, ["r", "c"])
        for i, row in units.iterrows():
            cells.add("table", i, "n", {"r": row.r, "c": row.c}, {})
        for i, r in enumerate(units.r.unique()):
            cells.add("rows", i, "n", {"r": r}, {})
        for i, c in enumerate(units.c.unique()):
            cells.add("cols", i, "n", {"c": c}, {})
        protection = protect(cells, 5, 4)
        assert not protection.unprotected
        assert all(i.width >= 4 for i in protection.intervals.values())
