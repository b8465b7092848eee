"""The warehouse behind one interface: DuckDB (embedded default) or PostgreSQL, named by one URL.

`CDW_WAREHOUSE_URL` chooses it for everything the package writes and reads (raw and quarantine tables,
audit, vault, the release): unset, the DuckDB file `paths.warehouse_path()`; `duckdb:///<file>`; or
`postgresql://<login>@<host>:<port>/<database>` (a `?host=<socket dir>` query works too). Each backend
registers under its URL schemes in `BACKENDS`, the way Cosmos registers profile mappings, and
implements `base.Warehouse`.

On PostgreSQL a session takes the role of its job (`role=`: the loader by default, see postgres.py);
`initialise` declares the tables as the warehouse's owner and applies dbt's access policy.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from community_dw import paths
from community_dw.warehouse.base import (
    AUDIT_DDL,
    ENGINEER_ROLE,
    LOADER_ROLE,
    SCHEMAS,
    Warehouse,
    quote,
    raw_columns_ddl,
    relation_sql,
)
from community_dw.warehouse.duckdb import LOCK_TIMEOUT_ENV, DuckDBWarehouse

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from community_dw.contracts import Contract

__all__ = [
    "AUDIT_DDL",
    "BACKENDS",
    "ENGINEER_ROLE",
    "LOADER_ROLE",
    "LOCK_TIMEOUT_ENV",
    "SCHEMAS",
    "Warehouse",
    "connect",
    "connection",
    "declare_all_raw_tables",
    "ensure_tables",
    "initialise",
    "is_postgres",
    "quote",
    "raw_columns_ddl",
    "relation_sql",
    "warehouse_url",
]

URL_ENV = "CDW_WAREHOUSE_URL"


def _open_duckdb(url: str, role: str | None, read_only: bool) -> Warehouse:
    return DuckDBWarehouse.open(Path(url.split("://", 1)[1]), read_only)


def _open_postgres(url: str, role: str | None, read_only: bool) -> Warehouse:
    from community_dw.warehouse.postgres import PostgresWarehouse

    return PostgresWarehouse.open(url, role)


# URL scheme (without a `+driver` suffix) -> how to open a session on that warehouse.
BACKENDS: dict[str, Callable[[str, str | None, bool], Warehouse]] = {
    "duckdb": _open_duckdb,
    "postgresql": _open_postgres,
    "postgres": _open_postgres,
}


def warehouse_url() -> str:
    """CDW_WAREHOUSE_URL, else the embedded DuckDB file as a `duckdb:///` URL."""
    return os.environ.get(URL_ENV) or f"duckdb://{paths.warehouse_path()}"


def scheme(url: str) -> str:
    return url.split("://", 1)[0].split("+", 1)[0].lower()


def is_postgres(url: str | None = None) -> bool:
    return BACKENDS.get(scheme(url or warehouse_url())) is _open_postgres


def connect(
    target: Path | str | None = None, read_only: bool = False, role: str | None = LOADER_ROLE
) -> Warehouse:
    """A session on the warehouse: `target` a DuckDB file or a URL (default: `warehouse_url()`).

    `role` is the PostgreSQL role the session takes (ignored by DuckDB, which has none); None acts as
    the login itself (the owner declaring tables, a test's superuser).
    """
    if isinstance(target, Path):
        return DuckDBWarehouse.open(target, read_only)
    url = target or warehouse_url()
    try:
        opener = BACKENDS[scheme(url)]
    except KeyError:
        raise ValueError(
            f"{URL_ENV}={url!r}: no warehouse backend for scheme {scheme(url)!r} (known: {', '.join(BACKENDS)})"
        ) from None
    return opener(url, role, read_only)


@contextmanager
def connection(
    target: Path | str | None = None, read_only: bool = False, role: str | None = LOADER_ROLE
) -> Iterator[Warehouse]:
    """`connect` for a `with` block: committed when the block ends, rolled back if it raises."""
    con = connect(target, read_only, role)
    try:
        yield con
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.close()


def ensure_tables(con: Warehouse | Any, contract: Contract) -> None:
    """The schemas, audit and vault tables and the source's raw and quarantine tables exist.

    `con` is a session, or a plain DuckDB connection (tests building a warehouse file by hand).
    """
    (con if isinstance(con, Warehouse) else DuckDBWarehouse(con)).ensure_tables(contract)


def declare_all_raw_tables(target: Path | str | None = None) -> list[str]:
    """Create (if missing) the raw and quarantine tables of every contract, plus audit and vault."""
    from community_dw.contracts import load_contracts

    contracts = list(load_contracts().values())
    with connection(target) as con:
        for contract in contracts:
            con.ensure_tables(contract)
    return [c.raw_table for c in contracts]


def postgres_env(url: str, role: str | None = ENGINEER_ROLE) -> dict[str, str]:
    """The CDW_PG_* variables of dbt's `postgres` target (dbt_project/profiles.yml) for a warehouse URL."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return {
        "CDW_PG_HOST": query.get("host", [parts.hostname or "localhost"])[0],
        "CDW_PG_PORT": str(parts.port or int(query.get("port", ["5432"])[0])),
        "CDW_PG_USER": unquote(parts.username or "postgres"),
        "CDW_PG_PASSWORD": unquote(parts.password or ""),
        "CDW_PG_DBNAME": (parts.path or "/").lstrip("/") or "postgres",
        "CDW_PG_ROLE": role or "",
    }


def initialise(url: str | None = None) -> list[str]:
    """Declare every source's tables and, on PostgreSQL, apply the access policy; run as the owner.

    PostgreSQL: the login of `url` (the database's owner or a superuser, acting as itself) creates the
    schemas raw, audit and vault with their tables, then dbt's `cdw_apply_access_policy` (the access
    policy's roles, the loader schemas' grants, hidden catalog counts, CREATE on the database for
    the role dbt builds as) runs as the same login. Idempotent. DuckDB: the tables only.
    """
    from community_dw.contracts import load_contracts

    url = url or warehouse_url()
    if not is_postgres(url):
        return declare_all_raw_tables(url)
    from community_dw.dbt_runner import invoke

    with connection(url, role=None) as con:
        con.declare(load_contracts().values())  # type: ignore[attr-defined]
    invoke(
        ["run-operation", "cdw_apply_access_policy", "--target", "postgres"], env=postgres_env(url, role=None)
    )
    return [c.raw_table for c in load_contracts().values()]
