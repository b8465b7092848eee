"""The care street (support.cities) loaded, built and released on DuckDB and on PostgreSQL, once per run.

Its raw tables are loaded as the loader would (support.raw, plus a ledger row and a vault identity),
the analyst-facing candidates, the care list and everything upstream of them are built with `dbt build`
(support.dbt) on a project copy with the street's seeds, and the release step publishes `marts` and
`analyst` with k lowered to 5, so that the street has small cells. On PostgreSQL, LOGIN users (an
analyst, two grid workers) are members of the group roles dbt created. The tests compute their
expectations in Python (support.cities), independently of the SQL and of the release step.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from support.cities import AS_OF, CARE_STREET_POLICY, CARE_STREET_SEEDS, care_street, pid
from support.dbt import project_copy, release, run_dbt
from support.raw import load_raw

POLICY = CARE_STREET_POLICY
# What the build covers: every analyst-facing candidate and the care list, and everything upstream.
SELECTION = [
    "--select",
    "+path:models/marts",
    "+path:models/analyst",
    "+path:models/care",
    "--indirect-selection",
    "cautious",
]
Query = Callable[[str], list[tuple]]


def load_care_street(conn) -> None:
    """The raw tables with the street, a ledger row and one vault identity, as the loader leaves them."""
    load_raw(conn, care_street().rows())
    cur = conn.cursor()
    cur.execute(
        "insert into audit.batch_ledger (source, batch_id, status, received_rows, loaded_rows, recorded_at)"
        f" values ('population_registry', 'population_registry/{AS_OF}', 'loaded', 600, 600, '2026-11-25')"
    )
    cur.execute(
        "insert into vault.identities values"
        f" ('resident', '{pid('resident:0-0')}', '110105194111250012', 'b', '2026-11-25')"
    )
    conn.commit()


@pytest.fixture(scope="session")
def care_project(tmp_path_factory) -> Path:
    """The dbt project copied with the street's seeds (geography and grid-worker mapping)."""
    return project_copy(tmp_path_factory.mktemp("dbt_privacy") / "dbt_project", CARE_STREET_SEEDS)


def build(project: Path, env: dict[str, str], target: str, *args: str) -> None:
    run_dbt(project, env, *args, "--target", target, dbt_vars={"disclosure_policy": POLICY})


@pytest.fixture(scope="session")
def duckdb_path(care_project, tmp_path_factory) -> Path:
    import duckdb

    from community_dw.disclosure.backends import DuckDBBackend

    path = tmp_path_factory.mktemp("duckdb_privacy") / "community.duckdb"
    with duckdb.connect(str(path)) as conn:
        load_care_street(conn)
    build(care_project, {"CDW_WAREHOUSE_PATH": str(path)}, "duckdb", "build", *SELECTION)
    with duckdb.connect(str(path)) as conn:
        release(DuckDBBackend(conn), care_project, POLICY)
    return path


@pytest.fixture(scope="session")
def duckdb_warehouse(duckdb_path) -> Query:
    import duckdb

    def query(sql: str) -> list[tuple]:
        # Not read-only: in-process dbt still holds the file, and DuckDB refuses a second configuration.
        with duckdb.connect(str(duckdb_path)) as conn:
            return conn.execute(sql).fetchall()

    return query


LOGINS = {"analyst_alice": "cdw_analyst", "gw_wang": "cdw_grid_worker", "gw_nobody": "cdw_grid_worker"}


@dataclass(frozen=True)
class PgWarehouse:
    db: Any  # support.pg.PgParams of the test database (superuser)
    passwords: dict[str, str]
    project: Path

    def query(self, sql: str) -> list[tuple]:
        return self.db.query(sql)

    def login(self, user: str):
        """A connection as one of the test's LOGIN users."""
        return replace(self.db, user=user, password=self.passwords[user]).connect()


@pytest.fixture(scope="session")
def pg_warehouse(care_project) -> Iterator[PgWarehouse]:
    from support.pg import drop_database, fresh_database, postgres_server

    server = postgres_server()
    db = fresh_database(server, "cdw_privacy")
    passwords = {user: secrets.token_hex(8) for user in LOGINS}
    try:
        from community_dw.disclosure.backends import PostgresBackend

        conn = db.connect()
        try:
            load_care_street(conn)
        finally:
            conn.close()
        build(care_project, db.dbt_env(), "postgres", "build", *SELECTION)
        conn = db.connect()
        try:
            release(PostgresBackend(conn), care_project, POLICY)
        finally:
            conn.close()
        # People: LOGIN roles that are members of the group roles dbt created (cluster-wide objects).
        conn = db.connect()
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for user, group in LOGINS.items():
                    cur.execute(
                        f"do $$ begin if not exists (select from pg_roles where rolname = '{user}') then"
                        f" create role {user} login; end if; end $$"
                    )
                    cur.execute(f"alter role {user} login password '{passwords[user]}'")
                    cur.execute(f"grant {group} to {user}")
        finally:
            conn.close()
        yield PgWarehouse(db, passwords, care_project)
    finally:
        drop_database(db)
        conn = server.connect()
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for user in LOGINS:
                    cur.execute(f"drop role if exists {user}")
        finally:
            conn.close()


@pytest.fixture(scope="session", params=["duckdb", "postgres"])
def warehouse_query(request) -> Query:
    if request.param == "duckdb":
        return request.getfixturevalue("duckdb_warehouse")
    return request.getfixturevalue("pg_warehouse").query
