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
from community_dw.parsing import SOURCE_ROW, RowProblem

if TYPE_CHECKING:
    from community_dw.contracts import Contract

SEVERITIES = ("critical", "row", "warning")


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
    return suite


@cache
def reference_codes() -> dict[str, list[str]]:
    """Code lists the suites refer to as `$PARAMETER`s, read from the dbt reference seeds."""
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


def _column_of(kwargs: dict[str, Any]) -> str | None:
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


def run_gate(table: pa.Table, contract: Contract, parameters: dict[str, Any] | None = None) -> GateResult:
    """Validate a pseudonymized batch with the source's suite."""
    _quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    suite_document = load_suite(contract.name)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas(contract.name)
        .add_dataframe_asset(contract.name)
        .add_batch_definition_whole_dataframe("batch")
    )
    suite = context.suites.add(gx.ExpectationSuite(**suite_document))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{contract.name}-gate", data=batch_definition, suite=suite)
    )
    frame = table.to_pandas(date_as_object=True)
    results = definition.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters={**reference_codes(), **(parameters or {})},
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [SOURCE_ROW],
            "return_unexpected_index_query": False,
            "partial_unexpected_count": 0,
        },
    )
    gate = GateResult()
    for result in results.results:
        config = result.expectation_config
        meta = config.meta or {}
        column = _column_of(config.kwargs)
        details = result.result or {}
        if result.exception_info and result.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"{contract.name}: expectation {config.type} on {column} could not run: "
                f"{result.exception_info.get('exception_message')}"
            )
        gate.outcomes.append(
            ExpectationOutcome(
                expectation_type=config.type,
                column=column,
                severity=meta["severity"],
                reason_code=meta["reason_code"],
                success=bool(result.success),
                observed_value=_observed(details),
                unexpected_count=int(details.get("unexpected_count") or 0),
                element_count=int(details.get("element_count") or table.num_rows),
            )
        )
        if meta["severity"] == "row" and not result.success:
            for index in details.get("unexpected_index_list") or []:
                gate.row_problems.append(
                    RowProblem(int(index[SOURCE_ROW]), column, meta["reason_code"], config.type)
                )
    return gate
