"""A real PostgreSQL for tests: the server named by `CDW_TEST_PG_URL`, else a throwaway `pgserver` one.

    params = postgres_server()            # the server (started once per process when none is named)
    db = fresh_database(params, "dbt")    # a new, empty database on it for this test session
    run_dbt(project, db.dbt_env(), "build", "--target", "postgres")  # CDW_PG_* for profiles.yml
    ...
    drop_database(db)

`CDW_TEST_PG_URL` may be `postgresql://user:password@host:5432/dbname` or carry a Unix-socket
directory as `?host=/path/to/socket/dir`. The user must be allowed to create databases.

pgserver listens on a Unix socket only. Socket paths are limited to ~107 bytes, so its data directory
is a short `/tmp/cdwpg-XXXXXXXX` (pytest's tmp paths are too long); it is stopped and deleted when the
process exits.
"""

from __future__ import annotations

import functools
import os
import secrets
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# The server handle must outlive postgres_server(): pgserver stops the server when it is collected.
_SERVER: Any = None


@dataclass(frozen=True)
class PgParams:
    """How to reach one database; `host` is a host name or a Unix-socket directory."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    def connect(self, **kwargs: Any):
        """A psycopg2 connection to this database."""
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.dbname,
            **kwargs,
        )

    def query(self, sql: str) -> list[tuple]:
        """The rows of one statement, on a connection of its own (closed after)."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()

    def execute_autocommit(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE and DROP DATABASE refuse to run inside one)."""
        conn = self.connect()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def dbt_env(self) -> dict[str, str]:
        """Environment for the `postgres` target of dbt_project/profiles.yml."""
        return {
            "CDW_PG_HOST": self.host,
            "CDW_PG_PORT": str(self.port),
            "CDW_PG_USER": self.user,
            "CDW_PG_PASSWORD": self.password,
            "CDW_PG_DBNAME": self.dbname,
        }

    def sqlalchemy_url(self) -> str:
        """URL form that works for SQLAlchemy / GX, Unix sockets included."""
        if self.host.startswith("/"):
            return (
                f"postgresql+psycopg2://{self.user}:{self.password}@localhost:{self.port}/{self.dbname}"
                f"?host={self.host}"
            )
        return f"postgresql+psycopg2://{self.user}:{self.password}@{self.host}:{self.port}/{self.dbname}"


def _parse_url(url: str) -> PgParams:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    return PgParams(
        host=host,
        port=parts.port or int(query.get("port", ["5432"])[0]),
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        dbname=(parts.path or "/").lstrip("/") or "postgres",
    )


@functools.cache
def postgres_server() -> PgParams:
    """Connection parameters of the test server's maintenance database (started on first call)."""
    global _SERVER
    url = os.environ.get("CDW_TEST_PG_URL")
    if url:
        return _parse_url(url)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR is not set
        import pgserver

        pgdata = Path(tempfile.mkdtemp(prefix="cdwpg-", dir="/tmp"))
        _SERVER = pgserver.get_server(pgdata, cleanup_mode="delete")
    info = _SERVER.get_postmaster_info()
    return PgParams(
        host=str(info.socket_dir),
        port=info.port or 5432,
        user="postgres",
        password="",
        dbname="postgres",
    )


def fresh_database(params: PgParams, prefix: str = "cdw_test") -> PgParams:
    """Create a new, uniquely named database on the server and return its parameters."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    params.execute_autocommit(f'create database "{name}"')
    return replace(params, dbname=name)


def drop_database(params: PgParams, maintenance_db: str = "postgres") -> None:
    """Drop a database made by fresh_database (closing any sessions still on it)."""
    maintenance = replace(params, dbname=maintenance_db)
    maintenance.execute_autocommit(f'drop database if exists "{params.dbname}" with (force)')
