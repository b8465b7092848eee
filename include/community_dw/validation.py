"""The validation gate: run a source's Great Expectations suite and sort its failures by severity.

Every expectation in `expectations/<source>.json` carries `meta.severity` and `meta.reason_code`:
- `critical`: the batch is rejected (nothing loads);
- `row`: the failing rows are quarantined with the reason code and column;
- `warning`: the outcome is recorded, nothing is held back.
Only summary figures leave this module (counts, observed values of table-level metrics); failing rows are
identified by their `_source_row` number, never by their values.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv

from community_dw import paths
from community_dw.errors import RowProblem
from community_dw.parsing import SOURCE_ROW

if TYPE_CHECKING:
    from community_dw.contracts import Contract

SEVERITIES = ("critical", "row", "warning")
GATE_TABLE = "gate_batch"  # the batch as GX sees it, an Arrow table registered in DuckDB


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


def load_suite(source: str) -> dict[str, Any]:
    """The suite document, checked for the metadata the gate depends on."""
    path = paths.EXPECTATIONS_DIR / f"{source}.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
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
    return suite


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


def _failing_rows(details: dict[str, Any]) -> list[int] | None:
    """Source row numbers from GX's `unexpected_index_list` (values excluded), or None if GX gave none."""
    listed = details.get("unexpected_index_list")
    if listed is None:
        return None
    # With values excluded GX gives one entry holding a list of rows; otherwise one entry per row.
    values = [entry[SOURCE_ROW] for entry in listed]
    return [int(v) for value in values for v in (value if isinstance(value, list) else [value])]


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
    rows = _failing_rows(details)
    if rows is None and "column_list" in kwargs:
        rows = _duplicated_rows(con, kwargs["column_list"])
    return rows or []


def run_gate(table: pa.Table, contract: Contract, parameters: dict[str, Any] | None = None) -> GateResult:
    """Validate a pseudonymized batch with the source's suite, inside DuckDB.

    The Arrow table is registered in an in-memory DuckDB (no copy) and GX's SQL engine runs the suite
    there as aggregate queries, so a 20-million-row day is never turned into a pandas frame. Failing rows
    come back as `_source_row` numbers only (`exclude_unexpected_values`), never as cell values.
    """
    _quiet_gx()
    import duckdb
    import duckdb_engine
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _let_gx_keep_duckdb_connections()
    suite_document = load_suite(contract.name)
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
        # Enough room to list every failing row of a batch the bad-row limit would still accept.
        row_limit = max(1000, int(table.num_rows * contract.max_bad_row_share) + 1)
        results = definition.run(
            expectation_parameters={**reference_codes(), **(parameters or {})},
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": [SOURCE_ROW],
                "exclude_unexpected_values": True,
                "return_unexpected_index_query": False,
                "partial_unexpected_count": row_limit,
            },
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
                if len(rows) < unexpected <= row_limit:
                    raise RuntimeError(
                        f"{contract.name}: {config.type} on {column} found {unexpected} failing rows but "
                        f"only {len(rows)} were identified; refusing to guess which to quarantine."
                    )
                gate.row_problems.extend(
                    RowProblem(row, column, meta["reason_code"], config.type) for row in rows
                )
    finally:
        if datasource is not None:
            datasource.get_execution_engine().close()
        con.close()
    return gate
