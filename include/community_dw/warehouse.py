"""The embedded DuckDB warehouse: connections and the tables ingestion writes.

Raw tables are declared from the contracts (contract column types are valid DuckDB and PostgreSQL
types), so a new source needs no DDL here. Audit and vault tables are fixed and declared once below.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import tenacity

from community_dw import paths
from community_dw.contracts import Contract

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from collections.abc import Iterator

    import duckdb

SCHEMAS = ("raw", "audit", "vault")

AUDIT_DDL = """
create table if not exists audit.batch_ledger (
    source varchar not null,
    batch_id varchar not null,
    file varchar,
    sha256 varchar,
    status varchar not null,            -- loaded | rejected
    received_rows bigint,
    loaded_rows bigint,
    quarantined_rows bigint,
    rejected_rows bigint,
    rejection_rule varchar,
    rejection_detail varchar,
    key_fingerprint varchar,
    run_id varchar,
    received_at timestamp,
    recorded_at timestamp not null
);
create table if not exists audit.quarantine_index (
    source varchar not null,
    batch_id varchar not null,
    file varchar,
    source_row integer not null,
    column_name varchar,
    reason_code varchar not null,
    rule varchar not null,
    recorded_at timestamp not null
);
create table if not exists audit.dq_results (
    run_id varchar,
    source varchar not null,
    batch_id varchar not null,
    expectation_type varchar not null,
    column_name varchar,
    severity varchar not null,
    reason_code varchar not null,
    success boolean not null,
    observed_value varchar,
    unexpected_count bigint,
    element_count bigint,
    validated_at timestamp not null
);
create table if not exists audit.purge_log (
    rule varchar not null,              -- landing_files | work_files | raw_rows (community_dw.retention)
    source varchar not null,
    target varchar not null,            -- a relation (raw.telecom_stays) or a folder (landing/<source>/<batch>)
    batch_id varchar,
    rows_removed bigint,
    files_removed bigint,
    bytes_removed bigint,
    window_days integer not null,
    cutoff timestamp not null,          -- landing/work: UTC, vs the ledger. raw: local time, vs the age column
    run_id varchar,
    purged_at timestamp not null
);
create table if not exists vault.identities (
    domain varchar not null,
    pseudonym varchar not null,
    original_value varchar not null,
    first_batch_id varchar not null,
    first_seen_at timestamp not null
);
"""


LOCK_TIMEOUT_ENV = "CDW_WAREHOUSE_LOCK_TIMEOUT"


def connect(path: Path | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting while another process holds DuckDB's single-writer lock.

    Under `make airflow` several ingestion DAGs can finish at once (the daily sources at midnight, a
    telecom hour); each holds the file for seconds, so a task waits its turn instead of failing: tenacity
    retries while DuckDB's error names the lock, waiting 0.2 s, then twice as long each time, at most 5 s,
    and logs the first wait. It gives up after CDW_WAREHOUSE_LOCK_TIMEOUT seconds (default 600) with
    DuckDB's own message, which names the process holding the lock.
    """
    import duckdb

    target = path or paths.warehouse_path()
    if not read_only:
        target.parent.mkdir(parents=True, exist_ok=True)

    def lock_held(exc: BaseException) -> bool:
        return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()

    def log_first_wait(state: tenacity.RetryCallState) -> None:
        if state.attempt_number == 1:
            log.info("Waiting for the warehouse lock on %s: %s", target, state.outcome.exception())  # type: ignore[union-attr]

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(lock_held),
        wait=tenacity.wait_exponential(multiplier=0.2, max=5.0),
        stop=tenacity.stop_before_delay(float(os.environ.get(LOCK_TIMEOUT_ENV, "600"))),
        before_sleep=log_first_wait,
        reraise=True,
    )
    return retrying(duckdb.connect, str(target), read_only=read_only)


@contextmanager
def connection(path: Path | None = None, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only)
    try:
        yield con
    finally:
        con.close()


def raw_columns_ddl(contract: Contract) -> str:
    columns = [f"    {c.name} {c.data_type}" for c in contract.columns]
    columns += [
        "    _batch_id varchar not null",
        "    _source_row integer not null",
        "    _loaded_at timestamp not null",
    ]
    return ",\n".join(columns)


def ensure_tables(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    """Create schemas, audit and vault tables, and the source's raw and quarantine tables if missing."""
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    con.execute(AUDIT_DDL)
    body = raw_columns_ddl(contract)
    con.execute(f"create table if not exists raw.{contract.name} (\n{body}\n)")
    con.execute(
        f"create table if not exists raw.{contract.name}_quarantine (\n{body},\n    _reasons varchar not null\n)"
    )


def declare_all_raw_tables(path: Path | None = None) -> list[str]:
    """Create (if missing) the raw and quarantine tables of every contract, plus audit and vault."""
    from community_dw.contracts import load_contracts

    with connection(path) as con:
        for contract in load_contracts().values():
            ensure_tables(con, contract)
    return [c.raw_table for c in load_contracts().values()]
