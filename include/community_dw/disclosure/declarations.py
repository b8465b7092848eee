"""What the release is made of, read from the dbt manifest: populations, aggregates and row-level views.

Declared in the models' YAML (`config.meta`), next to the SQL they describe:

- a **population** is declared on the engineer-only model whose rows are its units or finest cells
  (`meta.disclosure_population: {name, unit, count?, contributor?}`): `unit` picks k and the protection
  width from the policy; `count` names a column holding pre-aggregated counts (else one row = one
  unit); `contributor` names a pseudonym column when several rows can come from one person (tickets
  from one reporter), so that k applies to distinct people, not rows;
- an **aggregate** (`meta.disclosure: {population, key, counts, ...}`) says which of its columns are
  counts of that population and how each cell maps onto the population's columns, which columns are
  statistics over a count's contributors, and which are ratios of two counts;
- a **row-level view** (`meta.disclosure: {population, row_level: {purpose, generalize, keep, show}}`)
  says why rows are needed and which quasi-identifiers are generalized along which ladders.

Everything the release step, the audit and the tests know about the release comes from here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATE_SCHEMAS = {"candidate_marts": "marts", "candidate_analyst": "analyst"}


class DeclarationError(ValueError):
    """A model's disclosure declaration is missing, inconsistent or names unknown columns."""


@dataclass(frozen=True)
class Population:
    name: str
    unit: str
    relation: str  # schema.table of the engineer-only model
    count: str | None = None
    contributor: str | None = None


@dataclass(frozen=True)
class CountColumn:
    column: str
    where: dict[str, Any] = field(default_factory=dict)  # population column -> required value


@dataclass(frozen=True)
class Aggregate:
    name: str  # published name, e.g. marts.community_population_profile
    candidate: str  # schema.table built by dbt, e.g. candidate_marts.community_population_profile
    population: str
    key: dict[str, str]  # relation column -> population column
    counts: tuple[CountColumn, ...]
    rollup: dict[str, str] = field(default_factory=dict)  # key column -> value meaning "all"
    distinct_counts: dict[str, str] = field(default_factory=dict)  # column -> count column it is within
    statistics: dict[str, str] = field(default_factory=dict)  # column -> count of its contributors
    ratios: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (numerator, denominator)
    minimum_values: dict[str, str] = field(default_factory=dict)  # column -> unit whose k it must reach
    suppression_flags: dict[str, tuple[str, ...]] = field(default_factory=dict)  # flag -> columns it reports


@dataclass(frozen=True)
class Ladder:
    column: str  # output column
    levels: tuple[str, ...]  # candidate columns, finest first (each also a population column)


@dataclass(frozen=True)
class RowLevelView:
    name: str
    candidate: str
    population: str
    purpose: str
    generalize: tuple[Ladder, ...]
    keep: tuple[str, ...]  # quasi-identifiers shown as they are
    show: tuple[str, ...]  # other columns shown (no part of an equivalence class)


@dataclass(frozen=True)
class Release:
    populations: dict[str, Population]
    aggregates: tuple[Aggregate, ...]
    views: tuple[RowLevelView, ...]
    copied: tuple[tuple[str, str], ...]  # (candidate, published) relations with nothing to protect

    def relations(self) -> list[str]:
        names = [a.name for a in self.aggregates] + [v.name for v in self.views]
        return sorted(names + [published for _, published in self.copied])


def _relation(node: dict[str, Any]) -> str:
    return f"{node['schema']}.{node['alias'] or node['name']}"


def _as_key(value: Any, model: str) -> dict[str, str]:
    if isinstance(value, list):
        return {column: column for column in value}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    raise DeclarationError(f"{model}: disclosure.key must be a list or a mapping, got {value!r}")


def _columns(node: dict[str, Any]) -> set[str]:
    return set(node.get("columns") or {})


def _check_columns(model: str, wanted: list[str], available: set[str], what: str) -> None:
    missing = sorted(set(wanted) - available)
    if missing:
        raise DeclarationError(f"{model}: disclosure {what} names undocumented columns {', '.join(missing)}")


def _published_as(node: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """What every declared relation has: its published name, its candidate and the population it counts."""
    return {
        "name": f"{CANDIDATE_SCHEMAS[node['schema']]}.{node['alias'] or node['name']}",
        "candidate": _relation(node),
        "population": spec["population"],
    }


def _aggregate(node: dict[str, Any], spec: dict[str, Any]) -> Aggregate:
    model = node["name"]
    columns = _columns(node)
    counts = tuple(
        CountColumn(column, dict((options or {}).get("where") or {}))
        for column, options in (spec.get("counts") or {}).items()
    )
    if not counts:
        raise DeclarationError(f"{model}: disclosure declares no counts")
    key = _as_key(spec.get("key"), model)
    ratios = {c: (pair[0], pair[1]) for c, pair in (spec.get("ratios") or {}).items()}
    aggregate = Aggregate(
        **_published_as(node, spec),
        key=key,
        counts=counts,
        rollup={str(k): str(v) for k, v in (spec.get("rollup") or {}).items()},
        distinct_counts=dict(spec.get("distinct_counts") or {}),
        statistics=dict(spec.get("statistics") or {}),
        ratios=ratios,
        minimum_values=dict(spec.get("minimum_values") or {}),
        suppression_flags={f: tuple(cols) for f, cols in (spec.get("suppression_flags") or {}).items()},
    )
    count_names = {c.column for c in counts}
    _check_columns(model, list(key) + list(count_names), columns, "key/counts")
    contributors = list(aggregate.distinct_counts.values()) + list(aggregate.statistics.values())
    unknown = sorted(set(contributors) - count_names)
    if unknown:
        raise DeclarationError(f"{model}: statistics must refer to declared counts, not {unknown}")
    # A ratio is withheld with either of its parts, so each part needs a withholding rule of its own.
    ruled = (
        count_names
        | set(aggregate.distinct_counts)
        | set(aggregate.statistics)
        | set(aggregate.minimum_values)
    )
    unruled = sorted({name for pair in ratios.values() for name in pair} - ruled)
    if unruled:
        raise DeclarationError(
            f"{model}: ratio parts {unruled} are not declared counts, statistics or minimum values"
        )
    flagged = [c for cols in aggregate.suppression_flags.values() for c in cols]
    _check_columns(
        model,
        list(aggregate.distinct_counts)
        + list(aggregate.statistics)
        + list(ratios)
        + list(aggregate.minimum_values)
        + list(aggregate.suppression_flags)
        + flagged,
        columns,
        "statistics/ratios/flags",
    )
    return aggregate


def _view(node: dict[str, Any], spec: dict[str, Any], quasi_classes: tuple[str, ...]) -> RowLevelView:
    model = node["name"]
    row_level = spec["row_level"]
    purpose = str(row_level.get("purpose") or "").strip()
    if not purpose:
        raise DeclarationError(
            f"{model}: a row-level view must state its analytic purpose (row_level.purpose)"
        )
    ladders = tuple(
        Ladder(column=out, levels=tuple(levels))
        for out, levels in (row_level.get("generalize") or {}).items()
    )
    view = RowLevelView(
        **_published_as(node, spec),
        purpose=purpose,
        generalize=ladders,
        keep=tuple(row_level.get("keep") or ()),
        show=tuple(row_level.get("show") or ()),
    )
    needed = [c for ladder in ladders for c in ladder.levels] + list(view.keep) + list(view.show)
    _check_columns(model, needed, _columns(node), "row_level")
    # The quasi-identifiers come from the classification: every quasi column is generalized or kept
    # (so it is part of the equivalence classes), and nothing classified direct is shown at all.
    classes = {name: (column.get("meta") or {}).get("privacy") for name, column in node["columns"].items()}
    shown_quasi = sorted(c for c in view.show if classes.get(c) in quasi_classes)
    if shown_quasi:
        raise DeclarationError(
            f"{model}: {', '.join(shown_quasi)} are quasi-identifiers (meta.privacy) but only shown;"
            " generalize or keep them so that k-anonymity covers them"
        )
    direct = sorted(c for c in needed if classes.get(c) == "direct")
    if direct:
        raise DeclarationError(
            f"{model}: direct identifiers {', '.join(direct)} may not be in a row-level view"
        )
    unclassified = sorted(c for c in needed if classes.get(c) is None)
    if unclassified:
        raise DeclarationError(f"{model}: classify {', '.join(unclassified)} (meta.privacy)")
    undeclared = sorted(_columns(node) - set(needed))
    if undeclared:
        raise DeclarationError(
            f"{model}: columns {', '.join(undeclared)} are neither generalized, kept nor shown:"
            " say why a purpose needs them, or drop them"
        )
    return view


def read_release(manifest_path: Path, quasi_classes: tuple[str, ...] = ("quasi",)) -> Release:
    """The release as the dbt manifest declares it (compile error style messages on bad declarations).

    `quasi_classes`: the column classes the disclosure policy treats as quasi-identifiers."""
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    populations: dict[str, Population] = {}
    for node in models:
        declared = (node.get("config", {}).get("meta") or {}).get("disclosure_population")
        if declared:
            population = Population(
                name=declared["name"],
                unit=declared["unit"],
                relation=_relation(node),
                count=declared.get("count"),
                contributor=declared.get("contributor"),
            )
            if population.name in populations:
                raise DeclarationError(f"population {population.name} is declared twice")
            populations[population.name] = population
    aggregates: list[Aggregate] = []
    views: list[RowLevelView] = []
    copied: list[tuple[str, str]] = []
    for node in sorted(models, key=lambda n: n["name"]):
        if node["schema"] not in CANDIDATE_SCHEMAS:
            continue
        spec = (node.get("config", {}).get("meta") or {}).get("disclosure")
        published = f"{CANDIDATE_SCHEMAS[node['schema']]}.{node['alias'] or node['name']}"
        if spec is None:
            raise DeclarationError(
                f"{node['name']}: every analyst-facing model declares meta.disclosure"
                " (its counts, or `none: <why nothing in it counts people or devices>`)"
            )
        if "none" in spec:
            copied.append((_relation(node), published))
            continue
        if spec.get("population") not in populations:
            raise DeclarationError(f"{node['name']}: unknown population {spec.get('population')!r}")
        if "row_level" in spec:
            views.append(_view(node, spec, quasi_classes))
        else:
            aggregates.append(_aggregate(node, spec))
    return Release(populations, tuple(aggregates), tuple(views), tuple(copied))
