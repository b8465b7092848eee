"""The analyst release: protect every analyst-facing relation together, audit it as a whole, publish it.

dbt builds the analyst-facing models as candidates with exact values (schemas `candidate_marts` and
`candidate_analyst`, engineers only). This step, run after every build:

1. reads the release's declarations from the manifest (declarations.read_release) and the policy;
2. per population, turns every published count of every relation, and every equivalence class of
   every row-level view (with its generalization chosen by the data, kanonymity), into cells over the
   population's atoms (cells.PopulationCells), checking that each candidate value is the count its
   declaration says it is;
3. withholds cells under k and chooses complementary cells by optimization, looping with the attacker's
   linear programme until no withheld cell can be narrowed below the protection width (suppression);
4. withholds every statistic over fewer than k contributors and every ratio of a withheld count;
5. writes the published relations (`marts`, `analyst`) in one transaction, reads them back and scans
   every count and class again; commits only when the release passes, and records the verdict per
   relation in `audit.release_audits` either way. A release that fails is not published: the analyst
   keeps the previous one (PostgreSQL) and no analyst file is written (DuckDB), and ReleaseRejected
   names the relation, the cells and the rule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from community_dw.disclosure.backends import quote, relation_sql
from community_dw.disclosure.cells import PopulationCells, normalize
from community_dw.disclosure.declarations import Aggregate, Release, RowLevelView, read_release
from community_dw.disclosure.kanonymity import Generalization, choose_generalization
from community_dw.disclosure.policy import DisclosurePolicy, load_policy
from community_dw.disclosure.suppression import Protection, protect
from community_dw.warehouse.base import RELEASE_AUDITS_DDL

log = logging.getLogger(__name__)

PUBLISHED_SCHEMAS = ("marts", "analyst")


class ReleaseRejected(RuntimeError):
    """The release failed its audit; nothing was published and the verdict is in audit.release_audits."""


class _Verdict:
    """`verdict`, as audit.release_audits records it, of whatever has `problems` (a relation's audit, the
    whole release's): pass when there are none."""

    @property
    def verdict(self) -> str:
        return "fail" if self.problems else "pass"  # type: ignore[attr-defined]


@dataclass
class RelationAudit(_Verdict):
    relation: str
    kind: str
    population: str | None = None
    cells: int = 0
    cells_primary: int = 0
    cells_suppressed: int = 0
    min_interval_width: float | None = None
    min_k: int | None = None
    rows_published: int = 0
    rows_withheld: int = 0
    generalization: str | None = None
    problems: list[str] = field(default_factory=list)
    # Utility, not privacy: what the release withheld beyond what the policy hopes for (kept in audit).
    notes: list[str] = field(default_factory=list)


@dataclass
class ReleaseResult(_Verdict):
    release_id: str
    target: str
    relations: dict[str, RelationAudit]
    protections: dict[str, Protection]
    generalizations: dict[str, Generalization]
    published: bool = False

    @property
    def problems(self) -> list[str]:
        return [f"{a.relation}: {p}" for a in self.relations.values() for p in a.problems]


@dataclass
class _Plan:
    """What to publish for one relation: the candidate's rows, numbered, and per row what to withhold."""

    select_sql: str
    decisions: pd.DataFrame  # _rn plus one boolean per withheld column (aggregates) or _keep (views)


# -- reading -------------------------------------------------------------------------------------


def _population_columns(release: Release, population: str) -> list[str]:
    columns: set[str] = set()
    for aggregate in release.aggregates:
        if aggregate.population == population:
            columns.update(aggregate.key.values())
            for count in aggregate.counts:
                columns.update(count.where)
    for view in release.views:
        if view.population == population:
            columns.update(c for ladder in view.generalize for c in ladder.levels)
            columns.update(view.keep)
    return sorted(columns)


def _units(backend, release: Release, name: str) -> PopulationCells:
    population = release.populations[name]
    columns = _population_columns(release, name)
    select = [quote(c) for c in columns]
    select.append(f"{quote(population.count)} as _n" if population.count else "1 as _n")
    if population.contributor:
        select.append(f"{quote(population.contributor)} as _contributor")
    frame = backend.frame(f"select {', '.join(select)} from {relation_sql(population.relation)}")
    return PopulationCells(name, population.unit, frame, columns)


def _ordered(backend, relation: str, order: list[str]) -> pd.DataFrame:
    order_sql = ", ".join(quote(c) for c in order)
    return backend.frame(f"select * from {relation_sql(relation)} order by {order_sql}")


def _columns_of(backend, relation: str) -> list[str]:
    return list(backend.frame(f"select * from {relation_sql(relation)} where 1 = 0").columns)


# -- deciding ------------------------------------------------------------------------------------


def _is_text(frame: pd.DataFrame, column: str) -> bool:
    values = frame[column].dropna()
    return len(values) > 0 and all(isinstance(v, str) for v in values.head(200))


def neutralized(expression: str) -> str:
    """A text value as a spreadsheet or a browser cannot run it.

    A leading = + - @ (or tab, carriage return) makes a spreadsheet read a formula when an analyst
    exports the relation (=HYPERLINK(...), @SUM(...)): such a value gets a leading apostrophe, as OWASP
    advises for CSV. Angle brackets become their full-width forms, so no value is markup (<script>,
    <img onerror>) in a page that forgets to escape it. Text without either is unchanged.
    """
    triggers = ", ".join(["'='", "'+'", "'-'", "'@'", "chr(9)", "chr(13)"])
    bracketed = f"replace(replace({expression}, '<', '＜'), '>', '＞')"
    return (
        f"case when substr({expression}, 1, 1) in ({triggers}) then '''' || {bracketed} else {bracketed} end"
    )


def _count_value(value: Any) -> int:
    value = normalize(value)
    return 0 if value is None else int(value)


def _register_aggregate(
    cells: PopulationCells, aggregate: Aggregate, frame: pd.DataFrame, audit: RelationAudit
):
    cell_of: dict[tuple[int, str], int | None] = {}
    records = frame.to_dict("records")
    for i, row in enumerate(records):
        key = {}
        for column, population_column in aggregate.key.items():
            if column in aggregate.rollup and normalize(row[column]) == aggregate.rollup[column]:
                continue
            key[population_column] = row[column]
        for count in aggregate.counts:
            cell = cells.add(aggregate.name, i, count.column, key, count.where)
            expected = 0 if cell is None else cell.value
            if _count_value(row[count.column]) != expected:
                audit.problems.append(
                    f"DECLARATION: row {i + 1} {count.column} is {row[count.column]} but its declared cell over"
                    f" {cells.name} counts {expected}; fix the model or its meta.disclosure"
                )
            cell_of[(i, count.column)] = None if cell is None else cell.id
    return cell_of


def _register_view(cells: PopulationCells, view: RowLevelView, frame: pd.DataFrame, chosen: Generalization):
    columns = list(chosen.class_columns)
    class_of_row = frame.groupby(columns, dropna=False, sort=False).ngroup().to_numpy()
    class_cells: dict[int, int | None] = {}
    problems = []
    firsts = frame.groupby(columns, dropna=False, sort=False).head(1)
    sizes = pd.Series(class_of_row).value_counts()
    for index, row in firsts.iterrows():
        class_id = int(class_of_row[index])
        cell = cells.add(view.name, class_id, "_rows", {c: row[c] for c in columns}, {})
        if cell is None or cell.value != int(sizes[class_id]):
            problems.append(
                f"DECLARATION: class {class_id} has {int(sizes[class_id])} rows but {cells.name} counts"
                f" {0 if cell is None else cell.value} units with the same values; the view must hold one row"
                " per unit of its population"
            )
        class_cells[class_id] = None if cell is None else cell.id
    return class_of_row, class_cells, problems


def _aggregate_plan(
    aggregate: Aggregate,
    frame: pd.DataFrame,
    cell_of: dict,
    suppressed: set[int],
    policy: DisclosurePolicy,
    k: int,
    audit: RelationAudit,
    cells: PopulationCells,
) -> _Plan:
    n = len(frame)
    withheld: dict[str, list[bool]] = {}
    for count in aggregate.counts:
        withheld[count.column] = [cell_of[(i, count.column)] in suppressed for i in range(n)]
    for column, parent in aggregate.distinct_counts.items():
        withheld[column] = [
            withheld[parent][i] or 0 < _count_value(frame[column].iat[i]) < k for i in range(n)
        ]
    for column, contributors in aggregate.statistics.items():
        withheld[column] = [
            withheld[contributors][i] or _count_value(frame[contributors].iat[i]) < k for i in range(n)
        ]
    for column, unit in aggregate.minimum_values.items():
        floor = policy.k_for(unit)
        withheld[column] = [
            (v := normalize(frame[column].iat[i])) is not None and 0 < float(v) < floor for i in range(n)
        ]
    for column, (numerator, denominator) in aggregate.ratios.items():
        withheld[column] = [withheld[numerator][i] or withheld[denominator][i] for i in range(n)]
    flags = {
        flag: [any(withheld[c][i] for c in columns) for i in range(n)]
        for flag, columns in aggregate.suppression_flags.items()
    }
    decisions = pd.DataFrame({"_rn": range(1, n + 1)})
    select = []
    for column in frame.columns:
        if column in withheld:
            decisions[f"w_{column}"] = withheld[column]
            select.append(
                f"case when d.{quote('w_' + column)} then null else c.{quote(column)} end as {quote(column)}"
            )
        elif column in flags:
            decisions[f"f_{column}"] = flags[column]
            select.append(f"d.{quote('f_' + column)} as {quote(column)}")
        elif _is_text(frame, column):
            select.append(f"{neutralized('c.' + quote(column))} as {quote(column)}")
        else:
            select.append(f"c.{quote(column)}")
    order = ", ".join(quote(c) for c in aggregate.key)
    select_sql = (
        f"select {', '.join(select)} from (select *, row_number() over (order by {order}) as _rn"
        f" from {relation_sql(aggregate.candidate)}) as c inner join {{decisions}} as d on c._rn = d._rn"
        " order by c._rn"
    )
    counted = {cell_of[(i, c.column)] for i in range(n) for c in aggregate.counts} - {None}
    audit.cells = len(counted)
    audit.cells_suppressed = len(counted & suppressed)
    published = [cells.cells[c].contributors for c in counted - suppressed if cells.cells[c].value > 0]
    audit.min_k = min(published) if published else None
    audit.rows_published = n
    return _Plan(select_sql, decisions)


def _view_plan(
    view: RowLevelView, frame: pd.DataFrame, chosen: Generalization, keep_row, audit: RelationAudit
) -> _Plan:
    decisions = pd.DataFrame({"_rn": range(1, len(frame) + 1), "_keep": keep_row})
    select = []
    for ladder in view.generalize:
        picked = chosen.levels[ladder.column]
        select.append(f"c.{quote(picked)} as {quote(ladder.column)}")
        select.append(f"'{picked}' as {quote(ladder.column + '_level')}")
    for column in (*view.keep, *view.show):
        shown = f"c.{quote(column)}"
        select.append(f"{neutralized(shown)} as {quote(column)}" if _is_text(frame, column) else shown)
    order = ", ".join(quote(c) for c in frame.columns)
    select_sql = (
        f"select {', '.join(select)} from (select *, row_number() over (order by {order}) as _rn"
        f" from {relation_sql(view.candidate)}) as c inner join {{decisions}} as d on c._rn = d._rn"
        " where d._keep order by c._rn"
    )
    audit.rows_published = int(sum(keep_row))
    audit.rows_withheld = len(frame) - audit.rows_published
    return _Plan(select_sql, decisions)


def plan_release(
    backend, manifest_path: Path, policy: DisclosurePolicy
) -> tuple[Release, ReleaseResult, dict[str, _Plan]]:
    """Decide everything about the release without writing anything."""
    release = read_release(manifest_path, policy.quasi_identifier_classes)
    audits: dict[str, RelationAudit] = {}
    plans: dict[str, _Plan] = {}
    protections: dict[str, Protection] = {}
    generalizations: dict[str, Generalization] = {}
    for name in sorted({a.population for a in release.aggregates} | {v.population for v in release.views}):
        population = release.populations[name]
        k = policy.k_for(population.unit)
        width = policy.width_for(population.unit)
        cells = _units(backend, release, name)
        registered = []
        for aggregate in (a for a in release.aggregates if a.population == name):
            audit = audits[aggregate.name] = RelationAudit(aggregate.name, "aggregate", name)
            frame = _ordered(backend, aggregate.candidate, list(aggregate.key))
            registered.append((aggregate, frame, _register_aggregate(cells, aggregate, frame, audit)))
        viewed = []
        for view in (v for v in release.views if v.population == name):
            audit = audits[view.name] = RelationAudit(view.name, "row_level", name)
            frame = _ordered(backend, view.candidate, _columns_of(backend, view.candidate))
            chosen = choose_generalization(view, frame, k, policy.max_suppressed_row_share)
            generalizations[view.name] = chosen
            audit.generalization = ", ".join(f"{c}={lvl}" for c, lvl in chosen.levels.items()) or "none"
            if not chosen.within_limit:
                # Privacy still holds (the rows of small classes are withheld); the view is just thin.
                audit.notes.append(
                    f"ROW_SUPPRESSION_OVER_LIMIT: even the most general node withholds {chosen.suppressed_rows}"
                    f" of {chosen.rows} rows (limit {policy.max_suppressed_row_share:.0%}); widen the ladders"
                    " or replace the view by an aggregate if analysts need these rows"
                )
            class_of_row, class_cells, problems = _register_view(cells, view, frame, chosen)
            audit.problems.extend(problems)
            viewed.append((view, frame, chosen, class_of_row, class_cells))
        protection = protect(cells, k, width)
        protections[name] = protection
        for interval in protection.unprotected:
            cell = cells.cells[interval.cell]
            uses = cell.uses or [u for part in cell.derived_from for u in cells.cells[part].uses]
            what = "" if cell.uses else "the rest of the total beside "
            for relation, row, column in uses:
                audits[relation].problems.append(
                    f"PROTECTION_INTERVAL: row {row + 1} {what}{column}: an attacker bounds it to"
                    f" [{interval.lower:g}, {interval.upper:g}], narrower than {width}"
                )
        for aggregate, frame, cell_of in registered:
            plans[aggregate.name] = _aggregate_plan(
                aggregate, frame, cell_of, protection.suppressed, policy, k, audits[aggregate.name], cells
            )
            audits[aggregate.name].cells_primary = len(
                {c for c in cell_of.values() if c is not None} & protection.primary
            )
        for view, frame, chosen, class_of_row, class_cells in viewed:
            audit = audits[view.name]
            keep_row = [
                class_cells[int(c)] is not None and class_cells[int(c)] not in protection.suppressed
                for c in class_of_row
            ]
            plans[view.name] = _view_plan(view, frame, chosen, keep_row, audit)
            shown = {c for c in class_cells.values() if c is not None} - protection.suppressed
            audit.cells = len([c for c in class_cells.values() if c is not None])
            audit.cells_suppressed = audit.cells - len(shown)
            audit.cells_primary = len({c for c in class_cells.values() if c is not None} & protection.primary)
            sizes = [cells.cells[c].contributors for c in shown]
            audit.min_k = min(sizes) if sizes else None
        for relation in {entry[0].name for entry in [*registered, *viewed]}:
            widths = [
                protection.intervals[c.id].width
                for c in cells.cells
                if c.id in protection.intervals and any(u[0] == relation for u in c.uses)
            ]
            audits[relation].min_interval_width = min(widths) if widths else None
    for candidate, published in release.copied:
        audits[published] = RelationAudit(published, "copied")
        plans[published] = _Plan(f"select * from {relation_sql(candidate)}", pd.DataFrame())
    digest = hashlib.sha256()
    for name in sorted(plans):
        digest.update(name.encode())
        digest.update(pd.util.hash_pandas_object(plans[name].decisions, index=False).values.tobytes())
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    result = ReleaseResult(
        f"{stamp}-{digest.hexdigest()[:8]}", backend.name, audits, protections, generalizations
    )
    return release, result, plans


# -- checking what was written ---------------------------------------------------------------------


def _scan_published(backend, release: Release, result: ReleaseResult, policy: DisclosurePolicy) -> None:
    """Read the written relations back and scan them as an analyst would see them."""
    for aggregate in release.aggregates:
        unit = release.populations[aggregate.population].unit
        k = policy.k_for(unit)
        frame = backend.frame(f"select * from {relation_sql(aggregate.name)}")
        audit = result.relations[aggregate.name]
        for column in [c.column for c in aggregate.counts] + list(aggregate.distinct_counts):
            small = [v for v in frame[column] if normalize(v) is not None and 0 < float(normalize(v)) < k]
            if small:
                audit.problems.append(f"SMALL_CELL: {len(small)} published {column} values under k={k}")
        for column, contributors in aggregate.statistics.items():
            shown = frame[frame[column].notna()]
            thin = [v for v in shown[contributors] if normalize(v) is None or float(normalize(v)) < k]
            if thin:
                audit.problems.append(
                    f"SMALL_CONTRIBUTORS: {len(thin)} {column} values published over fewer than k={k} {contributors}"
                )
    for view in release.views:
        k = policy.k_for(release.populations[view.population].unit)
        chosen = result.generalizations[view.name]
        columns = [ladder.column for ladder in view.generalize] + list(view.keep)
        if not columns:
            continue
        group = ", ".join(quote(c) for c in columns)
        sizes = backend.frame(
            f"select count(*) as n from {relation_sql(view.name)} group by {group} having count(*) < {k}"
        )
        if len(sizes):
            result.relations[view.name].problems.append(
                f"K_ANONYMITY: {len(sizes)} equivalence classes under k={k} over {', '.join(columns)}"
                f" ({chosen.view})"
            )


# -- writing -------------------------------------------------------------------------------------


def _record(backend, result: ReleaseResult) -> None:
    backend.execute("create schema if not exists audit")
    backend.execute(RELEASE_AUDITS_DDL)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = []
    for audit in sorted(result.relations.values(), key=lambda a: a.relation):
        rows.append(
            (
                result.release_id,
                result.target,
                audit.relation,
                audit.kind,
                audit.population,
                audit.cells,
                audit.cells_primary,
                audit.cells_suppressed,
                audit.min_interval_width if audit.min_interval_width != float("inf") else None,
                audit.min_k,
                audit.rows_published,
                audit.rows_withheld,
                audit.generalization,
                audit.verdict,
                "; ".join((audit.problems + audit.notes)[:20]) or None,
                now,
            )
        )
    rows = [r for r in rows if r[2] != "(release)"]
    rows.append(
        (
            result.release_id,
            result.target,
            "(release)",
            "release",
            None,
            sum(a.cells for a in result.relations.values()),
            sum(a.cells_primary for a in result.relations.values()),
            sum(a.cells_suppressed for a in result.relations.values()),
            min(
                (a.min_interval_width for a in result.relations.values() if a.min_interval_width is not None),
                default=None,
            ),
            min((a.min_k for a in result.relations.values() if a.min_k is not None), default=None),
            sum(a.rows_published for a in result.relations.values()),
            sum(a.rows_withheld for a in result.relations.values()),
            None,
            "published" if result.published else "rejected",
            "; ".join(result.problems[:20]) or None,
            now,
        )
    )
    frame = pd.DataFrame(
        rows,
        columns=[
            "release_id",
            "target",
            "relation",
            "kind",
            "population",
            "cells",
            "cells_primary",
            "cells_suppressed",
            "min_interval_width",
            "min_k",
            "rows_published",
            "rows_withheld",
            "generalization",
            "verdict",
            "detail",
            "audited_at",
        ],
    )
    backend.insert("audit.release_audits", frame)


def _write(backend, plans: dict[str, _Plan]) -> None:
    for schema in PUBLISHED_SCHEMAS:
        backend.execute(f"create schema if not exists {quote(schema)}")
    # Everything an earlier release published goes: relations this one holds are rewritten, the others
    # (a view withdrawn from the release) are withdrawn. One transaction: readers see one release.
    current = backend.frame(
        "select table_schema, table_name, table_type from information_schema.tables where table_schema in"
        f" ({', '.join(repr(s) for s in PUBLISHED_SCHEMAS)})"
    )
    for schema, table, kind in current.itertuples(index=False):
        what = "view" if "VIEW" in str(kind).upper() else "table"
        backend.execute(f"drop {what} if exists {quote(schema)}.{quote(table)} cascade")
    for number, (name, plan) in enumerate(sorted(plans.items())):
        staged = None
        sql = plan.select_sql
        if len(plan.decisions.columns):
            staged = f"_cdw_release_{number}"
            backend.stage(staged, plan.decisions)
            sql = sql.replace("{decisions}", quote(staged))
        schema, table = name.split(".")
        backend.execute(f"create table {relation_sql(name)} as {sql}")
        backend.grant_readers(schema, table)


def run_release(
    backend, manifest_path: Path | None = None, policy: DisclosurePolicy | None = None
) -> ReleaseResult:
    """Protect, audit and (when it passes) publish the release; record the verdict; raise when it fails."""
    from community_dw.dbt_runner import MANIFEST_PATH

    manifest_path = Path(manifest_path or MANIFEST_PATH)
    policy = policy or load_policy()
    try:
        release, result, plans = plan_release(backend, manifest_path, policy)
    except Exception as exc:
        failed = ReleaseResult(f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-error", backend.name, {}, {}, {})
        failed.relations["(release)"] = RelationAudit("(release)", "error", problems=[f"AUDIT_ERROR: {exc}"])
        with backend.transaction():
            _record(backend, failed)
        raise ReleaseRejected(f"the release could not be audited, nothing was published: {exc}") from exc
    if not result.problems:
        try:
            with backend.transaction():
                _write(backend, plans)
                _scan_published(backend, release, result, policy)
                if result.problems:
                    raise ReleaseRejected("; ".join(result.problems))
        except ReleaseRejected:
            pass
        except Exception as exc:  # the transaction rolled back: nothing was published
            log.exception("publishing release %s failed", result.release_id)
            result.relations.setdefault("(release)", RelationAudit("(release)", "error")).problems.append(
                f"PUBLISH_ERROR: {exc}"
            )
        else:
            result.published = True
    with backend.transaction():
        _record(backend, result)
    if not result.published:
        raise ReleaseRejected(
            f"release {result.release_id} failed its disclosure audit and was not published:\n  "
            + "\n  ".join(result.problems[:30])
        )
    log.info("release %s published: %s", result.release_id, ", ".join(sorted(result.relations)))
    return result
