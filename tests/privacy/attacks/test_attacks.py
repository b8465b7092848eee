"""Attacks on the analyst release, as an analyst would run them (DESIGN.md, privacy model point 8).

Every attack reads only `release.tables` (what the analyst role can read) plus the published project
documentation (dbt YAML classes in the manifest, the disclosure vars). Ground truth (`release.truth`,
the generated source files) is used only to score what an attack recovered. Each attack prints its
figures (also repeated in the terminal summary) and fails if it succeeds against the release.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter, defaultdict
from typing import Any

import pandas as pd
import pytest
from analysis import (
    System,
    class_sizes,
    column_classes,
    count_columns,
    derived_attributes,
    device_relations,
    dimension_columns,
    free_text_columns,
    is_row_level,
    known,
    read_policy,
    solve_bounds,
    statistic_columns,
    text_columns,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

POLICY = read_policy()


def say(figures: list[str], release, line: str) -> None:
    text = f"[{release.engine}] {line}"
    print(text)
    figures.append(text)


def aggregates(release) -> dict[str, pd.DataFrame]:
    return {n: f for n, f in release.tables.items() if not is_row_level(n) and count_columns(f)}


def row_views(release) -> dict[str, pd.DataFrame]:
    return {n: f for n, f in release.tables.items() if is_row_level(n)}


def is_device(release, relation: str, column: str = "") -> bool:
    return relation in device_relations(release.manifest) and ("device" in column or not column)


def k_for(release, relation: str, column: str = "") -> int:
    """k for devices on device counts of telecom relations, else k for persons."""
    return POLICY.k(is_device(release, relation, column))


def test_release_is_discovered(release, figures) -> None:
    """Sanity: the attacks have something to attack (and the policy they judge by)."""
    say(
        figures,
        release,
        f"policy: k_person={POLICY.k_person}, k_device={POLICY.k_device}, protection width"
        f" person={POLICY.width_person:g} device={POLICY.width_device:g} ({POLICY.source})",
    )
    for name, frame in sorted(release.tables.items()):
        say(figures, release, f"readable: {name} ({len(frame):,} rows, {len(frame.columns)} columns)")
    assert row_views(release) or aggregates(release)


# --- 1. re-identification from row-level views ----------------------------------------------------------------


def quasi_sets(name: str, frame: pd.DataFrame, classes: dict[str, str]) -> dict[str, list[str]]:
    derived = derived_attributes(frame)
    declared = [c for c in frame.columns if classes.get(c) == "quasi"]
    partition = [c for c in frame.columns if c in ("snapshot_date", "as_of_date")]
    identifiers = [
        c for c in frame.columns if frame[c].nunique() == len(frame) and re.search(r"(_id|_no)$", c)
    ]
    free = set(free_text_columns(frame))
    lag_dates = [c for c in derived.columns if "-" in c and not c.startswith("quarter") and "lag" in c]
    sets = {"declared quasi": declared + partition}
    if lag_dates:
        sets["declared quasi + date minus lag"] = declared + partition + lag_dates
    everything = [c for c in frame.columns if c not in free and c not in identifiers]
    sets["all non-free-text columns" + (f" (without {', '.join(identifiers)})" if identifiers else "")] = (
        everything
    )
    return {label: cols for label, cols in sets.items() if cols}


def test_reidentification_from_row_level_views(release, figures) -> None:
    classes = column_classes(release.manifest)
    k = POLICY.k_person
    failures = []
    for name, frame in sorted(row_views(release).items()):
        if frame.empty:
            continue
        work = pd.concat([frame, derived_attributes(frame)], axis=1)
        for label, columns in quasi_sets(name, frame, classes.get(name, {})).items():
            sizes = class_sizes(work, columns)
            unique = (sizes == 1).mean() * 100
            small = (sizes < k).mean() * 100
            say(
                figures,
                release,
                f"re-identification {name} on {label} ({', '.join(columns)}): {unique:.1f} % of "
                f"{len(frame):,} rows unique, {small:.1f} % in classes < {k}, smallest class {sizes.min()}",
            )
            if sizes.min() < k:
                failures.append(f"{name} [{label}]: {small:.1f} % of rows in classes under k={k}")
    assert not failures, "\n".join(failures)


# --- 2. recounting withheld cells from row-level views --------------------------------------------------------


def _as_key(series: pd.Series) -> pd.Series:
    """Values as comparable strings: dates as YYYY-MM-DD, timestamps with their time."""
    sample = series.dropna().drop_duplicates().head(200)
    if pd.api.types.is_datetime64_any_dtype(series) or (
        len(sample) and sample.map(lambda v: hasattr(v, "year") and hasattr(v, "isoformat")).all()
    ):
        values = pd.to_datetime(series, errors="coerce")
        midnight = (values.dropna() == values.dropna().dt.normalize()).all()
        return values.dt.strftime("%Y-%m-%d" if midnight else "%Y-%m-%dT%H:%M").where(values.notna(), "None")
    return series.map(str)


def map_dimensions(aggregate: pd.DataFrame, dims: list[str], view: pd.DataFrame) -> dict[str, str]:
    """aggregate dim -> view column holding the same values (same name first, else value overlap)."""
    mapping = {}
    for dim in dims:
        values = set(_as_key(aggregate[dim].dropna().drop_duplicates()))
        candidates = [dim] + [c for c in view.columns if c != dim]
        for column in candidates:
            if column not in view.columns or view[column].nunique() > 5000:
                continue
            overlap = len(values & set(_as_key(view[column].dropna().drop_duplicates()))) / max(
                len(values), 1
            )
            if overlap >= 0.5:
                mapping[dim] = column
                break
    return mapping


def view_filters(view: pd.DataFrame, used: set[str]) -> list[tuple[str, Any] | None]:
    """None (no filter) and column = value for every low-cardinality column the mapping does not use."""
    filters: list[tuple[str, Any] | None] = [None]
    for column in view.columns:
        if column in used or column.startswith("_") or view[column].nunique() > 12:
            continue
        filters += [(column, value) for value in view[column].dropna().unique()]
    return filters


def recount_attack(
    aggregate: pd.DataFrame, view: pd.DataFrame, count: str, agreement: float = 0.9, cache: dict | None = None
) -> tuple[dict[int, int], str]:
    """Withheld rows of `aggregate[count]` recounted from `view` by the first filter whose recount
    reproduces at least `agreement` of the published cells of the slice (at least 3 of them); returns
    {row index: recounted value} and the method (with its agreement on published cells)."""
    dims = dimension_columns(aggregate)
    mapping = map_dimensions(aggregate, dims, view)
    if not mapping:
        return {}, ""
    slice_dims = [d for d in dims if d not in mapping]
    recovered: dict[int, int] = {}
    methods = []
    keys = list(mapping)
    view_keys = pd.DataFrame({d: _as_key(view[c]) for d, c in mapping.items()}, index=view.index)
    agg_keys = pd.DataFrame({d: _as_key(aggregate[d]) for d in keys}, index=aggregate.index)
    # A dim matched by value overlap (need_group ~ programme) covers only the values the view holds.
    in_scope = pd.Series(True, index=aggregate.index)
    for dim, column in mapping.items():
        if dim != column:
            in_scope &= agg_keys[dim].isin(set(view_keys[dim]))
    scoped = aggregate[in_scope]
    slices = scoped.groupby(slice_dims, dropna=False) if slice_dims else [((), scoped)]
    filters = view_filters(view, set(mapping.values()))
    for slice_value, cells in slices:
        published = cells.index[cells[count].notna()]
        withheld = cells.index[cells[count].isna()]
        if withheld.empty or len(published) < 3:
            continue
        for condition in filters:
            if cache is None:
                cache = {}
            if condition not in cache:
                if condition is None:
                    selected = view_keys
                else:
                    selected = view_keys[(view[condition[0]] == condition[1]).fillna(False).to_numpy()]
                counts = selected.value_counts().rename("recount").reset_index()
                full = agg_keys.reset_index().merge(counts, on=keys, how="left").set_index("index")
                cache[condition] = full["recount"].fillna(0)
            recount = cache[condition].loc[cells.index]
            agree = (recount.loc[published] == cells.loc[published, count].astype(float)).mean()
            if agree >= agreement:
                recovered.update({i: int(recount[i]) for i in withheld})
                where = f" where {condition[0]} = {condition[1]!r}" if condition else ""
                part = f" in {dict(zip(slice_dims, slice_value, strict=True))}" if slice_dims else ""
                methods.append(
                    f"group by {', '.join(mapping.values())}{where}{part}: {agree:.0%} of published cells agree"
                )
                break
    return recovered, "; ".join(methods[:3]) + (
        f"; … {len(methods) - 3} more slices" if len(methods) > 3 else ""
    )


TRUTH_SQL = {
    "marts.community_population_profile": (
        "select community_code, age_band, sex, residence_type, resident_count, household_count"
        " from intermediate.int_population_profile_counts"
        " where snapshot_date = (select max(snapshot_date) from intermediate.int_population_profile_counts)"
    ),
    "marts.vulnerable_care_coverage": (
        "select community_code, need_group, need_source, people_in_need, people_served"
        " from intermediate.int_vulnerable_coverage_counts"
    ),
    "marts.grid_presence_hourly": (
        "select grid_code, hour_start,"
        " sum(devices_present) filter (where user_type = 'resident') as resident_devices,"
        " sum(devices_present) filter (where user_type = 'worker') as worker_devices,"
        " sum(devices_present) filter (where user_type = 'visitor') as visitor_devices,"
        " sum(devices_present) as total_devices, sum(devices_inflow) as inflow_devices,"
        " sum(devices_outflow) as outflow_devices"
        " from intermediate.int_grid_presence_hourly group by all"
    ),
}


def truth_of(release, relation: str, frame: pd.DataFrame) -> pd.DataFrame | None:
    """The unsuppressed values of `relation`'s cells, aligned to its rows (engineer side; scoring only)."""
    sql = TRUTH_SQL.get(relation)
    if sql is None:
        return None
    try:
        truth = release.truth(sql)
    except Exception:
        return None
    keys = [c for c in truth.columns if c in frame.columns and c not in count_columns(truth)]
    left = pd.DataFrame({k: _as_key(frame[k]) for k in keys}, index=frame.index)
    right = truth.assign(**{k: _as_key(truth[k]) for k in keys}).drop_duplicates(keys)
    merged = left.reset_index().merge(right, on=keys, how="left").set_index("index")
    return merged.reindex(frame.index)


def test_recount_withheld_cells_from_row_level_views(release, figures) -> None:
    recovered_total = 0
    failures = []
    caches: dict[tuple[str, str], dict] = defaultdict(dict)
    for name, aggregate in sorted(aggregates(release).items()):
        for count in count_columns(aggregate):
            withheld = int(aggregate[count].isna().sum())
            if not withheld:
                continue
            for view_name, view in sorted(row_views(release).items()):
                recovered, method = recount_attack(aggregate, view, count, cache=caches[(name, view_name)])
                if not recovered:
                    continue
                truth = truth_of(release, name, aggregate)
                exact = len(recovered)
                scored = " (unscored: no ground truth for this relation)"
                if truth is not None and count in truth.columns:
                    exact = sum(
                        1
                        for i, v in recovered.items()
                        if known(truth.at[i, count]) and int(truth.at[i, count]) == v
                    )
                    scored = f"; {exact} of them equal the true value"
                say(
                    figures,
                    release,
                    f"recount {name}.{count}: {len(recovered)} of {withheld} withheld cells recounted exactly"
                    f" from {view_name} ({method}){scored}",
                )
                if not exact:
                    continue
                recovered_total += exact
                failures.append(f"{name}.{count}: {exact}/{withheld} recounted exactly from {view_name}")
                break
    say(figures, release, f"recount: {recovered_total} withheld cells recovered in total")
    assert not failures, "\n".join(failures)


# --- 3. arithmetic and linked tables (sdcTable attack()) -------------------------------------------------------


def _holds(pairs: list[tuple[float, float]], minimum: int, share: float = 1.0) -> bool:
    if len(pairs) < minimum:
        return False
    ok = sum(1 for a, b in pairs if abs(a - b) < 1e-6)
    return ok >= share * len(pairs)


def withheld_upper_bounds(release, tables: dict[str, pd.DataFrame]) -> dict[tuple[str, int, str], int]:
    """What the publication rule tells the attacker about a withheld cell: under k, where it says so.

    A relation with a suppression-reason column: in rows whose reason says small, the first withheld count
    is under k (the others may be complementary). A relation without one says nothing about which withheld
    counts are small: its documentation (dbt YAML, "null when withheld by the release") and the policy say
    complementary cells of any size are withheld beside the small ones, so an upper bound of k - 1 on
    every withheld cell would be a guess, right only for the small ones, and no attacker can tell which.
    """
    upper = {}
    for name, frame in tables.items():
        counts = count_columns(frame)
        reasons = [c for c in frame.columns if "reason" in c]
        for i in frame.index:
            withheld = [c for c in counts if not known(frame.at[i, c])]
            if not withheld:
                continue
            if not reasons:
                continue
            reason = str(frame.at[i, reasons[0]])
            chosen = withheld[:1] if "small" in reason else []
            for column in chosen:
                upper[(name, i, column)] = k_for(release, name, column) - 1
    return upper


def _margin_consistent(groups: list[tuple[float, float, int]], upper: float) -> bool:
    """B = sum of parts is plausible: every group's known part sum <= B <= known + withheld * (k - 1)."""
    if len(groups) < 3:
        return False
    return all(known_sum <= b + 1e-6 and b - known_sum <= n * upper + 1e-6 for b, known_sum, n in groups)


def _cells(frame: pd.DataFrame, column: str) -> list[Any]:
    """A column as a plain list (None where withheld): row access without pandas overhead."""
    return [v if known(v) else None for v in frame[column].astype(object).tolist()]


def build_system(release) -> System:
    system = System()
    tables = {n: f.reset_index(drop=True) for n, f in aggregates(release).items()}
    assert all(tables[n].index.equals(release.tables[n].index) for n in tables), "frames keep a RangeIndex"
    system.upper = withheld_upper_bounds(release, tables)
    values = {n: {c: _cells(f, c) for c in count_columns(f)} for n, f in tables.items()}
    for name, frame in sorted(tables.items()):
        counts = count_columns(frame)
        v = values[name]
        if not any(frame[c].isna().any() for c in counts):
            continue
        # (a) within-row sums: total = sum of parts, checked on fully published rows.
        for target in counts:
            for size in (2, 3, 4):
                for parts in itertools.combinations([c for c in counts if c != target], size):
                    full = frame[[target, *parts]].dropna()
                    pairs = list(zip(full[target], full[list(parts)].sum(axis=1), strict=True))
                    if not _holds(pairs, 10):
                        continue
                    system.identities.append(f"{name}: {target} = {' + '.join(parts)}")
                    for i in range(len(frame)):
                        terms = [(1.0, name, i, target, v[target][i])]
                        terms += [(-1.0, name, i, p, v[p][i]) for p in parts]
                        system.add(terms, 0.0)
        # (b) within-row order: part <= whole.
        for low, high in itertools.permutations(counts, 2):
            full = frame[[low, high]].dropna()
            if len(full) >= 10 and (full[low] <= full[high]).all() and (full[low] < full[high]).any():
                system.identities.append(f"{name}: {low} <= {high}")
                for i in range(len(frame)):
                    if v[low][i] is None or v[high][i] is None:
                        system.add(
                            [(1.0, name, i, low, v[low][i]), (-1.0, name, i, high, v[high][i])], 0.0, "ub"
                        )
        # (d) flows: x(t) - x(t - step) = in(t) - out(t), per entity, checked on published pairs.
        dims = dimension_columns(frame)
        for time in [d for d in dims if pd.api.types.is_datetime64_any_dtype(frame[d])]:
            entity = [d for d in dims if d != time]
            ordered = frame.sort_values([*entity, time])
            gaps = ordered.groupby(entity)[time].diff()
            if gaps.dropna().empty:
                continue
            step = gaps.mode().iloc[0]
            prev_row = ordered.index.to_series().groupby([ordered[e] for e in entity]).shift(1)
            links = [(int(i), int(prev_row[i])) for i in ordered.index[(gaps == step).to_numpy()]]
            for stock, inflow, outflow in itertools.permutations(counts, 3):
                checked = [
                    (v[stock][i] - v[stock][j], v[inflow][i] - v[outflow][i])
                    for i, j in links
                    if None not in (v[stock][i], v[stock][j], v[inflow][i], v[outflow][i])
                ]
                if not _holds(checked, 10, 0.99):
                    continue
                system.identities.append(f"{name}: {stock}(t) - {stock}(t - {step}) = {inflow} - {outflow}")
                for i, j in links:
                    system.add(
                        [
                            (1.0, name, i, stock, v[stock][i]),
                            (-1.0, name, j, stock, v[stock][j]),
                            (-1.0, name, i, inflow, v[inflow][i]),
                            (1.0, name, i, outflow, v[outflow][i]),
                        ],
                        0.0,
                    )
    # (c) the same population at another grain: B.count = sum of A.count over B's key (optionally one slice),
    # checked on fully published groups, or (when every group has a withheld part) for consistency with
    # the publication rule: known parts <= B <= known parts + withheld parts x (k - 1).
    for (fine_name, fine), (coarse_name, coarse) in itertools.permutations(sorted(tables.items()), 2):
        coarse_dims = dimension_columns(coarse)
        mapping = map_dimensions(coarse, coarse_dims, fine) if coarse_dims else {}
        if not coarse_dims or len(mapping) < len(coarse_dims):
            continue
        fine_keys = pd.DataFrame({d: _as_key(fine[c]) for d, c in mapping.items()})
        coarse_keys = pd.DataFrame({d: _as_key(coarse[d]) for d in mapping})
        members_of = {
            (k if isinstance(k, tuple) else (k,)): list(m)
            for k, m in fine_keys.groupby(list(mapping), dropna=False).groups.items()
        }
        coarse_members = [members_of.get(tuple(r), []) for r in coarse_keys.itertuples(index=False)]
        slices: list[tuple[str, Any] | None] = [None]
        for column in dimension_columns(fine):
            if column not in mapping.values() and fine[column].nunique() <= 10:
                slices += [(column, x) for x in fine[column].dropna().unique()]
        slice_rows = {p: None if p is None else set(fine.index[fine[p[0]] == p[1]]) for p in slices}
        for fine_count, coarse_count in itertools.product(values[fine_name], values[coarse_name]):
            vf, vc = values[fine_name][fine_count], values[coarse_name][coarse_count]
            for part in slices:
                rows = slice_rows[part]
                pairs, groups, partial = [], [], []
                for i, members in enumerate(coarse_members):
                    if rows is not None:
                        members = [m for m in members if m in rows]
                    if not members:
                        continue
                    groups.append((i, members))
                    parts = [vf[m] for m in members]
                    known_sum = float(sum(x for x in parts if x is not None))
                    if vc[i] is not None:
                        partial.append((float(vc[i]), known_sum, sum(x is None for x in parts)))
                        if None not in parts:
                            pairs.append((float(vc[i]), known_sum))
                verified = _holds(pairs, 3) or (
                    not pairs and _margin_consistent(partial, k_for(release, fine_name, fine_count) - 1)
                )
                if not verified:
                    continue
                where = f" where {part[0]} = {part[1]!r}" if part else ""
                system.identities.append(
                    f"{coarse_name}.{coarse_count} = sum({fine_name}.{fine_count}{where}) by {', '.join(mapping)}"
                )
                for i, members in groups:
                    terms = [(1.0, coarse_name, i, coarse_count, vc[i])]
                    terms += [(-1.0, fine_name, m, fine_count, vf[m]) for m in members]
                    system.add(terms, 0.0)
    # (e) the same cell in long and wide form: L(key, kind = v).count = W(key).<v>_count (crowd alerts by
    # user type vs presence with one column per user type), checked wherever both are published.
    for (long_name, long), (wide_name, wide) in itertools.permutations(sorted(tables.items()), 2):
        long_dims = dimension_columns(long)
        for kind in [d for d in long_dims if d not in wide.columns]:
            others = [d for d in long_dims if d != kind]
            if not others or any(d not in wide.columns for d in others):
                continue
            wide_keys = pd.DataFrame({d: _as_key(wide[d]) for d in others})
            wide_index = {tuple(r): i for i, r in enumerate(wide_keys.itertuples(index=False))}
            long_keys = list(pd.DataFrame({d: _as_key(long[d]) for d in others}).itertuples(index=False))
            for long_count in values[long_name]:
                tokens = set(long_count.split("_"))
                vl = values[long_name][long_count]
                pairs, links = [], []
                for i in range(len(long)):
                    kind_value = str(long.at[i, kind])
                    columns = [
                        c
                        for c in values[wide_name]
                        if c.startswith(kind_value + "_") and tokens & set(c.split("_")[1:])
                    ]
                    j = wide_index.get(tuple(long_keys[i]))
                    if len(columns) != 1 or j is None:
                        continue
                    links.append((i, j, columns[0]))
                    vw = values[wide_name][columns[0]][j]
                    if vl[i] is not None and vw is not None:
                        pairs.append((float(vl[i]), float(vw)))
                if not links or (pairs and not _holds(pairs, 1)):
                    continue
                system.identities.append(
                    f"{long_name}.{long_count} where {kind} = v equals {wide_name}.<v>_… by {', '.join(others)}"
                    f" ({len(links)} cells, {len(pairs)} checked)"
                )
                for i, j, column in links:
                    system.add(
                        [
                            (1.0, long_name, i, long_count, vl[i]),
                            (-1.0, wide_name, j, column, values[wide_name][column][j]),
                        ],
                        0.0,
                    )
    # Every withheld count is an unknown, even where no identity touches it.
    for name in tables:
        for column, cells in values[name].items():
            for i, value in enumerate(cells):
                if value is None:
                    system.var(name, i, column)
    return system


def test_arithmetic_and_linked_table_attack(release, figures) -> None:
    system = build_system(release)
    for identity in system.identities:
        say(figures, release, f"identity used: {identity}")
    upper = {system.index[key]: ub for key, ub in system.upper.items() if key in system.index}
    bounds = solve_bounds(system, upper)
    per_column: dict[str, Counter] = defaultdict(Counter)
    truths: dict[str, pd.DataFrame | None] = {}
    for cell, (low, high) in zip(system.cells, bounds, strict=True):
        key = f"{cell.relation}.{cell.column}"
        per_column[key]["withheld"] += 1
        width = POLICY.width(is_device(release, cell.relation, cell.column))
        per_column[key]["width"] = width
        if high - low >= width:
            continue
        if cell.relation not in truths:
            truths[cell.relation] = truth_of(release, cell.relation, release.tables[cell.relation])
        truth = truths[cell.relation]
        value = None
        if truth is not None and cell.column in truth.columns and known(truth.at[cell.row, cell.column]):
            value = int(truth.at[cell.row, cell.column])
        if value is not None and not low <= value <= high:
            per_column[key]["misled"] += 1  # an identity that does not hold for this cell: no success
            continue
        per_column[key]["narrow"] += 1
        per_column[key]["exact"] += int(low == high)
        per_column[key]["scored"] += int(value is not None)
    failures = []
    total = sum(c["withheld"] for c in per_column.values())
    narrow = sum(c["narrow"] for c in per_column.values())
    for key, c in sorted(per_column.items()):
        width = c["width"]
        scored = f" ({c['scored']} checked against the true value)" if c["scored"] else ""
        misled = (
            f"; {c['misled']} narrow intervals missed the true value (not counted)" if c["misled"] else ""
        )
        say(
            figures,
            release,
            f"LP attack {key}: {c['withheld']} withheld, {c['exact']} recovered exactly"
            f" ({c['exact'] / c['withheld']:.0%}), {c['narrow']} with an interval narrower than {width:g}"
            f"{scored}{misled}",
        )
        if c["narrow"]:
            failures.append(f"{key}: {c['narrow']} of {c['withheld']} withheld cells narrower than {width:g}")
    say(
        figures,
        release,
        f"LP attack: {narrow} of {total} withheld cells ({narrow / max(total, 1):.1%}) narrower than the"
        " protection interval",
    )
    assert not failures, "\n".join(failures)


# --- 4. small cells and small-contributor statistics ---------------------------------------------------------------


CONTRIBUTOR_SYNONYMS = {"satisf": "rated", "coverag": "need", "unmatc": "records", "resident": "resident"}


def contributors_of(statistic: str, counts: list[str]) -> list[str]:
    stems = {t[:6] for t in statistic.split("_") if len(t) > 3}
    stems |= {v for k, v in CONTRIBUTOR_SYNONYMS.items() if any(s.startswith(k[:6]) for s in stems)}
    matched = [c for c in counts if any(stem in c for stem in stems)]
    return matched or counts


def test_small_cells_and_small_contributor_statistics(release, figures) -> None:
    failures = []
    for name, frame in sorted(aggregates(release).items()):
        counts = count_columns(frame)
        for column in counts:
            k = k_for(release, name, column)
            small = frame[column].dropna()
            small = small[(small >= 1) & (small < k)]
            say(
                figures,
                release,
                f"small cells {name}.{column}: {len(small)} published values in 1..{k - 1}"
                f" (of {frame[column].notna().sum()} published)",
            )
            if len(small):
                failures.append(f"{name}.{column}: {len(small)} cells in 1..{k - 1}")
        for statistic in statistic_columns(frame):
            over = contributors_of(statistic, counts)
            k = min(k_for(release, name, c) for c in over) if over else POLICY.k_person
            published = frame[frame[statistic].notna()]
            contributors = published[over].min(axis=1, skipna=False)
            few = published[(contributors < k) | contributors.isna()]
            say(
                figures,
                release,
                f"small-contributor statistic {name}.{statistic} (contributors: min of {', '.join(over)}):"
                f" {len(few)} of {len(published)} published values over fewer than {k} (or withheld) contributors",
            )
            if len(few):
                failures.append(f"{name}.{statistic}: {len(few)} values over < {k} contributors")
            # Ratio x published denominator = numerator: a small or withheld count comes back.
            if published[statistic].between(0, 1).all():
                back = 0
                ratio = published[statistic].astype(float)
                for denominator in over:
                    n = published[denominator].astype(float)
                    product = ratio * n
                    exact = (product - product.round()).abs() <= 0.0005 * n + 1e-9
                    hits = (
                        exact & product.round().between(1, k - 1) & ratio.between(0, 1, inclusive="neither")
                    )
                    back += int(hits.sum())
                if back:
                    say(
                        figures,
                        release,
                        f"ratio attack {name}.{statistic}: {back} products with a published"
                        f" count give a count in 1..{k - 1}",
                    )
                    failures.append(f"{name}.{statistic}: {back} ratio x count products in 1..{k - 1}")
    assert not failures, "\n".join(failures)


# --- 5. PII in free text -------------------------------------------------------------------------------------------------


def _register(release) -> dict[str, set[str]]:
    """Names, ID numbers, phones and addresses of the generated register (GBK) and the appeals feed."""
    import pyarrow.csv as pacsv

    from community_dw.contracts import get_contract

    contract = get_contract("population_registry")
    header = {c.name: c.header for c in contract.delivered_columns}
    out: dict[str, set[str]] = defaultdict(set)
    for path in sorted((release.sources / "file_drop" / "population_registry").glob("*.csv")):
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="gbk"),
            convert_options=pacsv.ConvertOptions(column_types={h: "string" for h in header.values()}),
        )
        for kind, column in (
            ("name", "name"),
            ("id", "resident_id"),
            ("phone", "phone"),
            ("address", "address_detail"),
        ):
            if header.get(column) in table.column_names:
                out[kind] |= {v for v in table.column(header[column]).to_pylist() if v}
    tickets = json.loads((release.sources / "api" / "appeals" / "tickets.json").read_text(encoding="utf-8"))
    out["phone"] |= {t["reporter_phone"] for t in tickets if t.get("reporter_phone")}
    out["id"] |= {t["reporter_id"] for t in tickets if t.get("reporter_id")}
    out["address"] = {a for a in out["address"] if len(a) > 6}
    out["address_lengths"] = {len(a) for a in out["address"]}
    return out


CN_DIGITS = str.maketrans("零〇一二三四五六七八九幺０１２３４５６７８９", "001234567891" + "0123456789")
SEPARATORS = re.compile(r"(?<=[0-9Xx])[\s\-\.\/·—_,，、]+(?=[0-9Xx])")
PATTERNS = {
    "phone": re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"),
    "id_number": re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])"),
    "bank_card": re.compile(r"(?<!\d)(62\d{14,17})(?!\d)"),
    "email": re.compile(r"[A-Za-z0-9._%+-]+\s*[@＠]\s*[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"),
    "car_plate": re.compile(
        r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z][·•\s]?[A-HJ-NP-Z0-9]{5,6}"
    ),
    "street_address": re.compile(
        r"[\u4e00-\u9fff]{1,8}(路|街|巷|大道)\s*\d+\s*(号|幢|栋)|\d+\s*(幢|栋)\s*\d+\s*单元|\d+\s*单元\s*\d+\s*室"
    ),
}
NAME_CONTEXT = re.compile(
    r"(我是|我叫|本人|姓名|跟|找|联系人)([\u4e00-\u9fff]{2,4})|([\u4e00-\u9fff]{2,3})(先生|女士|阿姨|大爷|师傅)"
)


def pii_findings(text: str, register: dict[str, set[str]]) -> Counter:
    found: Counter = Counter()
    normalized = SEPARATORS.sub("", text.translate(CN_DIGITS))
    for kind, pattern in PATTERNS.items():
        if pattern.search(normalized):
            found[kind] += 1
    digits = re.findall(r"\d{11,18}[Xx]?", normalized)
    if any(d in register["phone"] for d in digits):
        found["registered phone"] += 1
    if any(d in register["id"] for d in digits):
        found["registered ID number"] += 1
    lengths = register["address_lengths"]
    if any(text[i : i + n] in register["address"] for n in lengths for i in range(len(text) - n + 1)):
        found["registered address"] += 1
    names = register["name"]
    for size in (3, 4):
        if any(text[i : i + size] in names for i in range(len(text) - size + 1)):
            found["registered full name (3+ chars)"] += 1
            break
    for match in NAME_CONTEXT.finditer(text):
        candidate = match.group(2) or match.group(3)
        if any(candidate[:n] in names for n in (2, 3, 4)):
            found["registered name after 我是/跟/… or before 先生/女士"] += 1
            break
    return found


def test_pii_in_free_text(release, figures) -> None:
    register = _register(release)
    failures = []
    for name, frame in sorted(release.tables.items()):
        for column in text_columns(frame):
            values = pd.Series(frame[column].dropna().astype(str).unique())
            # Codes (grid codes, ticket numbers, batch ids) are not text: a 15-digit grid code is no ID.
            values = values[(values.str.len() >= 6) & ~values.str.fullmatch(r"[0-9A-Za-z_\-/:. ]+")]
            if values.empty:
                continue
            kinds: Counter = Counter()
            rows_with = 0
            examples = []
            for value in values:
                found = pii_findings(value, register)
                kinds += found
                if found:
                    rows_with += 1
                    if len(examples) < 2:
                        examples.append(value[:60])
            if not kinds and column not in free_text_columns(frame):
                continue
            detail = ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()) or "none"
            say(
                figures,
                release,
                f"PII {name}.{column}: {rows_with} of {len(values)} distinct values ({rows_with / len(values):.1%}) carry PII: {detail}",
            )
            if rows_with:
                failures.append(f"{name}.{column}: {rows_with} values with PII ({detail}); e.g. {examples}")
    assert not failures, "\n".join(failures)


# --- 7. linking rows across relations ------------------------------------------------------------------------------


def _date_keys(series: pd.Series) -> dict[str, pd.Series]:
    values = pd.to_datetime(series, errors="coerce")
    return {
        "day": values.dt.strftime("%Y-%m-%d"),
        "week": (values - pd.to_timedelta(values.dt.weekday, unit="D")).dt.strftime("%Y-%m-%d"),
        "month": values.dt.strftime("%Y-%m-01"),
    }


def link_keys(aggregate: pd.DataFrame, view: pd.DataFrame) -> dict[str, pd.Series] | None:
    """For each aggregate dim a view-side key series (same values, or a date truncated to its grain)."""
    dims = dimension_columns(aggregate)
    out = {}
    for dim in dims:
        target = set(_as_key(aggregate[dim].dropna()))
        best = None
        for column in view.columns:
            options = {column: _as_key(view[column])}
            if view[column].dropna().map(lambda v: hasattr(v, "year")).all() and view[column].notna().any():
                options.update({f"{g}({column})": s for g, s in _date_keys(view[column]).items()})
            for label, series in options.items():
                values = set(series.dropna())
                if (
                    values
                    and len(values & target) / len(values) >= 0.9
                    and len(values & target) >= 0.5 * len(target)
                ):
                    best = (label, series)
                    break
            if best:
                break
        if best is None:
            return None
        out[dim] = best
    return out


def test_linking_rows_across_relations(release, figures) -> None:
    failures = []
    for (agg_name, aggregate), (view_name, view) in itertools.product(
        sorted(aggregates(release).items()), sorted(row_views(release).items())
    ):
        stats = statistic_columns(aggregate)
        if not stats or view.empty:
            continue
        keys = link_keys(aggregate, view)
        if not keys:
            continue
        view_key = pd.DataFrame({d: s for d, (_, s) in keys.items()})
        group_size = view_key.value_counts()
        group_size.index = group_size.index.map(lambda t: t if isinstance(t, tuple) else (t,))
        agg_key = pd.DataFrame({d: _as_key(aggregate[d]) for d in keys}, index=aggregate.index)
        linked = 0
        example = ""
        for i in aggregate.index:
            key = tuple(agg_key.loc[i])
            published = {s: float(aggregate.at[i, s]) for s in stats if known(aggregate.at[i, s])}
            if published and int(group_size.get(key, 0)) == 1:
                linked += 1
                if not example:
                    example = f" e.g. {dict(zip(keys, key, strict=True))}: {published}"
        on = ", ".join(label for label, _ in keys.values())
        say(
            figures,
            release,
            f"linking {view_name} -> {agg_name} on ({on}): {linked} view rows alone in their cell, whose"
            f" published statistics ({', '.join(stats)}) are that one row's own values{example}",
        )
        if linked:
            failures.append(f"{view_name} -> {agg_name}: {linked} rows linked to single-row statistics")
    assert not failures, "\n".join(failures)


# --- 6. escaping the analyst role on PostgreSQL ---------------------------------------------------------------------


def _try(conn, sql: str) -> tuple[bool, Any]:
    import psycopg2

    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            result = cur.fetchall() if cur.description else None
        conn.commit()
        return True, result
    except psycopg2.Error as error:
        conn.rollback()
        return False, str(error).splitlines()[0]


@pytest.fixture(scope="module")
def analyst(pg_release):
    conn = pg_release.analyst_connection()
    yield conn
    conn.close()


def test_pg_release_is_only_marts_and_analyst(pg_release, figures) -> None:
    outside = sorted(n for n in pg_release.tables if n.split(".")[0] not in ("marts", "analyst"))
    say(figures, pg_release, f"relations readable outside marts/analyst: {outside or 'none'}")
    assert not outside


def test_pg_set_role_to_other_roles(pg_release, analyst, figures) -> None:
    roles = [r for (r,) in pg_release.query("select rolname from pg_roles order by 1")]
    me = pg_release.analyst_login[0]
    gained = []
    for role in roles:
        if role in (me, "cdw_analyst"):
            continue
        ok, _ = _try(analyst, f'set role "{role}"')
        if ok:
            gained.append(role)
            _try(analyst, "reset role")
        ok, _ = _try(analyst, f'set session authorization "{role}"')
        if ok:
            gained.append(f"session authorization {role}")
            _try(analyst, "reset session authorization")
    say(
        figures,
        pg_release,
        f"SET ROLE / SESSION AUTHORIZATION tried on {len(roles) - 2} roles: gained {gained or 'none'}",
    )
    assert not gained


def test_pg_row_security_off_and_rls_tables(pg_release, analyst, figures) -> None:
    rls = pg_release.query(
        "select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where c.relrowsecurity"
    )
    _try(analyst, "set row_security = off")
    leaked = []
    for (relation,) in rls:
        ok, rows = _try(analyst, f"select count(*) from {relation}")
        if ok:
            leaked.append(f"{relation}: {rows[0][0]} rows")
    say(figures, pg_release, f"row_security = off on {len(rls)} RLS tables: readable {leaked or 'none'}")
    assert not leaked


def test_pg_planner_statistics_leak(pg_release, analyst, figures) -> None:
    """pg_stats shows most-common values and histograms; a role must see them only for what it can read."""
    readable = {tuple(n.split(".", 1)) for n in pg_release.tables}
    _ok, rows = _try(
        analyst,
        "select schemaname, tablename, attname, coalesce(most_common_vals::text, histogram_bounds::text)"
        " from pg_stats where schemaname not in ('pg_catalog', 'information_schema')",
    )
    leaks = [r for r in (rows or []) if (r[0], r[1]) not in readable]
    direct, _detail = _try(analyst, "select count(*) from pg_statistic")
    ext, ext_rows = _try(
        analyst,
        "select schemaname, tablename, most_common_vals::text from pg_stats_ext"
        " where schemaname not in ('pg_catalog', 'information_schema')",
    )
    ext_leaks = [r for r in (ext_rows or []) if (r[0], r[1]) not in readable] if ext else []
    say(
        figures,
        pg_release,
        f"pg_stats: {len(leaks)} columns of unreadable relations show values"
        f"{' e.g. ' + str(leaks[0])[:120] if leaks else ''}; pg_statistic direct: "
        f"{'READ' if direct else 'denied'}; pg_stats_ext leaks: {len(ext_leaks)}",
    )
    assert not leaks and not direct and not ext_leaks


def test_pg_catalog_row_counts_of_unreadable_relations(pg_release, analyst, figures) -> None:
    """A row count is a count: the planner's estimates (pg_class.reltuples), the statistics collector
    (pg_stat_user_tables, pg_stat_get_live_tuples) are readable by every role unless revoked.

    Each channel is tried on its own and every count it shows is printed; the attack succeeds when a
    relation about residents (outside `access` and `audit`) shows a small count (1..k-1).
    """
    readable = set(pg_release.tables)
    k = POLICY.k_person
    relations = (
        "select c.oid, n.nspname || '.' || c.relname as name from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'm', 'p')"
        " and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')"
    )
    channels = {
        "pg_class.reltuples": f"select r.name, c.reltuples::bigint from ({relations}) r join pg_class c on c.oid = r.oid",
        "pg_stat_user_tables": "select schemaname || '.' || relname, n_live_tup from pg_stat_user_tables",
        "pg_stat_get_live_tuples": f"select r.name, pg_stat_get_live_tuples(r.oid) from ({relations}) r",
    }
    visible: dict[str, int] = {}
    outcomes = []
    for channel, sql in channels.items():
        ok, rows = _try(analyst, sql)
        outcomes.append(f"{channel}: {'readable' if ok else 'denied'}")
        for name, count in rows if ok else []:
            if name not in readable and count and count > 0:
                visible[name] = max(visible.get(name, 0), int(count))
    # Staff mappings (access) and audit records are not about residents; every other schema is.
    small = {n: c for n, c in visible.items() if 1 <= c < k and n.split(".")[0] not in ("access", "audit")}
    say(
        figures,
        pg_release,
        f"catalog row counts ({'; '.join(outcomes)}) of {len(visible)} unreadable relations visible to the"
        " analyst, e.g. "
        + (", ".join(f"{n} {c:,}" for n, c in sorted(visible.items())[:6]) or "none")
        + f"; small (1..{k - 1}): {small or 'none'}",
    )
    assert not small, f"small counts published through the catalog: {small}"


def test_pg_server_side_escapes(pg_release, analyst, figures) -> None:
    attempts = {
        "COPY TO PROGRAM": "copy (select 1) to program 'true'",
        "COPY TO server file": "copy (select 1) to '/tmp/cdw_attack_copy.txt'",
        "pg_read_file": "select pg_read_file('PG_VERSION')",
        "pg_ls_dir": "select pg_ls_dir('.')",
        "lo_import": "select lo_import('/etc/hostname')",
        "create extension dblink": "create extension if not exists dblink",
        "create extension postgres_fdw": "create extension if not exists postgres_fdw",
        "create schema": "create schema attack_schema",
        "create table in public": "create table public.attack_probe (x int)",
        "create table in marts": "create table marts.attack_probe (x int)",
        "grant cdw_engineer to self": f"grant cdw_engineer to {pg_release.analyst_login[0]}",
        "create role": "create role attack_role",
        "read raw via COPY": "copy raw.population_registry to stdout",
    }
    worked = []
    for label, sql in attempts.items():
        ok, _ = _try(analyst, sql)
        if ok:
            worked.append(label)
    definer = pg_release.query(
        "select n.nspname || '.' || p.proname || ' (owner ' || pg_get_userbyid(p.proowner) || ')'"
        " from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')"
        f" and has_function_privilege('{pg_release.analyst_login[0]}', p.oid, 'EXECUTE')"
    )
    temp_ok, _ = _try(analyst, "create temp table attack_temp as select 1 as x")
    say(
        figures,
        pg_release,
        f"server-side escapes tried {len(attempts)}: worked {worked or 'none'}; security-definer functions"
        f" the analyst may execute: {[d for (d,) in definer] or 'none'}; temp tables allowed: {temp_ok}",
    )
    assert not worked and not definer


def test_pg_leaky_function_through_views(pg_release, analyst, figures) -> None:
    """A cheap pg_temp function in WHERE sees rows a (non-barrier) view would filter out, and RLS rows."""
    ok, detail = _try(
        analyst,
        "create function pg_temp.peek(anyelement) returns boolean language plpgsql cost 0.0000001 as"
        " $$ begin perform set_config('attack.calls', (coalesce(nullif(current_setting('attack.calls', true), ''),"
        " '0')::int + 1)::text, false); return true; end $$",
    )
    if not ok:
        say(figures, pg_release, f"leaky function: cannot create one in pg_temp ({detail})")
        return
    views = pg_release.query(
        "select n.nspname, c.relname, coalesce(array_to_string(c.reloptions, ','), '')"
        " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where c.relkind = 'v' and n.nspname in ('marts', 'analyst')"
    )
    seen_more = []
    for schema, view, options in views:
        ok, rows = _try(analyst, f'select count(*) from "{schema}"."{view}"')
        if not ok:
            continue
        visible = rows[0][0]
        columns = pg_release.tables[f"{schema}.{view}"].columns
        _try(analyst, "select set_config('attack.calls', '0', false)")
        _try(analyst, f'select count(*) from "{schema}"."{view}" where pg_temp.peek("{columns[0]}")')
        _, calls = _try(analyst, "select current_setting('attack.calls', true)")
        called = int(calls[0][0] or 0)
        if called > visible:
            seen_more.append(
                f"{schema}.{view}: function saw {called} rows, view shows {visible} ({options or 'no security_barrier'})"
            )
    say(
        figures, pg_release, f"leaky function through {len(views)} views: {seen_more or 'saw no hidden rows'}"
    )
    assert not seen_more
