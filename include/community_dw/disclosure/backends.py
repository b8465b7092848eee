"""The warehouse as the release step sees it: the backends of `community_dw.warehouse`, opened as dbt builds.

DuckDB: the embedded warehouse file; the published schemas live in it and are copied into the analyst
file. PostgreSQL: the warehouse of CDW_WAREHOUSE_URL, in a session under the role dbt builds as
(`cdw_engineer`, CDW_PG_ROLE), or the dbt profile's CDW_PG_* login when no URL names it; DDL is
transactional there, so a release replaces every analyst relation in one transaction and an analyst
reading during a build sees the previous release until it commits (or keeps it, if the audit fails).
Decisions are staged as integer/boolean tables only, so no value's type crosses engines.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from community_dw import dbt_runner, warehouse
from community_dw.warehouse.base import quote, relation_sql
from community_dw.warehouse.duckdb import DuckDBWarehouse as DuckDBBackend
from community_dw.warehouse.postgres import PostgresWarehouse as PostgresBackend

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["DuckDBBackend", "PostgresBackend", "open_backend", "postgres_connection", "quote", "relation_sql"]


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
def open_backend(target: str | None = None) -> Iterator[warehouse.Warehouse]:
    """The warehouse of the dbt target in use: postgres when CDW_WAREHOUSE_URL names PostgreSQL, else
    CDW_DBT_TARGET (duckdb by default)."""
    target = target or dbt_runner.dbt_target()
    if target == "postgres" and not warehouse.is_postgres():
        backend = PostgresBackend(postgres_connection())
        try:
            yield backend
        finally:
            backend.close()
        return
    role = os.environ.get("CDW_PG_ROLE", warehouse.ENGINEER_ROLE) or None
    with warehouse.connection(role=role) as backend:
        yield backend
