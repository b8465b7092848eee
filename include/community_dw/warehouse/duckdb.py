"""The embedded DuckDB warehouse file (the default): no server, no roles, one writer at a time.

DuckDB has no users or grants, so separation is physical: the analyst release is published as its own
file (community_dw.publish) and the vault never enters it.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tenacity

from community_dw.warehouse.base import AUDIT_DDL, SCHEMAS, Warehouse, quote, relation_sql, source_tables

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import duckdb
    import pandas as pd
    import pyarrow as pa

    from community_dw.contracts import Contract

log = logging.getLogger(__name__)

LOCK_TIMEOUT_ENV = "CDW_WAREHOUSE_LOCK_TIMEOUT"


def connect_file(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file, waiting while another process holds DuckDB's single-writer lock.

    Under `make airflow` several ingestion DAGs can finish at once (the daily sources at midnight, a
    telecom hour); each holds the file for seconds, so a task waits its turn instead of failing: tenacity
    retries while DuckDB's error names the lock, waiting 0.2 s, then twice as long each time, at most 5 s,
    and logs the first wait. It gives up after CDW_WAREHOUSE_LOCK_TIMEOUT seconds (default 600) with
    DuckDB's own message, which names the process holding the lock.
    """
    import duckdb

    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)

    def lock_held(exc: BaseException) -> bool:
        return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()

    def log_first_wait(state: tenacity.RetryCallState) -> None:
        if state.attempt_number == 1:
            log.info("Waiting for the warehouse lock on %s: %s", path, state.outcome.exception())  # type: ignore[union-attr]

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(lock_held),
        wait=tenacity.wait_exponential(multiplier=0.2, max=5.0),
        stop=tenacity.stop_before_delay(float(os.environ.get(LOCK_TIMEOUT_ENV, "600"))),
        before_sleep=log_first_wait,
        reraise=True,
    )
    return retrying(duckdb.connect, str(path), read_only=read_only)


class DuckDBWarehouse(Warehouse):
    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    @classmethod
    def open(cls, path: Path, read_only: bool = False) -> DuckDBWarehouse:
        return cls(connect_file(path, read_only))

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        return self.con.execute(sql, params) if params is not None else self.con.execute(sql)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.con.executemany(sql, rows)

    def delete(self, sql: str, params: Sequence[Any] | None = None) -> int:
        return self.execute(sql, params).fetchone()[0]  # DuckDB answers a DELETE with its row count

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("begin transaction")
        try:
            yield
        except BaseException:
            self.con.execute("rollback")
            raise
        self.con.execute("commit")

    def ensure_tables(self, contract: Contract) -> None:
        for schema in SCHEMAS:
            self.con.execute(f"create schema if not exists {schema}")
        self.con.execute(AUDIT_DDL)
        for ddl in source_tables(contract).values():
            self.con.execute(ddl)

    @contextmanager
    def _registered(self, view: str, data: pa.Table | pd.DataFrame) -> Iterator[None]:
        """`data` readable as the view `view` in the statements of the block (DuckDB scans it in place)."""
        self.con.register(view, data)
        try:
            yield
        finally:
            self.con.unregister(view)

    def append_arrow(self, relation: str, table: pa.Table, constants: dict[str, Any]) -> None:
        extra = "".join(f", ? as {quote(name)}" for name in constants)
        with self._registered("_cdw_arrow", table):
            self.con.execute(
                f"insert into {relation} by name select *{extra} from _cdw_arrow", list(constants.values())
            )

    def add_identities(self, pairs: pa.Table, batch_id: str, seen_at: Any) -> None:
        # No roles here, so the anti-join may read the vault; PostgreSQL's loader may not (postgres.py).
        with self._registered("_cdw_vault", pairs):
            self.con.execute(
                "insert into vault.identities (domain, pseudonym, original_value, first_batch_id, first_seen_at) "
                "select distinct v.domain, v.pseudonym, v.original_value, ?, ? "
                "from _cdw_vault v anti join vault.identities i "
                "on i.domain = v.domain and i.pseudonym = v.pseudonym",
                [batch_id, seen_at],
            )

    def close(self) -> None:
        self.con.close()

    def __getattr__(self, name: str) -> Any:
        """DuckDB-only callers (tools, tests, the auditor's store) reach the connection's own API."""
        return getattr(self.con, name)

    def stage(self, name: str, frame: pd.DataFrame) -> None:
        with self._registered("_cdw_stage_frame", frame):
            self.con.execute(f"create or replace temp table {quote(name)} as select * from _cdw_stage_frame")

    def insert(self, relation: str, frame: pd.DataFrame) -> None:
        with self._registered("_cdw_rows", frame):
            self.con.execute(f"insert into {relation_sql(relation)} select * from _cdw_rows")

    def frame(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()
