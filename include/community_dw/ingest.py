"""The ingestion steps every source goes through, independent of Airflow.

    land -> parse -> derive -> pseudonymize -> validate (GX) -> quarantine -> load -> ledger

Each step is a plain function over small, JSON-serializable descriptions of a batch, so a DAG task is a
one-line call and the same steps run in tests and from the CLI. Rejections are recorded in the ledger
before they are raised, so an auditor sees every batch that was received, loaded or not.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather

from community_dw import data_docs, derivations, paths, warehouse
from community_dw.contracts import Contract, get_contract
from community_dw.errors import BatchRejected, RowProblem
from community_dw.landing import LandedBatch, land_file_drop
from community_dw.parsing import parse_batch
from community_dw.pseudonymize import Pseudonymizer, fingerprint
from community_dw.quarantine import split_rows
from community_dw.validation import ExpectationOutcome, run_gate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidatedBatch:
    """A batch that passed the gate, staged as pseudonymized Parquet files ready to load."""

    landed: dict
    work_dir: str
    received_rows: int
    accepted_rows: int
    quarantined_rows: int
    key_fingerprint: str
    reason_counts: dict[str, int]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ValidatedBatch:
        return cls(**data)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def delivery_ready(source: str, interval_start: datetime, interval_end: datetime) -> bool:
    """Whether the producer has finished delivering the interval's extract (what sensors poke)."""
    contract = get_contract(source)
    if contract.transport == "file_drop":
        from community_dw.landing import delivery_ready as file_ready

        return file_ready(contract, interval_start.date())
    if contract.transport == "object_storage":
        from community_dw.transports.object_storage import partition_ready

        return partition_ready(contract, interval_start)
    return True  # an API answers for any closed interval


def land(source: str, interval_start: datetime, interval_end: datetime) -> LandedBatch:
    """Receive the interval's extract through the source's transport; rejections go to the ledger.

    Interval bounds are naive local times (UTC+8), the producers' clock.
    """
    contract = get_contract(source)
    try:
        if contract.transport == "file_drop":
            return land_file_drop(contract, interval_start.date())
        if contract.transport == "object_storage":
            from community_dw.transports.object_storage import land_object_storage

            return land_object_storage(contract, interval_start)
        if contract.transport == "http_api":
            from community_dw.transports.http_api import land_http_api

            return land_http_api(contract, interval_start, interval_end)
    except BatchRejected as rejection:
        record_rejection(contract, rejection, run_id=None)
        raise
    raise NotImplementedError(f"{source}: no transport {contract.transport!r}")


def redact_columns(table: pa.Table, contract: Contract) -> pa.Table:
    """Mask personal data (names, addresses, plates, e-mail, card, ID and phone numbers) in free-text columns (`redact: true`)."""
    from community_dw.redact import redact_free_text

    for col in contract.columns:
        if col.redact:
            index = table.column_names.index(col.name)
            table = table.set_column(index, col.name, redact_free_text(table.column(col.name)))
    return table


def derive_columns(table: pa.Table, contract: Contract) -> pa.Table:
    """Add the contract's derived columns, computed from the delivered (still original) values."""
    for col in contract.derived_columns:
        derived = derivations.derive(col.rule, table.column(col.derived_from))
        table = table.append_column(col.name, derived)
    return table


def pseudonymize_columns(
    table: pa.Table, contract: Contract, pseudonymizer: Pseudonymizer
) -> tuple[pa.Table, pa.Table]:
    """Replace every direct identifier with its pseudonym; return the table and the vault pairs."""
    vault_parts = []
    for col in contract.direct_columns:
        if col.pseudonym_domain is None:
            continue
        original = table.column(col.name).combine_chunks()
        pseudonyms = pseudonymizer.pseudonymize(col.pseudonym_domain, original)
        table = table.set_column(table.column_names.index(col.name), col.name, pseudonyms)
        if not col.vault:
            continue
        vault_parts.append(
            pa.table(
                {
                    "domain": pa.array([col.pseudonym_domain] * len(original), pa.string()),
                    "pseudonym": pseudonyms,
                    "original_value": original.cast(pa.string()),
                }
            ).filter(pa.compute.is_valid(pseudonyms))
        )
        table = table.set_column(table.column_names.index(col.name), col.name, pseudonyms)
    vault = (
        pa.concat_tables(vault_parts)
        if vault_parts
        else pa.table(
            {
                "domain": pa.array([], pa.string()),
                "pseudonym": pa.array([], pa.string()),
                "original_value": pa.array([], pa.string()),
            }
        )
    )
    return table, vault


def validate(landed: LandedBatch, run_id: str | None = None) -> ValidatedBatch:
    """Parse, derive, pseudonymize and run the gate; stage accepted and quarantined rows for loading."""
    contract = get_contract(landed.source)
    try:
        return _validate(contract, landed, run_id)
    except BatchRejected as rejection:
        record_rejection(contract, rejection, run_id, landed)
        raise


def _validate(contract: Contract, landed: LandedBatch, run_id: str | None) -> ValidatedBatch:
    path = Path(landed.landed_path)
    parsed = parse_batch(path, contract, landed.batch_id)

    def reject(rule: str, detail: str, **where) -> BatchRejected:
        return BatchRejected(
            contract.name,
            landed.batch_id,
            rule,
            detail,
            file=landed.file,
            received_rows=parsed.num_rows,
            **where,
        )

    if parsed.num_rows != landed.manifest_rows:
        raise reject(
            "MANIFEST_ROWS",
            f"the file holds {parsed.num_rows} data rows but the manifest says {landed.manifest_rows}.",
            row=min(parsed.num_rows, landed.manifest_rows) + 1,
        )
    pseudonymizer = Pseudonymizer.from_environment()
    table = redact_columns(derive_columns(parsed.table, contract), contract)
    table, vault = pseudonymize_columns(table, contract, pseudonymizer)
    gate = run_gate(table, contract)
    _write_outcomes(contract, landed, gate.outcomes, parsed.problems, run_id)
    data_docs.publish(gate.validation_result, contract.name, landed.batch_id, run_id)
    if gate.critical_failures:
        failure = gate.critical_failures[0]
        raise reject(
            failure.reason_code,
            f"critical expectation {failure.expectation_type} failed (observed {failure.observed_value}).",
            column=failure.column,
        )
    split = split_rows(table, [*parsed.problems, *gate.row_problems])
    share = split.quarantined.num_rows / max(parsed.num_rows, 1)
    if share > contract.max_bad_row_share:
        first = split.problems[0]
        raise reject(
            "TOO_MANY_BAD_ROWS",
            f"{split.quarantined.num_rows} of {parsed.num_rows} rows "
            f"({share:.1%}) fail row rules, above the {contract.max_bad_row_share:.0%} limit; "
            f"most common: {dict(split.reason_counts().most_common(3))}.",
            row=first.row,
            column=first.column,
        )
    work = paths.work_dir() / landed.batch_id
    work.mkdir(parents=True, exist_ok=True)
    _stage(split.accepted, work / "accepted.arrow")
    _stage(split.quarantined, work / "quarantined.arrow")
    _stage(_problems_table(split.problems), work / "problems.arrow")
    _stage(vault, work / "vault.arrow", private=True)
    return ValidatedBatch(
        landed=landed.to_dict(),
        work_dir=str(work),
        received_rows=parsed.num_rows,
        accepted_rows=split.accepted.num_rows,
        quarantined_rows=split.quarantined.num_rows,
        key_fingerprint=fingerprint(pseudonymizer.key),
        reason_counts=dict(split.reason_counts()),
    )


def _stage(table: pa.Table, path: Path, private: bool = False) -> None:
    """Hand a table to the load task as an uncompressed Arrow IPC file: written at disk speed and
    memory-mapped back, where Parquet spent seconds compressing pseudonyms that do not compress."""
    if private:
        path.touch(mode=0o600)
    feather.write_feather(table, path, compression="uncompressed")


def _staged(path: Path) -> pa.Table:
    return feather.read_table(path, memory_map=True)


def _problems_table(problems: list[RowProblem]) -> pa.Table:
    return pa.table(
        {
            "source_row": pa.array([p.row for p in problems], pa.int32()),
            "column_name": pa.array([p.column for p in problems], pa.string()),
            "reason_code": pa.array([p.reason for p in problems], pa.string()),
            "rule": pa.array([p.rule for p in problems], pa.string()),
        }
    )


def _write_outcomes(
    contract: Contract,
    landed: LandedBatch,
    outcomes: list[ExpectationOutcome],
    parse_problems: list[RowProblem],
    run_id: str | None,
) -> None:
    """Store the gate's results in audit.dq_results (history: one set per run)."""
    now = _now()
    rows = [
        (
            run_id,
            contract.name,
            landed.batch_id,
            o.expectation_type,
            o.column,
            o.severity,
            o.reason_code,
            o.success,
            o.observed_value,
            o.unexpected_count,
            o.element_count,
            now,
        )
        for o in outcomes
    ]
    parse_failures = len({p.row for p in parse_problems})
    rows.append(
        (
            run_id,
            contract.name,
            landed.batch_id,
            "values_convert_to_contract_types",
            None,
            "row",
            "UNPARSEABLE_VALUE",
            parse_failures == 0,
            None,
            parse_failures,
            landed.manifest_rows,
            now,
        )
    )
    with warehouse.connection() as con:
        warehouse.ensure_tables(con, contract)
        con.executemany("insert into audit.dq_results values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def load(validated: ValidatedBatch, run_id: str | None = None) -> dict:
    """Replace the batch in raw, quarantine and audit in one transaction; never duplicates."""
    landed = LandedBatch.from_dict(validated.landed)
    contract = get_contract(landed.source)
    work = Path(validated.work_dir)
    now = _now()
    with warehouse.connection() as con:
        warehouse.ensure_tables(con, contract)
        con.execute("begin transaction")
        try:
            batch = [landed.batch_id]
            con.execute(f"delete from raw.{contract.name} where _batch_id = ?", batch)
            con.execute(f"delete from raw.{contract.name}_quarantine where _batch_id = ?", batch)
            con.execute("delete from audit.quarantine_index where batch_id = ?", batch)
            con.execute("delete from audit.batch_ledger where batch_id = ? and status = 'loaded'", batch)
            for table, file in (
                (f"raw.{contract.name}", "accepted"),
                (f"raw.{contract.name}_quarantine", "quarantined"),
            ):
                con.register("staged_rows", _staged(work / f"{file}.arrow"))
                con.execute(
                    f"insert into {table} by name select *, ? as _batch_id, ? as _loaded_at from staged_rows",
                    [landed.batch_id, now],
                )
            con.register("staged_problems", _staged(work / "problems.arrow"))
            con.execute(
                "insert into audit.quarantine_index select ?, ?, ?, source_row, column_name, reason_code, rule, ? "
                "from staged_problems",
                [contract.name, landed.batch_id, landed.file, now],
            )
            con.register("staged_vault", _staged(work / "vault.arrow"))
            con.execute(
                "insert into vault.identities select distinct v.domain, v.pseudonym, v.original_value, ?, ? "
                "from staged_vault v anti join vault.identities i "
                "on i.domain = v.domain and i.pseudonym = v.pseudonym",
                [landed.batch_id, now],
            )
            loaded = con.execute(
                f"select count(*) from raw.{contract.name} where _batch_id = ?", batch
            ).fetchone()[0]
            quarantined = con.execute(
                f"select count(*) from raw.{contract.name}_quarantine where _batch_id = ?", batch
            ).fetchone()[0]
            if loaded + quarantined != validated.received_rows:
                raise RuntimeError(
                    f"{landed.batch_id}: ledger does not balance: received "
                    f"{validated.received_rows} != loaded {loaded} + quarantined {quarantined}"
                )
            con.execute(
                "insert into audit.batch_ledger values (?, ?, ?, ?, 'loaded', ?, ?, ?, 0, null, null, ?, ?, ?, ?)",
                [
                    contract.name,
                    landed.batch_id,
                    landed.file,
                    landed.sha256,
                    validated.received_rows,
                    loaded,
                    quarantined,
                    validated.key_fingerprint,
                    run_id,
                    landed.received_at,
                    now,
                ],
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    for leftover in ("vault.arrow",):
        (work / leftover).unlink(missing_ok=True)
    summary = {
        "source": contract.name,
        "batch_id": landed.batch_id,
        "received": validated.received_rows,
        "loaded": loaded,
        "quarantined": quarantined,
        "reasons": validated.reason_counts,
    }
    log.info("Loaded %s", json.dumps(summary, ensure_ascii=False))
    return summary


def record_rejection(
    contract: Contract, rejection: BatchRejected, run_id: str | None, landed: LandedBatch | None = None
) -> None:
    """Write the rejection to the ledger: the batch was received and nothing of it was loaded."""
    received = (
        rejection.received_rows
        if rejection.received_rows is not None
        else (landed.manifest_rows if landed else None)
    )
    with warehouse.connection() as con:
        warehouse.ensure_tables(con, contract)
        con.execute(
            "insert into audit.batch_ledger values (?, ?, ?, ?, 'rejected', ?, 0, 0, ?, ?, ?, null, ?, ?, ?)",
            [
                contract.name,
                rejection.batch_id,
                rejection.file,
                landed.sha256 if landed else None,
                received,
                received,
                rejection.rule,
                str(rejection),
                run_id,
                landed.received_at if landed else None,
                _now(),
            ],
        )
    log.error("%s", rejection)
