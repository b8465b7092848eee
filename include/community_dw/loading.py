"""Load a validated batch: replace it in raw, quarantine, the quarantine index and the vault at once.

One transaction per batch: the batch's earlier rows (a rerun) are deleted and the staged ones inserted,
the counts are checked against what was received, and the ledger row is written inside the same
transaction, so a crash at any point leaves either the old batch or the new one, never both and never
a batch without its ledger record. Reruns never duplicate. The same on every warehouse backend
(community_dw.warehouse): DuckDB inserts the Arrow tables by name, PostgreSQL copies them in binary.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from community_dw import ledger, warehouse
from community_dw.clock import utc_now
from community_dw.contracts import get_contract
from community_dw.quarantine import accepted_rows
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
        con.ensure_tables(contract)
        with con.transaction():
            con.execute(f"delete from {contract.raw_table} where _batch_id = ?", batch)
            con.execute(f"delete from {contract.raw_table}_quarantine where _batch_id = ?", batch)
            con.execute("delete from audit.quarantine_index where batch_id = ?", batch)
            # A batch has one `loaded` record, its current state; rejected attempts stay as history.
            con.execute("delete from audit.batch_ledger where batch_id = ? and status = 'loaded'", batch)
            constants = {"_batch_id": landed.batch_id, "_loaded_at": now}
            quarantined = staged(work / "quarantined.arrow")
            accepted = accepted_rows(staged(work / "protected.arrow"), quarantined)
            con.append_arrow(contract.raw_table, accepted, constants)
            con.append_arrow(f"{contract.raw_table}_quarantine", quarantined, constants)
            problems = staged(work / "problems.arrow")
            con.append_arrow(
                "audit.quarantine_index",
                problems.select(["source_row", "column_name", "reason_code", "rule"]),
                {
                    "source": contract.name,
                    "batch_id": landed.batch_id,
                    "file": landed.file,
                    "recorded_at": now,
                },
            )
            con.add_identities(staged(work / "vault.arrow"), landed.batch_id, now)
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
