"""What the analysts are given, on both warehouses: the declared generalized view only, k-anonymous, no
pseudonym or identifier value, no withheld cell recoverable from published totals; and the care list
lists exactly who is due. The care street's build is in conftest.py."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.cities import AS_OF, CARE_STREET_K, COMMUNITIES, care_street, expected_cells, expected_overdue
from support.dbt import models_in

pytestmark = pytest.mark.slow

K = CARE_STREET_K
CITY = care_street()
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
Query = Callable[[str], list[tuple]]


def test_published_view_shows_only_declared_generalized_columns(
    duckdb_warehouse: Query, care_project: Path
) -> None:
    """The analyst's one row-level view: the ladders at one level each, kept and shown columns, no more."""
    nodes = [n for n in models_in(care_project, "candidate_analyst")]
    assert [n["name"] for n in nodes] == ["appeals_masked"], "one row-level view, with a stated purpose"
    declared = nodes[0]["config"]["meta"]["disclosure"]["row_level"]
    assert declared["purpose"].strip()
    built = [r[0] for r in duckdb_warehouse("describe analyst.appeals_masked")]
    expected = []
    for column in declared["generalize"]:
        expected += [column, f"{column}_level"]
    assert built == expected + declared["keep"] + declared["show"]
    assert not [c for c in built if c.endswith("_pid") or c in ("ticket_id", "reporter_id", "community_code")]
    levels = duckdb_warehouse("select distinct area_level, received_period_level from analyst.appeals_masked")
    assert len(levels) == 1, "one generalization for the whole view"
    assert levels[0][0] in declared["generalize"]["area"]
    assert levels[0][1] in declared["generalize"]["received_period"]


def test_published_view_is_k_anonymous_and_withholds_little(warehouse_query: Query) -> None:
    classes = warehouse_query(
        "select area, received_period, category_code, count(*) from analyst.appeals_masked group by 1, 2, 3"
    )
    assert classes and min(n for *_, n in classes) >= K
    # Residual suppression within the policy's share: the rows shown are the tickets of the city minus few.
    shown = sum(n for *_, n in classes)
    tickets = len({a["ticket_id"] for a in CITY.appeals})
    assert tickets * 0.95 <= shown <= tickets


def _text_values(query: Query, schemas: tuple[str, ...]) -> dict[str, set[str]]:
    """Every distinct text value of every relation in the schemas, by relation.column."""
    columns = query(
        "select table_schema, table_name, column_name from information_schema.columns"
        f" where table_schema in ({', '.join(repr(s) for s in schemas)})"
        " and data_type in ('VARCHAR', 'character varying', 'text')"
    )
    values = {}
    for schema, table, column in columns:
        rows = query(f'select distinct "{column}" from {schema}."{table}" where "{column}" is not null')
        values[f"{schema}.{table}.{column}"] = {r[0] for r in rows}
    return values


def test_no_pseudonym_or_identifier_value_reaches_analysts(warehouse_query: Query) -> None:
    pseudonyms = {r["resident_id"] for r in CITY.register} | {r["household_id"] for r in CITY.register}
    pseudonyms |= {a["reporter_phone"] for a in CITY.appeals} | {r["phone"] for r in CITY.register}
    leaks = []
    for column, values in _text_values(warehouse_query, ("marts", "analyst")).items():
        leaks += [f"{column}: pseudonym {v[:12]}…" for v in values & pseudonyms]
        leaks += [f"{column}: phone-like {v!r}" for v in values if PHONE.search(v)]
        leaks += [f"{column}: ID-number-like {v!r}" for v in values if ID_NUMBER.search(v)]
    assert not leaks, "\n".join(leaks[:20])


# --- small-cell suppression --------------------------------------------------------------------------


def _determined_cells(cells: dict[tuple, int], suppressed: set[tuple], groupings: list[Callable]) -> set:
    """Suppressed cells whose value follows from the published cells and the published group totals.

    The analyst is assumed to know every group total of every grouping that can be published, i.e. of
    at least K (a smaller total is itself a small cell, suppressed wherever it appears). Unknowns are
    the suppressed cells; each known total gives one linear equation over its group's suppressed
    cells. A cell is determined when its unit vector lies in the row space of the equations (the rank
    does not grow when it is added): this covers subtraction and every combination of totals.
    """
    import numpy as np

    unknowns = sorted(suppressed)
    index = {cell: i for i, cell in enumerate(unknowns)}
    equations = []
    for group_of in groupings:
        groups: dict[Any, list[tuple]] = defaultdict(list)
        for cell in cells:
            groups[group_of(cell)].append(cell)
        for members in groups.values():
            if sum(cells[cell] for cell in members) < K:
                continue
            row = np.zeros(len(unknowns))
            for cell in members:
                if cell in index:
                    row[index[cell]] = 1
            if row.any():
                equations.append(row)
    if not equations:
        return set()
    matrix = np.array(equations)
    rank = np.linalg.matrix_rank(matrix)
    determined = set()
    for cell, i in index.items():
        unit = np.zeros(len(unknowns))
        unit[i] = 1
        if np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank:
            determined.add(cell)
    return determined


def test_profile_suppression_leaves_no_recoverable_cell(warehouse_query: Query) -> None:
    profile = warehouse_query(
        "select community_code, age_band, sex, residence_type, resident_count, is_suppressed,"
        " household_count, street_code from marts.community_population_profile"
    )
    exact = expected_cells(CITY)
    assert {tuple(r[:4]) for r in profile} == set(exact)
    suppressed = {tuple(r[:4]) for r in profile if r[5]}
    for row in profile:
        cell, n = tuple(row[:4]), exact[tuple(row[:4])]
        published, is_suppressed, households = row[4:7]
        assert is_suppressed is (published is None), cell
        assert published in (None, n), cell
        if n < K:
            assert is_suppressed, f"small cell {cell} ({n}) published"
        if is_suppressed:
            assert households is None, cell
    assert len(suppressed) > sum(1 for n in exact.values() if n < K) or all(
        sum(1 for c in suppressed if c[0] == community) >= 2 for community in {c[0] for c in suppressed}
    ), "every community with a withheld cell withholds at least two"

    # Known totals: each community's, published in population_reconciliation. (Street totals per age,
    # sex and residence type are published nowhere, so they are not part of the attacker's knowledge.)
    groupings = [lambda cell: cell[0]]
    recoverable = _determined_cells(exact, suppressed, groupings)
    assert not recoverable, f"suppressed cells recoverable from the totals: {sorted(recoverable)}"
    # Plain subtraction: no publishable group total minus its published cells is a single hidden cell.
    for group_of in groupings:
        hidden: dict[Any, list] = defaultdict(list)
        totals: dict[Any, int] = defaultdict(int)
        for cell, n in exact.items():
            totals[group_of(cell)] += n
            if cell in suppressed:
                hidden[group_of(cell)].append(cell)
        assert not [h for g, h in hidden.items() if len(h) == 1 and totals[g] >= K]


# --- the care list -----------------------------------------------------------------------------------


def test_overdue_visits_lists_who_is_due(warehouse_query: Query) -> None:
    rows = warehouse_query(
        "select resident_pid, community_code, vulnerable_groups, last_contact_date, due_date, days_overdue,"
        " name_display, as_of_date from care.overdue_visits"
    )
    observed = {r[0]: tuple(r[1:6]) for r in rows}
    assert observed == expected_overdue(CITY)
    names = {r["resident_id"]: r["name_display"] for r in CITY.register}
    assert all(r[6] == names[r[0]] for r in rows), "the display-masked name of the register"
    assert {r[7] for r in rows} == {AS_OF}
    assert len({r[1] for r in rows}) == len(COMMUNITIES), "the fixture has overdue residents everywhere"
