"""What an attacker computes from the release: no warehouse access here, only pandas frames.

Everything is inferred from the published data and the published documentation (dbt YAML classes,
project vars): which columns are counts, which are statistics, which identities hold between columns and
relations (an identity is used only after it has been checked on the published, unsuppressed cells).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from community_dw import paths

PROJECT_YML = paths.DBT_PROJECT_DIR / "dbt_project.yml"

# Integer columns that are parameters or durations, not counts of contributors.
COUNT_NAME = re.compile(r"(count|people|persons|devices|tickets|records|residents|due|rated|cases)")
NOT_A_COUNT = re.compile(r"(^|_)(hour|hours|days|day|nights|sla|window|factor|version|year|month|code)(_|$)")
STATISTIC = re.compile(r"(^|_)(avg|mean|median|share|rate|ratio|per|usual|excess|average|pct|percent)(_|$)")
ROW_LEVEL_SCHEMAS = ("analyst",)


# --- the disclosure policy, as published in the project vars -------------------------------------------


@dataclass(frozen=True)
class Policy:
    k_person: int
    k_device: int
    width_person: float
    width_device: float
    source: str

    def k(self, device: bool) -> int:
        return self.k_device if device else self.k_person

    def width(self, device: bool) -> float:
        return self.width_device if device else self.width_person


def read_policy(path: Path = PROJECT_YML) -> Policy:
    """k and the protection interval from the `disclosure_policy` var (either a number or a
    {person, device} mapping), else the older `k_person` / `k_device` vars; width at least 2."""
    import yaml

    project_vars = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("vars") or {}
    policy = project_vars.get("disclosure_policy")
    policy = policy if isinstance(policy, dict) else {}

    def lookup(names: tuple[str, ...], unit: str) -> tuple[float | None, str]:
        for scope, values in (("disclosure_policy", policy), ("vars", project_vars)):
            for name in names:
                value = values.get(name)
                if isinstance(value, dict):
                    value = value.get(unit, value.get(unit + "s"))
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return float(value), f"{scope}.{name}"
        return None, "default"

    k_person, src_kp = lookup(("k_person", "k"), "person")
    k_device, src_kd = lookup(("k_device", "k"), "device")
    names = ("protection_width", "protection_interval", "protection_interval_width", "min_interval_width")
    w_person, src_wp = lookup(names, "person")
    w_device, src_wd = lookup(names, "device")
    return Policy(
        int(k_person or 11),
        int(k_device or 20),
        max(w_person or 2.0, 2.0),
        max(w_device or 2.0, 2.0),
        f"k person {src_kp}, k device {src_kd}, width person {src_wp}, width device {src_wd}",
    )


# --- column roles ------------------------------------------------------------------------------------


def column_classes(manifest: dict[str, Any]) -> dict[str, dict[str, str]]:
    """`schema.alias` -> column -> privacy class, from the dbt manifest (meta or config.meta)."""
    out: dict[str, dict[str, str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        classes = {}
        for name, column in node["columns"].items():
            meta = {**(column.get("meta") or {}), **((column.get("config") or {}).get("meta") or {})}
            if meta.get("privacy"):
                classes[name] = str(meta["privacy"])
        out[f"{node['schema']}.{node['alias']}"] = classes
    return out


def device_relations(manifest: dict[str, Any]) -> set[str]:
    """Relations whose counts are of devices: telecom lineage (tag) or a device column."""
    out = set()
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and (
            "telecom" in node.get("tags", []) or any("device" in c for c in node["columns"])
        ):
            out.add(f"{node['schema']}.{node['alias']}")
    return out


def is_row_level(name: str) -> bool:
    return name.split(".")[0] in ROW_LEVEL_SCHEMAS


def count_columns(frame: pd.DataFrame) -> list[str]:
    out = []
    for column in frame.columns:
        series = frame[column]
        if series.dtype == bool or str(series.dtype) == "boolean" or NOT_A_COUNT.search(column):
            continue
        if STATISTIC.search(column):
            continue
        values = series if pd.api.types.is_numeric_dtype(series) else pd.to_numeric(series, errors="coerce")
        if not pd.api.types.is_numeric_dtype(values):
            continue
        known = values.dropna()
        if known.empty and COUNT_NAME.search(column):  # withheld everywhere: still a count
            out.append(column)
            continue
        if len(known) and (known % 1 == 0).all() and (known >= 0).all() and known.nunique() > 1:
            out.append(column)
    return out


def statistic_columns(frame: pd.DataFrame) -> list[str]:
    out = []
    for column in frame.columns:
        if not STATISTIC.search(column) or NOT_A_COUNT.search(column.replace("hours_to", "x")):
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.notna().any():
            out.append(column)
    return out


def free_text_columns(frame: pd.DataFrame) -> list[str]:
    out = []
    for column in frame.columns:
        series = frame[column].dropna()
        if series.empty or not is_text(series):
            continue
        if series.str.len().mean() >= 12 and series.nunique() >= 20:
            out.append(column)
    return out


def text_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if is_text(frame[c])]


def is_text(series: pd.Series) -> bool:
    """A string column (pandas 3 `str` dtype, or objects that are all str)."""
    values = series.dropna()
    return (
        (pd.api.types.is_string_dtype(series) or series.dtype == object)
        and bool(len(values))
        and (values.map(type).eq(str).all())
    )


def dimension_columns(frame: pd.DataFrame) -> list[str]:
    """The keys of an aggregate: not counts, not statistics, not flags; minimal (drop determined ones)."""
    counts, stats = set(count_columns(frame)), set(statistic_columns(frame))
    candidates = [
        c
        for c in frame.columns
        if c not in counts
        and c not in stats
        and not c.startswith(("is_", "has_"))
        and "suppress" not in c
        and frame[c].nunique(dropna=False) > 1
        and not (NOT_A_COUNT.search(c.replace("_code", "")) and pd.api.types.is_numeric_dtype(frame[c]))
        and frame[c].dtype != float
    ]
    keep = list(candidates)
    # Drop a column determined by another kept one with more values (names, parent codes).
    for column in sorted(candidates, key=lambda c: frame[c].nunique()):
        for other in keep:
            if other == column or frame[other].nunique() < frame[column].nunique():
                continue
            determined = frame.groupby(other, dropna=False)[column].nunique(dropna=False).max() == 1
            if determined and (frame[other].nunique() > frame[column].nunique() or other < column):
                keep.remove(column)
                break
    return keep


# --- equivalence classes --------------------------------------------------------------------------------


def class_sizes(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Per row, the size of its equivalence class over `columns` (nulls are a value)."""
    if not columns:
        return pd.Series(len(frame), index=frame.index)
    keys = frame[columns].astype(str)
    return keys.groupby(columns, dropna=False)[columns[0]].transform("size")


def derived_attributes(frame: pd.DataFrame) -> pd.DataFrame:
    """What an attacker computes from a row: date - lag, date differences, month and quarter, name shapes."""
    out = pd.DataFrame(index=frame.index)
    dates = [
        c
        for c in frame.columns
        if pd.api.types.is_datetime64_any_dtype(frame[c])
        or (
            frame[c].dropna().map(lambda v: hasattr(v, "year") and hasattr(v, "day")).all()
            and frame[c].notna().any()
        )
    ]
    lags = [
        c
        for c in frame.columns
        if re.search(r"(lag|days|delay)", c) and pd.api.types.is_numeric_dtype(frame[c]) and c not in dates
    ]
    as_dates = {c: pd.to_datetime(frame[c], errors="coerce") for c in dates}
    # Day-grain dates (not month starts, not load timestamps) shifted by a lag give another day.
    days = [
        d
        for d in dates
        if not d.startswith("_")
        and (as_dates[d].dropna().dt.day != 1).any()
        and (as_dates[d].dropna().dt.normalize() == as_dates[d].dropna()).all()
    ]
    for d in days:
        for lag in lags:
            out[f"{d}-{lag}"] = as_dates[d] - pd.to_timedelta(pd.to_numeric(frame[lag]), unit="D")
        pass
    for d in dates:
        out[f"quarter({d})"] = as_dates[d].dt.to_period("Q").astype(str)
    for a, b in itertools.combinations(dates, 2):
        out[f"{b}-{a}"] = (as_dates[b] - as_dates[a]).dt.days
    for c in frame.columns:
        if is_text(frame[c]) and frame[c].dropna().astype(str).str.fullmatch(r".\*+|..?\*+").all():
            values = frame[c].astype(str)
            out[f"surname+length({c})"] = values.str[0] + values.str.len().astype(str)
    return out


# --- linear programming attack ------------------------------------------------------------------------------


@dataclass
class Cell:
    relation: str
    row: int
    column: str


@dataclass
class System:
    """Linear equations and inequalities over withheld cells: sum(coef * x) (= | <=) rhs."""

    cells: list[Cell] = field(default_factory=list)
    index: dict[tuple[str, int, str], int] = field(default_factory=dict)
    equalities: list[tuple[dict[int, float], float]] = field(default_factory=list)
    inequalities: list[tuple[dict[int, float], float]] = field(default_factory=list)
    identities: list[str] = field(default_factory=list)
    upper: dict[tuple[str, int, str], int] = field(default_factory=dict)

    def var(self, relation: str, row: int, column: str) -> int:
        key = (relation, row, column)
        if key not in self.index:
            self.index[key] = len(self.cells)
            self.cells.append(Cell(relation, row, column))
        return self.index[key]

    def add(self, terms: list[tuple[float, str, int, str, Any]], rhs: float, kind: str = "eq") -> None:
        """terms: (coef, relation, row, column, published value or None); knowns move to the right side."""
        coefs: dict[int, float] = defaultdict(float)
        for coef, relation, row, column, value in terms:
            if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
                coefs[self.var(relation, row, column)] += coef
            else:
                rhs -= coef * float(value)
        coefs = {k: v for k, v in coefs.items() if v}
        if coefs:
            (self.equalities if kind == "eq" else self.inequalities).append((coefs, rhs))


def solve_bounds(system: System, upper: dict[int, float] | None = None) -> list[tuple[float, float]]:
    """Attacker's integer-rounded [lower, upper] for every cell, per connected component, with HiGHS."""
    from scipy.optimize import linprog

    n = len(system.cells)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for coefs, _ in system.equalities + system.inequalities:
        first, *rest = coefs
        for other in rest:
            parent[find(other)] = find(first)
    components: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        components[find(i)].append(i)
    rows_of: dict[int, list[tuple[str, dict[int, float], float]]] = defaultdict(list)
    for kind, rows in (("eq", system.equalities), ("ub", system.inequalities)):
        for coefs, rhs in rows:
            rows_of[find(next(iter(coefs)))].append((kind, coefs, rhs))
    bounds: list[tuple[float, float]] = [(0.0, math.inf)] * n
    upper = upper or {}
    for root, members in components.items():
        constraints = rows_of.get(root, [])
        if not constraints:
            for i in members:
                bounds[i] = (0.0, upper.get(i, math.inf))
            continue
        local = {v: j for j, v in enumerate(members)}
        a_eq, b_eq, a_ub, b_ub = [], [], [], []
        for kind, coefs, rhs in constraints:
            row = np.zeros(len(members))
            for v, c in coefs.items():
                row[local[v]] = c
            (a_eq if kind == "eq" else a_ub).append(row)
            (b_eq if kind == "eq" else b_ub).append(rhs)
        var_bounds = [(0, upper.get(v)) for v in members]
        for v in members:
            objective = np.zeros(len(members))
            objective[local[v]] = 1
            found = []
            for sign in (1, -1):
                result = linprog(
                    sign * objective,
                    A_ub=np.array(a_ub) if a_ub else None,
                    b_ub=b_ub or None,
                    A_eq=np.array(a_eq) if a_eq else None,
                    b_eq=b_eq or None,
                    bounds=var_bounds,
                    method="highs",
                )
                if result.status == 3:  # unbounded
                    found.append(math.inf if sign == -1 else 0.0)
                elif result.status == 0:
                    found.append(sign * result.fun)
                else:  # infeasible (an identity that does not hold for withheld cells): no information
                    found = [0.0, math.inf]
                    break
            low, high = found
            bounds[v] = (math.ceil(low - 1e-6), math.floor(high + 1e-6) if math.isfinite(high) else math.inf)
    return bounds


def known(value: Any) -> bool:
    return not (value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)))
