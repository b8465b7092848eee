"""Connections to the `audit` schema for the auditor's view: read-only, short waits, one per request.

DuckDB (the embedded default): the warehouse file opened read only. DuckDB lets no other process open
the file while a task writes to it, so the view waits a few seconds (CDW_AUDIT_VIEW_LOCK_WAIT, default
10) and then says the warehouse is busy instead of hanging a web request for the loaders' ten minutes.

PostgreSQL (CDW_WAREHOUSE_URL=postgresql://…): the connection takes the role `cdw_auditor` (or
CDW_AUDIT_ROLE) with `SET ROLE`, so it reads what the auditor's grants allow and nothing else.

Queries are written with `?` placeholders; they are rewritten to `%s` for psycopg2.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from community_dw import paths

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

URL_ENV = "CDW_WAREHOUSE_URL"
ROLE_ENV = "CDW_AUDIT_ROLE"
LOCK_WAIT_ENV = "CDW_AUDIT_VIEW_LOCK_WAIT"


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be read right now (missing, or held by a writing task)."""


@dataclass
class AuditStore:
    """Rows of the warehouse as dicts, over one open DB-API connection."""

    con: Any
    dialect: str  # duckdb | postgresql

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.con.cursor()
        try:
            cursor.execute(self._sql(sql), list(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        cursor = self.con.cursor()
        try:
            cursor.execute(self._sql(sql), list(params))
        finally:
            cursor.close()

    def has_table(self, relation: str) -> bool:
        schema, table = relation.split(".")
        found = self.rows(
            "select count(*) as n from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        )
        return bool(found[0]["n"])

    def try_rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]] | None:
        """Rows, or None where this role may not read the relation (raw, on PostgreSQL)."""
        try:
            return self.rows(sql, params)
        except Exception as exc:  # the drivers' permission errors have no common class
            if self.dialect == "postgresql":
                self.con.rollback()
            if "permission denied" in str(exc).lower() or "does not exist" in str(exc).lower():
                return None
            raise


def _duckdb(read_only: bool):
    import duckdb

    path = paths.warehouse_path()
    if not path.exists():
        raise WarehouseUnavailable(f"no warehouse at {path} yet: run `make demo` or the ingestion DAGs")
    deadline = time.monotonic() + float(os.environ.get(LOCK_WAIT_ENV, "10"))
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise WarehouseUnavailable(
                    f"the warehouse {path} is held by a running task ({exc}); reload in a minute"
                ) from exc
            time.sleep(0.3)


def _postgresql(url: str, read_only: bool):
    import psycopg2

    con = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    cursor = con.cursor()
    cursor.execute("set role " + os.environ.get(ROLE_ENV, "cdw_auditor"))
    if read_only:
        cursor.execute("set session characteristics as transaction read only")
    cursor.close()
    return con


@contextmanager
def open_store(read_only: bool = True) -> Iterator[AuditStore]:
    """The warehouse named by CDW_WAREHOUSE_URL (PostgreSQL) or the DuckDB file; committed on exit."""
    url = os.environ.get(URL_ENV, "")
    if url.startswith("postgres"):
        store = AuditStore(_postgresql(url, read_only), "postgresql")
    else:
        store = AuditStore(_duckdb(read_only), "duckdb")
    try:
        yield store
        store.con.commit()
    finally:
        store.con.close()
