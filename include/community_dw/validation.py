"""The validation gate: the contract's generic rules and the source's suite, run by Great Expectations.

A source's suite is two parts. The generic rules come from its contract (`contract_expectations`):
every `required` column is not null (MISSING_REQUIRED), the primary key is unique (DUPLICATE_KEY), a
column with `meta.plausible` holds a plausible birth date (IMPLAUSIBLE_DATE after the batch's date,
IMPLAUSIBLE_AGE beyond `max_age_years`). The source-specific rules live in `expectations/<source>.json`,
which must not restate a generic one. Every expectation carries `meta.severity` and `meta.reason_code`:
- `critical`: the batch is rejected (nothing loads);
- `row`: the failing rows are quarantined with the reason code and column;
- `warning`: the outcome is recorded, nothing is held back.
Rules that need a delivered identifier before it is pseudonymized (`meta.validate: id_number`) run at the
door instead (`door_problems`, called by `parsing.parse_batch`), with the same reason codes.
Only summary figures leave this module (counts, observed values of table-level metrics); failing rows are
identified by their `_source_row` number, never by their values.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from community_dw import idnumber, paths
from community_dw.clock import local_now
from community_dw.contracts import SOURCE_ROW, Contract, Plausibility, get_contract
from community_dw.errors import RowProblem

SEVERITIES = ("critical", "row", "warning")
MISSING_REQUIRED = "MISSING_REQUIRED"
DUPLICATE_KEY = "DUPLICATE_KEY"
IMPLAUSIBLE_DATE = "IMPLAUSIBLE_DATE"
IMPLAUSIBLE_AGE = "IMPLAUSIBLE_AGE"
ID_CHECKSUM = "ID_CHECKSUM"
GATE_TABLE = "gate_batch"  # the batch as GX sees it, an Arrow table registered in DuckDB
# GX's counts for every expectation (BASIC: element, missing and unexpected counts), no values
# (`partial_unexpected_count` 0 makes GX's value queries `limit 0`), and for each map expectation the
# query that selects its failing rows, which the gate runs only for the row rules that failed. COMPLETE
# listed every failing row (and fetched every unexpected value, then dropped it) for every expectation,
# passed or not: a second full-table query per expectation.
RESULT_FORMAT = {
    "result_format": "BASIC",
    "unexpected_index_column_names": [SOURCE_ROW],
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": True,
    "partial_unexpected_count": 0,
}


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, reduced to what an auditor may see."""

    expectation_type: str
    column: str | None
    severity: str
    reason_code: str
    success: bool
    observed_value: str | None
    unexpected_count: int
    element_count: int


@dataclass
class GateResult:
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    row_problems: list[RowProblem] = field(default_factory=list)
    validation_result: Any = None  # GX's suite result, values excluded; what Data Docs render

    @property
    def critical_failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.severity == "critical" and not o.success]


def _generic(kind: str, kwargs: dict[str, Any], reason_code: str, notes: str) -> dict[str, Any]:
    meta = {"severity": "row", "reason_code": reason_code, "notes": notes, "generated_from": "contract"}
    return {"type": kind, "kwargs": kwargs, "meta": meta}


def earliest_birth_parameter(max_age_years: int) -> str:
    """The name of the run parameter holding the earliest plausible birth date for this age bound."""
    return f"earliest_birth_date_{max_age_years}y"


def contract_expectations(contract: Contract) -> list[dict[str, Any]]:
    """The generic rules a contract implies, as GX expectation configurations (all `row` severity).

    Plausibility bounds are `$PARAMETER`s (`gate_parameters`), so the suite stays the same from batch to
    batch while the bounds follow each batch's date.
    """
    rules = [
        _generic(
            "expect_column_values_to_not_be_null",
            {"column": col.name},
            MISSING_REQUIRED,
            f"{col.name} is required by the contract.",
        )
        for col in contract.columns
        if col.required
    ]
    key = list(contract.primary_key)
    notes = f"One row per {', '.join(key)} (the contract's primary key); all copies of a repeated key are held back."
    if len(key) == 1:
        rules.append(_generic("expect_column_values_to_be_unique", {"column": key[0]}, DUPLICATE_KEY, notes))
    else:
        rules.append(
            _generic("expect_compound_columns_to_be_unique", {"column_list": key}, DUPLICATE_KEY, notes)
        )
    for col in contract.columns:
        if col.plausible is None or col.data_type != "date":
            continue  # an ID number's encoded birth date is checked at the door (`door_problems`)
        if col.plausible.not_future:
            rules.append(
                _generic(
                    "expect_column_values_to_be_between",
                    {"column": col.name, "max_value": {"$PARAMETER": "as_of"}},
                    IMPLAUSIBLE_DATE,
                    f"{col.name} is not after the batch's date.",
                )
            )
        if col.plausible.max_age_years is not None:
            rules.append(
                _generic(
                    "expect_column_values_to_be_between",
                    {
                        "column": col.name,
                        "min_value": {"$PARAMETER": earliest_birth_parameter(col.plausible.max_age_years)},
                    },
                    IMPLAUSIBLE_AGE,
                    f"{col.name} is at most {col.plausible.max_age_years} years before the batch's date.",
                )
            )
    return rules


def gate_parameters(contract: Contract, as_of: date) -> dict[str, str]:
    """The `$PARAMETER`s of the generated plausibility rules for a batch dated `as_of`."""
    parameters = {"as_of": as_of.isoformat()}
    for col in contract.columns:
        if col.plausible is not None and col.plausible.max_age_years is not None:
            earliest = col.plausible.earliest(as_of)
            parameters[earliest_birth_parameter(col.plausible.max_age_years)] = earliest.isoformat()
    return parameters


def _rule_target(expectation: dict[str, Any]) -> tuple[str, str]:
    kwargs = expectation.get("kwargs") or {}
    return expectation.get("type", ""), str(kwargs.get("column") or kwargs.get("column_list"))


def load_suite(source: str, contract: Contract | None = None) -> dict[str, Any]:
    """The whole suite of a source: the contract's generic rules, then the file's own, both checked for
    the metadata the gate depends on. A file that restates a generic rule is refused (it would count
    every failure twice)."""
    contract = contract or get_contract(source)
    path = paths.EXPECTATIONS_DIR / f"{source}.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    generic = contract_expectations(contract)
    generated = {_rule_target(e) for e in generic}
    for index, expectation in enumerate(suite.get("expectations", [])):
        meta = expectation.get("meta") or {}
        if meta.get("severity") not in SEVERITIES or not meta.get("reason_code"):
            raise ValueError(
                f"{path.name} expectation #{index} ({expectation.get('type')}): meta needs severity "
                f"({'/'.join(SEVERITIES)}) and reason_code"
            )
        query = (expectation.get("kwargs") or {}).get("unexpected_rows_query")
        if query is not None and not (query.startswith(f"select {SOURCE_ROW} from") and meta.get("column")):
            raise ValueError(
                f"{path.name} expectation #{index}: an unexpected_rows_query must select only {SOURCE_ROW} "
                "(so no value ever reaches a GX result) and meta must name the column it checks"
            )
        if _rule_target(expectation) in generated:
            raise ValueError(
                f"{path.name} expectation #{index} ({expectation.get('type')} on "
                f"{_rule_target(expectation)[1]}) restates a rule the contract {contract.path.name} already "
                "generates (required columns, primary key, plausible dates); remove it from the suite file"
            )
    return {**suite, "expectations": [*generic, *suite.get("expectations", [])]}


# Door checks: rules that need the delivered value before it is pseudonymized. Each returns, for one
# column, (reason code, rule text, boolean mask of failing rows); the text names the rule, not the value.
DoorCheck = Callable[[pa.Array, Plausibility | None, date], list[tuple[str, str, pa.Array]]]


def _id_number_checks(
    values: pa.Array, plausible: Plausibility | None, as_of: date
) -> list[tuple[str, str, pa.Array]]:
    """An 18-character GB 11643 number with a valid check digit, encoding a real, plausible birth date."""
    valid = idnumber.checksum_valid(values)
    born = idnumber.birth_date(values)
    checks = [
        (ID_CHECKSUM, "not an 18-character ID number with a valid GB 11643 check digit", pc.invert(valid)),
        (IMPLAUSIBLE_DATE, "the ID number encodes no real birth date", pc.and_(valid, pc.is_null(born))),
    ]
    if plausible is not None and plausible.not_future:
        after = pc.greater(born, pa.scalar(as_of, pa.date32()))
        checks.append((IMPLAUSIBLE_DATE, "the ID number encodes a birth date after the batch's date", after))
    if plausible is not None and plausible.max_age_years is not None:
        before = pc.less(born, pa.scalar(plausible.earliest(as_of), pa.date32()))
        checks.append(
            (
                IMPLAUSIBLE_AGE,
                f"the ID number encodes an age above {plausible.max_age_years} years at the batch's date",
                before,
            )
        )
    return checks


DOOR_CHECKS: dict[str, DoorCheck] = {"id_number": _id_number_checks}


def door_problems(table: pa.Table, contract: Contract, as_of: date | None = None) -> list[RowProblem]:
    """Row problems of the contract's `meta.validate` rules, on delivered (normalized, not yet
    pseudonymized) values; `as_of` is the batch's date (today, local, when not given)."""
    as_of = as_of or local_now().date()
    rows = table.column(SOURCE_ROW)
    problems = []
    for col in contract.delivered_columns:
        if col.validate is None:
            continue
        for reason, rule, failing in DOOR_CHECKS[col.validate](table.column(col.name), col.plausible, as_of):
            failing_rows = pc.filter(rows, pc.fill_null(failing, False)).to_pylist()
            problems.extend(RowProblem(row, col.name, reason, rule) for row in failing_rows)
    return problems


@cache
def reference_codes() -> dict[str, list[str]]:
    """Code lists the suites check against, read from the dbt reference seed `ref_divisions`.

    They reach the gate as the tables `ref_community_codes` and `ref_grid_codes` beside the batch (an
    anti-join is fast; an `in_set` of 1,434 grid codes costs DuckDB seconds per million rows) and as
    `$PARAMETER`s of the same names for suites that prefer a value set.
    """
    divisions = pacsv.read_csv(
        paths.SEEDS_DIR / "ref_divisions.csv",
        convert_options=pacsv.ConvertOptions(
            column_types={"community_code": pa.string(), "grid_code": pa.string()}
        ),
    )
    return {
        "community_codes": sorted(set(divisions.column("community_code").to_pylist())),
        "grid_codes": sorted(set(divisions.column("grid_code").to_pylist())),
    }


def _quiet_gx() -> None:
    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def _column_of(kwargs: dict[str, Any], meta: dict[str, Any]) -> str | None:
    if "column" in meta:
        return meta["column"]
    if "column" in kwargs:
        return kwargs["column"]
    if "column_A" in kwargs:
        return kwargs["column_A"]
    if "column_list" in kwargs:
        return ",".join(kwargs["column_list"])
    return None


def _observed(result: dict[str, Any]) -> str | None:
    """Table-level observed values only (row counts, column lists); never cell values."""
    value = result.get("observed_value")
    if value is None or (isinstance(value, (dict, list)) and len(str(value)) > 2000):
        return None
    return json.dumps(value, default=str, ensure_ascii=False)


def _let_gx_keep_duckdb_connections() -> None:
    """Make GX hold one connection open for DuckDB, as it already does for SQLite.

    GX's SQL engine closes its connection after each query and then fetches the rows; with duckdb-engine
    the result is gone by then, and every expectation fails with `list index out of range` (seen with GX
    1.24.1). GX keeps a persisted connection for the dialects listed in a module constant, which has no
    DuckDB member, so we add one. The gate's tests run every suite through this path, so a GX upgrade that
    changes it fails loudly instead of validating nothing.
    """
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine

    class _DuckDBDialect(str):
        @property
        def value(self) -> str:
            return str(self)

    if "duckdb" not in [str(getattr(d, "value", d)) for d in engine._PERSISTED_CONNECTION_DIALECTS]:
        engine._PERSISTED_CONNECTION_DIALECTS = (
            *engine._PERSISTED_CONNECTION_DIALECTS,
            _DuckDBDialect("duckdb"),
        )


def _failing_rows(con: Any, details: dict[str, Any]) -> list[int] | None:
    """Source row numbers of a failed map expectation, by GX's own `unexpected_index_query` run in the
    gate's DuckDB with only `_source_row` selected (values never leave it); None if GX gave no query."""
    query = details.get("unexpected_index_query")
    if not isinstance(query, str):
        return None
    query = query.strip().removesuffix(";")  # GX ends its compiled query with a semicolon
    return [row for (row,) in con.execute(f"select {SOURCE_ROW} from ({query}) as unexpected").fetchall()]


def _duplicated_rows(con: Any, columns: list[str]) -> list[int]:
    """Rows sharing a compound key with another row (GX's SQL engine counts them but does not list them)."""
    key = ", ".join(f'"{c}"' for c in columns)
    any_value = " or ".join(f'"{c}" is not null' for c in columns)
    return [
        row
        for (row,) in con.execute(
            f"select {SOURCE_ROW} from {GATE_TABLE} where {any_value} "
            f"qualify count(*) over (partition by {key}) > 1"
        ).fetchall()
    ]


def _rows_to_quarantine(con: Any, kwargs: dict[str, Any], details: dict[str, Any]) -> list[int]:
    """The `_source_row`s a failed row-level expectation points at."""
    if "unexpected_rows_query" in kwargs:
        # GX returns at most 200 of them; the expectation's own query lists them all.
        query = kwargs["unexpected_rows_query"].replace("{batch}", GATE_TABLE)
        return [row for (row,) in con.execute(query).fetchall()]
    if "column_list" in kwargs:
        return _duplicated_rows(con, kwargs["column_list"])
    return _failing_rows(con, details) or []


def run_gate(
    table: pa.Table,
    contract: Contract,
    parameters: dict[str, Any] | None = None,
    as_of: date | None = None,
) -> GateResult:
    """Validate a pseudonymized batch with the source's suite, inside DuckDB.

    The Arrow table is registered in an in-memory DuckDB (no copy) and GX's SQL engine runs the suite
    there as aggregate queries, so a 20-million-row day is never turned into a pandas frame. GX returns
    counts only (`RESULT_FORMAT`); the failing rows of a failed row rule are selected by its own query,
    as `_source_row` numbers only, never as cell values.

    `as_of` is the batch's date, what "in the future" and "older than" mean for plausibility: the
    interval the batch covers (`LandedBatch.interval_date`), so a batch gets the same verdict whenever it
    is validated, a backfill included. Without it, today's local date (a looser bound: an interval always
    ends before it is validated).
    """
    _quiet_gx()
    import duckdb
    import duckdb_engine
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _let_gx_keep_duckdb_connections()
    suite_document = load_suite(contract.name, contract)
    as_of = as_of or local_now().date()
    con = duckdb.connect(":memory:")
    datasource = None
    try:
        con.register(GATE_TABLE, table)
        for name, codes in reference_codes().items():
            con.register(f"ref_{name}", pa.table({name.removesuffix("s"): pa.array(codes, pa.string())}))
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        datasource = context.data_sources.add_sql(
            contract.name,
            connection_string="duckdb:///:memory:",
            kwargs={"creator": lambda: duckdb_engine.ConnectionWrapper(con)},
        )
        batch_definition = datasource.add_table_asset(
            contract.name, table_name=GATE_TABLE
        ).add_batch_definition_whole_table("batch")
        suite = context.suites.add(gx.ExpectationSuite(**suite_document))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{contract.name}-gate", data=batch_definition, suite=suite)
        )
        results = definition.run(
            expectation_parameters={
                **reference_codes(),
                **gate_parameters(contract, as_of),
                **(parameters or {}),
            },
            result_format=RESULT_FORMAT,
        )
        gate = GateResult(validation_result=results)
        for result in results.results:
            config = result.expectation_config
            meta = config.meta or {}
            column = _column_of(config.kwargs, meta)
            details = result.result or {}
            if result.exception_info and result.exception_info.get("raised_exception"):
                raise RuntimeError(
                    f"{contract.name}: expectation {config.type} on {column} could not run: "
                    f"{result.exception_info.get('exception_message')}"
                )
            unexpected = int(details.get("unexpected_count") or 0)
            if "unexpected_rows_query" in config.kwargs:
                unexpected = int(details.get("observed_value") or 0)
            gate.outcomes.append(
                ExpectationOutcome(
                    expectation_type=config.type,
                    column=column,
                    severity=meta["severity"],
                    reason_code=meta["reason_code"],
                    success=bool(result.success),
                    observed_value=_observed(details),
                    unexpected_count=unexpected,
                    element_count=int(details.get("element_count") or table.num_rows),
                )
            )
            if meta["severity"] == "row" and not result.success:
                rows = _rows_to_quarantine(con, config.kwargs, details)
                if len(rows) != unexpected:
                    raise RuntimeError(
                        f"{contract.name}: {config.type} on {column} found {unexpected} failing rows but "
                        f"{len(rows)} were identified; refusing to guess which to quarantine."
                    )
                gate.row_problems.extend(
                    RowProblem(row, column, meta["reason_code"], config.type) for row in rows
                )
    finally:
        if datasource is not None:
            datasource.get_execution_engine().close()
        con.close()
    return gate
