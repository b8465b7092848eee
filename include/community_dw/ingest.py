"""The ingestion steps every source goes through, independent of Airflow and of its transport.

    land               the transport receives the interval and keeps it immutably in landing
    protect_identities read the file into the contract's types (identifiers normalized), derive what
                       the identifiers encode, redact free text, replace identifiers by pseudonyms
    validate           run the gate (GX) on the protected rows; split accepted from quarantined
    load               replace the batch in raw, quarantine, vault and the ledger in one transaction

Each step is a plain function over small, JSON-serializable descriptions of a batch (tables travel as
staged files, `community_dw.staging`), so a DAG task is a one-line call and the same steps run in
tests, benchmarks and the CLI. A rejection is recorded in the ledger (`community_dw.ledger`) before it
is raised, so an auditor sees every batch that was received, loaded or not.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa

from community_dw import data_docs, derivations, ledger
from community_dw.contracts import Contract, get_contract
from community_dw.errors import BatchRejected, RowProblem
from community_dw.handoff import Handoff
from community_dw.loading import load
from community_dw.parsing import parse_batch
from community_dw.privacy import protect_identities as protect_table
from community_dw.pseudonymize import Pseudonymizer, fingerprint
from community_dw.quarantine import split_rows
from community_dw.readers import count_rows
from community_dw.staging import discard, folder_at, stage, staged, work_folder
from community_dw.transports import transport_for
from community_dw.transports.base import LandedBatch
from community_dw.validation import run_gate

__all__ = [
    "ProtectedBatch",
    "ValidatedBatch",
    "delivery_ready",
    "ingest_interval",
    "land",
    "load",
    "protect_identities",
    "validate",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProtectedBatch(Handoff):
    """A parsed batch whose identifiers are pseudonyms, staged for the gate."""

    landed: dict
    work_dir: str
    received_rows: int
    key_fingerprint: str


@dataclass(frozen=True)
class ValidatedBatch(Handoff):
    """A batch that passed the gate: its protected rows and its quarantined rows, staged, ready to load."""

    landed: dict
    work_dir: str
    received_rows: int
    accepted_rows: int
    quarantined_rows: int
    key_fingerprint: str
    reason_counts: dict[str, int]


def delivery_ready(source: str, interval_start: datetime, interval_end: datetime) -> bool:
    """Whether the producer has finished delivering the interval's extract (what sensors poke)."""
    contract = get_contract(source)
    return transport_for(contract).is_ready(contract, interval_start, interval_end)


def land(
    source: str, interval_start: datetime, interval_end: datetime, run_id: str | None = None
) -> LandedBatch:
    """Receive the interval's extract through the source's transport; rejections go to the ledger.

    Interval bounds are naive local times (UTC+8), the producers' clock.
    """
    contract = get_contract(source)
    try:
        return transport_for(contract).land(contract, interval_start, interval_end)
    except BatchRejected as rejection:
        ledger.record_rejection(contract, rejection, run_id)
        raise


def _recording_rejections(landed: LandedBatch, run_id: str | None, step, *args):
    """Run a step on a landed batch; a rejection is written to the ledger before it propagates."""
    contract = get_contract(landed.source)
    try:
        return step(contract, landed, *args, run_id)
    except BatchRejected as rejection:
        ledger.record_rejection(contract, rejection, run_id, landed)
        discard(work_folder(landed.batch_id))
        raise


def protect_identities(landed: LandedBatch, run_id: str | None = None) -> ProtectedBatch:
    """Read the landed file, derive, redact and pseudonymize; stage the protected rows and the vault pairs."""
    return _recording_rejections(landed, run_id, _protect, landed)


def validate(protected: ProtectedBatch, run_id: str | None = None) -> ValidatedBatch:
    """Run the gate on the protected rows; stage accepted and quarantined rows, or reject the batch."""
    return _recording_rejections(LandedBatch.from_dict(protected.landed), run_id, _validate, protected)


def _rejector(contract: Contract, landed: LandedBatch, received: int | None):
    def reject(rule: str, detail: str, **where) -> BatchRejected:
        return BatchRejected(
            contract.name, landed.batch_id, rule, detail, file=landed.file, received_rows=received, **where
        )

    return reject


def derive_columns(table: pa.Table, contract: Contract) -> pa.Table:
    """Add the contract's derived columns, computed from the delivered (still original) values."""
    for col in contract.derived_columns:
        table = table.append_column(col.name, derivations.derive(col.rule, table.column(col.derived_from)))
    return table


def _as_of(landed: LandedBatch) -> date:
    """The date plausibility is judged against: the batch's interval, so a backfill or a re-validation
    years later gives the same verdict as the day it arrived."""
    return date.fromisoformat(landed.interval_date)


def _read(contract: Contract, landed: LandedBatch):
    """Parse the landed file; a failure the readers did not foresee still ends as a rejection.

    The readers turn every failure they know into a named rule; this net catches the rest (a library's
    new error, a file system fault) as UNREADABLE_FILE with the exception's type and where it was
    raised, never its message, which may quote delivered bytes.
    """
    try:
        return parse_batch(Path(landed.landed_path), contract, landed.batch_id, as_of=_as_of(landed))
    except BatchRejected:
        raise
    except (UnicodeError, ValueError, TypeError, KeyError, IndexError, OSError, pa.ArrowException) as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        raise _rejector(contract, landed, count_rows(Path(landed.landed_path), contract))(
            "UNREADABLE_FILE",
            f"reading the file failed with {type(exc).__name__} in {Path(frame.filename).name}:{frame.lineno} "
            "(message withheld: it may quote delivered values). Keep the landed file and report it to the "
            "data engineers.",
        ) from None


def _protect(contract: Contract, landed: LandedBatch, _landed: LandedBatch, run_id) -> ProtectedBatch:
    parsed = _read(contract, landed)
    reject = _rejector(contract, landed, parsed.num_rows)
    if parsed.num_rows != landed.manifest_rows:
        raise reject(
            "MANIFEST_ROWS",
            f"the file holds {parsed.num_rows} data rows but the manifest says {landed.manifest_rows}.",
            row=min(parsed.num_rows, landed.manifest_rows) + 1,
        )
    if parsed.num_rows == 0 and contract.options.get("empty_interval", "warn") == "reject":
        raise reject(
            "EMPTY_INTERVAL",
            "the delivery is complete (its marker is there) but holds no rows, which the contract says "
            "this source never sends for an interval. Ask the producer whether data is missing.",
        )
    pseudonymizer = Pseudonymizer.from_environment()
    protected = protect_table(derive_columns(parsed.table, contract), contract, pseudonymizer)
    work = work_folder(landed.batch_id)
    stage(protected.table, work / "protected.arrow")
    stage(_problems_table(parsed.problems), work / "read_problems.arrow")
    stage(protected.vault, work / "vault.arrow", private=True)
    return ProtectedBatch(landed.to_dict(), str(work), parsed.num_rows, fingerprint(pseudonymizer.key))


def _validate(contract: Contract, landed: LandedBatch, protected: ProtectedBatch, run_id) -> ValidatedBatch:
    work = folder_at(protected.work_dir)
    table = staged(work / "protected.arrow")
    read_problems = _problems_from(staged(work / "read_problems.arrow"))
    reject = _rejector(contract, landed, protected.received_rows)
    gate = run_gate(table, contract, as_of=_as_of(landed))
    empty = protected.received_rows == 0 and contract.options.get("empty_interval", "warn") == "warn"
    ledger.record_gate_outcomes(
        contract,
        landed.batch_id,
        gate.outcomes,
        read_problems,
        protected.received_rows,
        run_id,
        warnings=[("interval_has_rows", "EMPTY_INTERVAL", False, 0)] if empty else [],
    )
    if empty:
        log.warning("%s: the delivery for this interval holds no rows (EMPTY_INTERVAL)", landed.batch_id)
    data_docs.publish(gate.validation_result, contract.name, landed.batch_id, run_id)
    if gate.critical_failures:
        failure = gate.critical_failures[0]
        raise reject(
            failure.reason_code,
            f"critical expectation {failure.expectation_type} failed (observed {failure.observed_value}).",
            column=failure.column,
        )
    split = split_rows(table, [*read_problems, *gate.row_problems])
    share = split.quarantined.num_rows / max(protected.received_rows, 1)
    if share > contract.max_bad_row_share:
        first = split.problems[0]
        raise reject(
            "TOO_MANY_BAD_ROWS",
            f"{split.quarantined.num_rows} of {protected.received_rows} rows ({share:.1%}) fail row rules, "
            f"above the {contract.max_bad_row_share:.0%} limit; most common: "
            f"{dict(split.reason_counts().most_common(3))}.",
            row=first.row,
            column=first.column,
        )
    # The accepted rows are the protected ones minus the quarantined: the loader takes them from
    # protected.arrow, so they are not copied and staged a second time.
    stage(split.quarantined, work / "quarantined.arrow")
    stage(_problems_table(split.problems), work / "problems.arrow")
    return ValidatedBatch(
        landed=protected.landed,
        work_dir=protected.work_dir,
        received_rows=protected.received_rows,
        accepted_rows=split.accepted_count,
        quarantined_rows=split.quarantined.num_rows,
        key_fingerprint=protected.key_fingerprint,
        reason_counts=dict(split.reason_counts()),
    )


def _problems_table(problems: list[RowProblem]) -> pa.Table:
    return pa.table(
        {
            "source_row": pa.array([p.row for p in problems], pa.int32()),
            "column_name": pa.array([p.column for p in problems], pa.string()),
            "reason_code": pa.array([p.reason for p in problems], pa.string()),
            "rule": pa.array([p.rule for p in problems], pa.string()),
        }
    )


def _problems_from(table: pa.Table) -> list[RowProblem]:
    return [
        RowProblem(r["source_row"], r["column_name"], r["reason_code"], r["rule"]) for r in table.to_pylist()
    ]


def ingest_interval(source: str, start: datetime, end: datetime, run_id: str | None = None) -> dict:
    """Every step for one interval, in one call (tests, benchmarks, the CLI); returns load's summary."""
    landed = land(source, start, end, run_id)
    return load(validate(protect_identities(landed, run_id), run_id), run_id)
