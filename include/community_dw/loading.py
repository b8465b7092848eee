"""Load a validated batch: replace it in raw, quarantine, the quarantine index and the vault at once.

One transaction per batch: the batch's earlier rows (a rerun) are deleted and the staged ones inserted,
the counts are checked against what was received, and the ledger row is written inside the same
transaction, so a crash at any point leaves either the old batch or the new one, never both and never
a batch without its ledger record. Reruns never duplicate.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from community_dw import ledger, warehouse
from community_dw.clock import utc_now
from community_dw.contracts import get_contract
from community_dw.staging import discard, folder_at, staged
from community_dw.transports.base import LandedBatch

if TYPE_CHECKING:
    from community_dw.ingest import ValidatedBatch

log = logging.getLogger(__name__)


class LedgerImbalance(RuntimeError):
    """What was inserted does not add up to what was received: the transaction is rolled back."""


def load(validated: ValidatedBatch, run_id: str | None = None) -> dict:
    """Replace the batch in raw, quarantine and audit in one transaction; return its counts."""
    landed = LandedBatch.from_dict(validated.landed)
    contract = get_contract(landed.source)
    work = folder_at(validated.work_dir)
    batch = [landed.batch_id]
    now = utc_now()
    with warehouse.connection() as con:
        warehouse.ensure_tables(con, contract)
        con.execute("begin transaction")
        try:
            con.execute(f"delete from {contract.raw_table} where _batch_id = ?", batch)
            con.execute(f"delete from {contract.raw_table}_quarantine where _batch_id = ?", batch)
            con.execute("delete from audit.quarantine_index where batch_id = ?", batch)
            # A batch has one `loaded` record, its current state; rejected attempts stay as history.
            con.execute("delete from audit.batch_ledger where batch_id = ? and status = 'loaded'", batch)
            for table, file in (
                (contract.raw_table, "accepted"),
                (f"{contract.raw_table}_quarantine", "quarantined"),
            ):
                con.register("staged_rows", staged(work / f"{file}.arrow"))
                con.execute(
                    f"insert into {table} by name select *, ? as _batch_id, ? as _loaded_at from staged_rows",
                    [landed.batch_id, now],
                )
            con.register("staged_problems", staged(work / "problems.arrow"))
            con.execute(
                "insert into audit.quarantine_index (source, batch_id, file, source_row, column_name, "
                "reason_code, rule, recorded_at) select ?, ?, ?, source_row, column_name, reason_code, rule, ? "
                "from staged_problems",
                [contract.name, landed.batch_id, landed.file, now],
            )
            con.register("staged_vault", staged(work / "vault.arrow"))
            con.execute(
                "insert into vault.identities (domain, pseudonym, original_value, first_batch_id, first_seen_at) "
                "select distinct v.domain, v.pseudonym, v.original_value, ?, ? "
                "from staged_vault v anti join vault.identities i "
                "on i.domain = v.domain and i.pseudonym = v.pseudonym",
                [landed.batch_id, now],
            )
            loaded, quarantined = ledger.batch_counts(con, contract, landed.batch_id)
            if loaded + quarantined != validated.received_rows:
                raise LedgerImbalance(
                    f"{landed.batch_id}: ledger does not balance: received {validated.received_rows} != "
                    f"loaded {loaded} + quarantined {quarantined}"
                )
            ledger.record_loaded(
                con,
                contract,
                landed,
                received=validated.received_rows,
                loaded=loaded,
                quarantined=quarantined,
                key_fingerprint=validated.key_fingerprint,
                run_id=run_id,
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    discard(work)
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
