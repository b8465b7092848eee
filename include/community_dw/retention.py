"""Retention: purge what is past the window its contract declares, and log every purge in audit.

Each contract declares `retention` once (see `contracts.Retention`):

- `landing_days`: a batch's plaintext landed copy (`landing/<source>/<batch>/`, real ID numbers) and its
  staged work files (`work/<batch id>/`, pseudonymized rows) are removed once the batch's latest ledger
  record (loaded or rejected) is older than the window. A batch without a ledger record is still being
  processed (landed, not yet loaded or rejected) and is never touched; nor is a folder with a file
  written after the cut-off (a batch being landed again right now). Landing folders are matched to
  ledger batches by their id without colons (`appeals/2026-11-25T00:00` lands in
  `landing/appeals/2026-11-25T0000`), the rule every transport follows.
- `raw_days` (where person-level rows expire): rows of `raw.<source>` and `raw.<source>_quarantine`
  whose `raw_age_column` is before local midnight of the run's date minus the window are deleted, both
  tables and their log rows in one transaction. A quarantined row whose age column did not parse is aged
  by when it was loaded. The cut-off is a whole local day, so an hour of stays is never half purged.

The ledger (`audit.batch_ledger`) and the quarantine index keep their records: they hold counts and
reasons, no values. Every removal is one row of `audit.purge_log` (rule, source, target, rows or files
and bytes, window, cut-off, run id, time). A rerun for the same date finds nothing left to remove and
logs nothing: the purge log is the history of what was actually deleted, so its sums never count a
removal twice.

Aggregates built from purged rows stay: `int_grid_presence_hourly` rebuilds only the hours in its
lookback before the latest built hour, so hours older than the window keep their counts (a
`dbt build --full-refresh` of it would lose them; do not full-refresh telecom models after a purge).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from community_dw import paths, warehouse
from community_dw.clock import LOCAL_TZ
from community_dw.contracts import Contract, get_contract, load_contracts

if TYPE_CHECKING:
    from community_dw.warehouse import Warehouse

log = logging.getLogger(__name__)

LANDING_RULE = "landing_files"
WORK_RULE = "work_files"
RAW_RULE = "raw_rows"
# Times are in the producers' clock (community_dw.clock.LOCAL_TZ, UTC+8, no daylight saving): stay times
# in raw are naive local times, ledger times naive UTC.


@dataclass(frozen=True)
class Purge:
    """One removal: a batch's landing or work folder, or the expired rows of one raw relation."""

    rule: str
    source: str
    target: str
    window_days: int
    cutoff: datetime
    batch_id: str | None = None  # folders: the batch they hold
    rows_removed: int | None = None  # relations
    files_removed: int | None = None  # folders
    bytes_removed: int | None = None  # folders

    def to_dict(self) -> dict:
        return asdict(self) | {"cutoff": self.cutoff.isoformat()}


def utc_naive(moment: datetime) -> datetime:
    """A moment as the ledger stores it: UTC without a zone (a naive input is taken as UTC)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def landing_cutoff(contract: Contract, as_of: datetime) -> datetime:
    """Batches whose latest ledger record is before this (UTC) have their landed copies purged."""
    return utc_naive(as_of) - timedelta(days=contract.retention.landing_days)


def raw_cutoff(contract: Contract, as_of: datetime) -> datetime | None:
    """Rows whose age column is before this (local, naive) are purged; None when raw rows are kept."""
    if contract.retention.raw_days is None:
        return None
    aware = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
    local_day = aware.astimezone(LOCAL_TZ).date()
    return datetime.combine(local_day - timedelta(days=contract.retention.raw_days), time())


def landing_folder(batch_id: str) -> Path:
    """Where a batch's landed copy lives: its id without colons, under the landing folder."""
    return paths.landing_dir() / batch_id.replace(":", "")


def work_folder(batch_id: str) -> Path:
    return paths.work_dir() / batch_id


def _folder_size(folder: Path) -> tuple[int, int, float]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    newest = max((p.stat().st_mtime for p in files), default=folder.stat().st_mtime)
    return len(files), sum(p.stat().st_size for p in files), newest


def _expired_batches(con: Warehouse, source: str, cutoff: datetime) -> list[str]:
    return [
        batch
        for (batch,) in con.execute(
            "select batch_id from audit.batch_ledger where source = ? group by batch_id "
            "having max(recorded_at) < ? order by batch_id",
            [source, cutoff],
        ).fetchall()
    ]


def _purge_folders(con: Warehouse, contract: Contract, as_of: datetime) -> list[Purge]:
    cutoff = landing_cutoff(contract, as_of)
    cutoff_epoch = cutoff.replace(tzinfo=UTC).timestamp()
    purges = []
    for batch_id in _expired_batches(con, contract.name, cutoff):
        for rule, folder, root in (
            (LANDING_RULE, landing_folder(batch_id), paths.landing_dir()),
            (WORK_RULE, work_folder(batch_id), paths.work_dir()),
        ):
            if not folder.is_dir():
                continue
            files, size, newest = _folder_size(folder)
            if newest >= cutoff_epoch:
                log.warning(
                    "%s: keeping %s, a file in it was written after the cut-off %s (landed again?)",
                    batch_id,
                    folder,
                    cutoff,
                )
                continue
            shutil.rmtree(folder)
            purges.append(
                Purge(
                    rule,
                    contract.name,
                    f"{root.name}/{folder.relative_to(root).as_posix()}",
                    contract.retention.landing_days,
                    cutoff,
                    batch_id=batch_id,
                    files_removed=files,
                    bytes_removed=size,
                )
            )
    return purges


def _log(con: Warehouse, purges: list[Purge], run_id: str | None, now: datetime) -> None:
    if not purges:  # a run that removed nothing logs nothing
        return
    con.executemany(
        "insert into audit.purge_log (rule, source, target, batch_id, rows_removed, files_removed, "
        "bytes_removed, window_days, cutoff, run_id, purged_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                p.rule,
                p.source,
                p.target,
                p.batch_id,
                p.rows_removed,
                p.files_removed,
                p.bytes_removed,
                p.window_days,
                p.cutoff,
                run_id,
                now,
            )
            for p in purges
        ],
    )


def _purge_raw(
    con: Warehouse, contract: Contract, as_of: datetime, run_id: str | None, now: datetime
) -> list[Purge]:
    cutoff = raw_cutoff(contract, as_of)
    if cutoff is None:
        return []
    age = contract.retention.raw_age_column
    local_offset = int(now.replace(tzinfo=UTC).astimezone(LOCAL_TZ).utcoffset().total_seconds() // 3600)
    statements = {
        contract.raw_table: f"delete from {contract.raw_table} where {age} < ?",
        # _loaded_at is UTC; shifted to local time to age a row whose own time did not parse.
        f"{contract.raw_table}_quarantine": (
            f"delete from {contract.raw_table}_quarantine "
            f"where coalesce(cast({age} as timestamp), _loaded_at + interval '{local_offset} hours') < ?"
        ),
    }
    purges = []
    with con.transaction():
        for relation, sql in statements.items():
            removed = con.delete(sql, [cutoff])
            if removed:
                purges.append(
                    Purge(
                        RAW_RULE,
                        contract.name,
                        relation,
                        contract.retention.raw_days,
                        cutoff,
                        rows_removed=removed,
                    )
                )
        _log(con, purges, run_id, now)
    return purges


def purge_source(source: str, as_of: datetime, run_id: str | None = None) -> list[Purge]:
    """Apply one source's retention as of `as_of` (the run's logical date); returns what was removed."""
    contract = get_contract(source)
    now = utc_naive(datetime.now(UTC))
    with warehouse.connection() as con:
        con.ensure_tables(contract)
        purges = _purge_raw(con, contract, as_of, run_id, now)
        folders: list[Purge] = []
        try:
            folders = _purge_folders(con, contract, as_of)
        finally:  # whatever was deleted is logged, even if a later folder could not be removed
            if folders:
                with con.transaction():
                    _log(con, folders, run_id, now)
    for p in [*purges, *folders]:
        log.info(
            "Purged %s %s: %s (window %d days, cut-off %s)",
            p.rule,
            p.target,
            f"{p.rows_removed} rows"
            if p.rows_removed is not None
            else f"{p.files_removed} files, {p.bytes_removed} bytes",
            p.window_days,
            p.cutoff,
        )
    return [*purges, *folders]


def purge_all(as_of: datetime, run_id: str | None = None) -> list[Purge]:
    """Every contract's retention, one source after another (the warehouse has one writer)."""
    return [p for name in load_contracts() for p in purge_source(name, as_of, run_id)]


PURGE_SUMMARY = """
select rule, source, count(*) as purges, sum(rows_removed) as rows_removed,
       sum(files_removed) as files_removed, sum(bytes_removed) as bytes_removed, max(purged_at) as last
from audit.purge_log
group by rule, source
order by source, rule
"""


def _table_exists(con: Warehouse, schema: str, table: str) -> bool:
    return con.exists(f"{schema}.{table}")


def purge_summary(con: Warehouse) -> list[tuple]:
    """Per rule and source: purges logged, rows, files and bytes removed, and the latest purge."""
    return con.execute(PURGE_SUMMARY).fetchall() if _table_exists(con, "audit", "purge_log") else []


def next_expiries(con: Warehouse) -> list[tuple[str, str, int, datetime]]:
    """Per source and rule still holding data: the window and when its oldest item is first purged.

    Landing times are UTC (the ledger's clock); raw times are local (the rows' clock).
    """
    out: list[tuple[str, str, int, datetime]] = []
    if not _table_exists(con, "audit", "batch_ledger"):
        return out
    for contract in load_contracts().values():
        retention = contract.retention
        held = [
            recorded
            for batch, recorded in con.execute(
                "select batch_id, max(recorded_at) from audit.batch_ledger where source = ? group by batch_id",
                [contract.name],
            ).fetchall()
            if landing_folder(batch).is_dir() or work_folder(batch).is_dir()
        ]
        if held:
            out.append(
                (
                    contract.name,
                    LANDING_RULE,
                    retention.landing_days,
                    min(held) + timedelta(days=retention.landing_days),
                )
            )
        if retention.raw_days is not None and _table_exists(con, "raw", contract.name):
            oldest = con.execute(
                f"select min({retention.raw_age_column}) from {contract.raw_table}"
            ).fetchone()[0]
            if oldest is not None:
                day = oldest.date() if isinstance(oldest, datetime) else oldest
                purged_on = datetime.combine(day + timedelta(days=retention.raw_days + 1), time())
                out.append((contract.name, RAW_RULE, retention.raw_days, purged_on))
    return out
