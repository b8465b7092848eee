"""The ledger and the audit rows ingestion writes, each with its columns named.

`audit.batch_ledger` holds, per batch, one `loaded` record for the version in raw (replaced with it on a
rerun; received = loaded + quarantined) and a `rejected` record for every refused delivery (history,
never removed; received = rejected, and loaded and quarantined say what of the batch *stays* loaded
from an earlier version, e.g. after a changed replay was refused, so the latest record tells the truth). Ingestion
writes here and nowhere else in `audit`; the tables are declared in `community_dw.warehouse`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from community_dw import warehouse
from community_dw.clock import utc_now
from community_dw.contracts import Contract
from community_dw.errors import BatchRejected, RowProblem
from community_dw.transports.base import LandedBatch

if TYPE_CHECKING:
    from community_dw.validation import ExpectationOutcome

log = logging.getLogger(__name__)


def insert(con: warehouse.Warehouse, table: str, rows: list[dict]) -> None:
    """Insert rows given as {column: value}; every row names the same columns."""
    if not rows:
        return
    columns = list(rows[0])
    con.executemany(
        f"insert into {table} ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})",
        [[row[c] for c in columns] for row in rows],
    )


def batch_counts(con: warehouse.Warehouse, contract: Contract, batch_id: str) -> tuple[int, int]:
    """(loaded, quarantined) rows of a batch in raw right now."""
    counts = [
        con.scalar(f"select count(*) from {table} where _batch_id = ?", [batch_id])
        for table in (contract.raw_table, f"{contract.raw_table}_quarantine")
    ]
    return counts[0], counts[1]


def record_loaded(
    con: warehouse.Warehouse,
    contract: Contract,
    landed: LandedBatch,
    *,
    received: int,
    loaded: int,
    quarantined: int,
    key_fingerprint: str,
    run_id: str | None,
) -> None:
    """Inside the load's transaction: the batch is in raw, and the counts balance."""
    insert(
        con,
        "audit.batch_ledger",
        [
            {
                "source": contract.name,
                "batch_id": landed.batch_id,
                "file": landed.file,
                "sha256": landed.sha256,
                "status": "loaded",
                "received_rows": received,
                "loaded_rows": loaded,
                "quarantined_rows": quarantined,
                "rejected_rows": 0,
                "key_fingerprint": key_fingerprint,
                "run_id": run_id,
                "received_at": landed.received_at,
                "recorded_at": utc_now(),
            }
        ],
    )


def record_rejection(
    contract: Contract, rejection: BatchRejected, run_id: str | None, landed: LandedBatch | None = None
) -> None:
    """The delivery was received and refused; record what was refused and what stays loaded."""
    received = rejection.received_rows
    if received is None and landed is not None:
        received = landed.manifest_rows
    with warehouse.connection() as con:
        con.ensure_tables(contract)
        loaded, quarantined = batch_counts(con, contract, rejection.batch_id)
        detail = str(rejection)
        if loaded or quarantined:
            detail += (
                f" The version of this batch loaded earlier stays: {loaded} rows loaded, {quarantined} "
                "quarantined."
            )
        insert(
            con,
            "audit.batch_ledger",
            [
                {
                    "source": contract.name,
                    "batch_id": rejection.batch_id,
                    "file": rejection.file,
                    "sha256": landed.sha256 if landed else None,
                    "status": "rejected",
                    "received_rows": received,
                    "loaded_rows": loaded,
                    "quarantined_rows": quarantined,
                    "rejected_rows": received,
                    "rejection_rule": rejection.rule,
                    "rejection_detail": detail,
                    "run_id": run_id,
                    "received_at": landed.received_at if landed else None,
                    "recorded_at": utc_now(),
                }
            ],
        )
    log.error("%s", detail)


def record_gate_outcomes(
    contract: Contract,
    batch_id: str,
    outcomes: list[ExpectationOutcome],
    parse_problems: list[RowProblem],
    element_count: int,
    run_id: str | None,
    warnings: list[tuple[str, str, bool, int]] = (),
) -> None:
    """Store the gate's results in audit.dq_results (history: one set per run).

    Besides the suite's expectations, two checks the door itself makes are recorded the same way:
    `values_convert_to_contract_types` (cells that did not parse) and each extra `warnings` entry
    (expectation type, reason code, success, unexpected count), e.g. an empty interval.
    """
    now = utc_now()

    def row(expectation_type, column, severity, reason, success, observed, unexpected) -> dict:
        return {
            "run_id": run_id,
            "source": contract.name,
            "batch_id": batch_id,
            "expectation_type": expectation_type,
            "column_name": column,
            "severity": severity,
            "reason_code": reason,
            "success": success,
            "observed_value": observed,
            "unexpected_count": unexpected,
            "element_count": element_count,
            "validated_at": now,
        }

    rows = [
        row(
            o.expectation_type,
            o.column,
            o.severity,
            o.reason_code,
            o.success,
            o.observed_value,
            o.unexpected_count,
        )
        | {"element_count": o.element_count}
        for o in outcomes
    ]
    parse_failures = len({p.row for p in parse_problems if p.reason == "UNPARSEABLE_VALUE"})
    rows.append(
        row(
            "values_convert_to_contract_types",
            None,
            "row",
            "UNPARSEABLE_VALUE",
            parse_failures == 0,
            None,
            parse_failures,
        )
    )
    for expectation_type, reason, success, unexpected in warnings:
        rows.append(row(expectation_type, None, "warning", reason, success, None, unexpected))
    with warehouse.connection() as con:
        con.ensure_tables(contract)
        insert(con, "audit.dq_results", rows)
