"""The two warehouses as the release step sees them: read candidates, stage decisions, publish atomically.

DuckDB: the embedded warehouse file; the published schemas live in it and are copied into the analyst
file. PostgreSQL: the governed warehouse named by the same CDW_PG_* variables as the dbt profile;
DDL is transactional there, so a release replaces every analyst relation in one transaction and an
analyst reading during a build sees the previous release until it commits (or keeps it, if the audit
fails). Decisions are staged as integer/boolean tables only, so no value's type crosses engines.
"""

from __future__ import annotations

import io
import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Iterator


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def relation_sql(relation: str) -> str:
    return ".".join(quote(part) for part in relation.split("."))


class DuckDBBackend:
    name = "duckdb"

    def __init__(self, con) -> None:
        self.con = con

    def frame(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def stage(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register("_cdw_stage_frame", frame)
        try:
            self.con.execute(f"create or replace temp table {quote(name)} as select * from _cdw_stage_frame")
        finally:
            self.con.unregister("_cdw_stage_frame")

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def insert(self, relation: str, frame: pd.DataFrame) -> None:
        """Append a frame whose columns are the relation's, in order."""
        self.con.register("_cdw_rows", frame)
        try:
            self.con.execute(f"insert into {relation_sql(relation)} select * from _cdw_rows")
        finally:
            self.con.unregister("_cdw_rows")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("begin transaction")
        try:
            yield
        except BaseException:
            self.con.execute("rollback")
            raise
        self.con.execute("commit")

    def grant_readers(self, schema: str, table: str) -> None:
        """DuckDB has no roles: readers get the analyst file instead."""

    def exists(self, relation: str) -> bool:
        schema, table = relation.split(".")
        return bool(
            self.con.execute(
                "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchone()[0]
        )


class PostgresBackend:
    name = "postgres"

    def __init__(self, conn) -> None:
        self.conn = conn
        self.conn.autocommit = False

    def frame(self, sql: str) -> pd.DataFrame:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            columns = [d[0] for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=columns)

    def stage(self, name: str, frame: pd.DataFrame) -> None:
        types = {
            c: ("bigint" if pd.api.types.is_integer_dtype(frame[c]) else "boolean") for c in frame.columns
        }
        columns = ", ".join(f"{quote(c)} {t}" for c, t in types.items())
        with self.conn.cursor() as cur:
            cur.execute(f"drop table if exists {quote(name)}")
            cur.execute(f"create temp table {quote(name)} ({columns})")
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False, header=False)
            buffer.seek(0)
            cur.copy_expert(f"copy {quote(name)} from stdin with (format csv)", buffer)

    def execute(self, sql: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql)

    def insert(self, relation: str, frame: pd.DataFrame) -> None:
        """Append a frame whose columns are the relation's, in order."""
        from psycopg2.extras import execute_values

        values = [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)]
        with self.conn.cursor() as cur:
            execute_values(cur, f"insert into {relation_sql(relation)} values %s", values)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    def grant_readers(self, schema: str, table: str) -> None:
        """SELECT for every cdw_ role the access policy gave USAGE on the schema (dbt's on-run-start)."""
        with self.conn.cursor() as cur:
            cur.execute(
                "select rolname from pg_roles where rolname like 'cdw\\_%%'"
                " and has_schema_privilege(rolname, %s, 'USAGE')",
                [schema],
            )
            for (role,) in cur.fetchall():
                cur.execute(f"grant select on {quote(schema)}.{quote(table)} to {quote(role)}")

    def exists(self, relation: str) -> bool:
        with self.conn.cursor() as cur:
            cur.execute("select to_regclass(%s) is not null", [relation])
            return bool(cur.fetchone()[0])


def postgres_connection(env: dict[str, str] | None = None) -> Any:
    """A psycopg2 connection from the dbt profile's CDW_PG_* variables."""
    import psycopg2

    env = env or dict(os.environ)
    return psycopg2.connect(
        host=env["CDW_PG_HOST"],
        port=int(env.get("CDW_PG_PORT", "5432")),
        user=env.get("CDW_PG_USER", "postgres"),
        password=env.get("CDW_PG_PASSWORD", ""),
        dbname=env["CDW_PG_DBNAME"],
    )


@contextmanager
def open_backend(target: str | None = None) -> Iterator[DuckDBBackend | PostgresBackend]:
    """The warehouse of the dbt target in use (CDW_DBT_TARGET: duckdb by default, or postgres)."""
    target = target or os.environ.get("CDW_DBT_TARGET", "duckdb")
    if target == "postgres":
        conn = postgres_connection()
        try:
            yield PostgresBackend(conn)
        finally:
            conn.close()
        return
    from community_dw import warehouse

    with warehouse.connection() as con:
        yield DuckDBBackend(con)
