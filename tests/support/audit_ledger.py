"""A small warehouse for the auditor's view tests: a month of one daily source, written row by row.

population_registry, November 2026 (local days):
  11-01 … 11-20  loaded; received 1000 + (day % 3) rows, 10 quarantined (UNKNOWN_COMMUNITY), except
                 11-20 with 300 quarantined (a quarantine-rate anomaly) and 11-05, whose quarantine index
                 holds 9 rows where the ledger says 10 (an unbalanced proof)
  11-21          nothing delivered (missing)
  11-22          one rejected delivery (truncated file) whose message carries markup and a script
  11-23          loaded, received on 11-25 (late)
Raw tables hold the loaded and quarantined rows with an identifier-like column that must never show.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

SOURCE = "population_registry"
INJECTED = "<script>window.__pwned = 1</script><b>bold</b>"
REJECTION = f"TRUNCATED_FILE: population_registry_20261122.csv ended inside row 501, column address. {INJECTED} Ask the producer to resend the file."
SECRET_VALUES = ("110101199003071234", "pseudonym-4f3a9c")  # in raw only


def day_received(day: int) -> int:
    return 1000 + day % 3


def day_quarantined(day: int) -> int:
    return 300 if day == 20 else 10


def build(path: Path) -> None:
    import duckdb

    from community_dw import warehouse
    from community_dw.contracts import get_contract
    from community_dw.warehouse.base import RELEASE_AUDITS_DDL as RELEASE_DDL

    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    warehouse.ensure_tables(con, get_contract(SOURCE))
    con.execute(RELEASE_DDL)
    for day in range(1, 24):
        if day in (21, 22):
            continue
        batch = f"{SOURCE}/2026-11-{day:02d}"
        received, held = day_received(day), day_quarantined(day)
        arrived = datetime(2026, 11, day + (2 if day == 23 else 0), 17, 0)  # UTC: 01:00 local the next day
        con.execute(
            "insert into audit.batch_ledger (source, batch_id, file, sha256, status, received_rows, loaded_rows,"
            " quarantined_rows, rejected_rows, run_id, received_at, recorded_at)"
            " values (?, ?, ?, ?, 'loaded', ?, ?, ?, 0, ?, ?, ?)",
            [
                SOURCE,
                batch,
                f"{SOURCE}_202611{day:02d}.csv",
                f"{day:064x}",
                received,
                received - held,
                held,
                f"scheduled__2026-11-{day:02d}",
                arrived,
                arrived + timedelta(minutes=2),
            ],
        )
        index_rows = held - 1 if day == 5 else held
        con.execute(
            "insert into audit.quarantine_index select ?, ?, ?, i, 'community_code', 'UNKNOWN_COMMUNITY',"
            " 'community_code in the division list', ? from range(?) t(i)",
            [SOURCE, batch, f"{SOURCE}_202611{day:02d}.csv", arrived, index_rows],
        )
        columns = ", ".join(
            "NULL" if c.name not in ("resident_id",) else "?" for c in get_contract(SOURCE).columns
        )
        for table, rows in ((f"raw.{SOURCE}", received - held), (f"raw.{SOURCE}_quarantine", held)):
            extra = ", 'UNKNOWN_COMMUNITY'" if table.endswith("_quarantine") else ""
            con.execute(
                f"insert into {table} select {columns}, ?, i, ?{extra} from range(?) t(i)",
                [SECRET_VALUES[0], batch, arrived, rows],
            )
        con.execute(
            "insert into audit.dq_results values (?, ?, ?, 'unexpected_rows_expectation', 'community_code', 'row',"
            " 'UNKNOWN_COMMUNITY', false, null, ?, ?, ?)",
            [f"scheduled__2026-11-{day:02d}", SOURCE, batch, held, received, arrived],
        )
        con.execute(
            "insert into audit.dq_results values (?, ?, ?, 'expect_column_values_to_not_be_null', 'resident_id',"
            " 'row', 'MISSING_REQUIRED', true, null, 0, ?, ?)",
            [f"scheduled__2026-11-{day:02d}", SOURCE, batch, received, arrived],
        )
    rejected_at = datetime(2026, 11, 22, 17, 5)
    con.execute(
        "insert into audit.batch_ledger (source, batch_id, file, sha256, status, received_rows, loaded_rows,"
        " quarantined_rows, rejected_rows, rejection_rule, rejection_detail, run_id, received_at, recorded_at)"
        " values (?, ?, ?, ?, 'rejected', 500, 0, 0, 500, 'TRUNCATED_FILE', ?, 'scheduled__2026-11-22', ?, ?)",
        [
            SOURCE,
            f"{SOURCE}/2026-11-22",
            f"{SOURCE}_20261122.csv",
            "f" * 64,
            REJECTION,
            rejected_at,
            rejected_at,
        ],
    )
    con.execute(
        "insert into audit.release_audits (release_id, target, relation, kind, verdict, detail, audited_at)"
        " values ('r-1', 'duckdb', 'marts.community_population_profile', 'aggregate', 'pass', 'all cells safe', ?)",
        [datetime(2026, 11, 10, 3, 0)],
    )
    con.close()


def expected_totals() -> dict[str, int]:
    """The page's cards, computed from the description above (not from the package)."""
    loaded_days = [d for d in range(1, 24) if d not in (21, 22)]
    received = sum(day_received(d) for d in loaded_days)
    held = sum(day_quarantined(d) for d in loaded_days)
    return {
        "batches": len(loaded_days) + 1,
        "rows-received": received + 500,
        "rows-loaded": received - held,
        "rows-quarantined": held,
        "rows-rejected": 500,
        "deliveries-rejected": 1,
        "balanced": f"{len(loaded_days) - 1} / {len(loaded_days) + 1}",
    }


PERIOD = (date(2026, 11, 1), date(2026, 11, 30))
