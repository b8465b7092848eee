"""The demo city, ingested once per session, released on DuckDB and PostgreSQL, read as an analyst.

What an attack may use is `Release.tables`: every relation the analyst role can read, loaded into
pandas (DuckDB: every table of the published analyst file; PostgreSQL: every relation a LOGIN member of
`cdw_analyst` may select, discovered through the catalog, not listed here). `Release.truth` is the
engineer's side (the DuckDB warehouse), used only to score what an attack recovered.

The city is the demo's: 50,000 residents over 2 days (seed 20261125), ingested in-process through
`community_dw.ingest` (land -> validate -> load), all files of the population register, civil
affairs, health and appeals. Telecom is a subset of the 48 hourly parts (TELECOM_HOURS, about 5 s
each) to keep the suite within its budget; GX Data Docs rendering is skipped (not part of the release).
PostgreSQL gets the same raw tables, copied from the DuckDB warehouse, and its own dbt build.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from release import build_release

from support import environment
from support.airflow import Faults, appeals_api_server
from support.cities import DEMO_CITY, generate
from support.raw import create_raw_tables

DEMO_START = DEMO_CITY.start_date
DEMO_DAYS = DEMO_CITY.days
# Telecom hours ingested (of the 48 generated): consecutive hours of the last day, so that
# "this hour - last hour = inflow - outflow" has both sides, including the generator's crowd spike.
TELECOM_HOURS = [dt.datetime(2026, 11, 26, h) for h in range(17, 22)]
DAILY_SOURCES = ("population_registry", "civil_affairs_assistance", "health_services")
ANALYST_LOGIN = f"attack_analyst_{secrets.token_hex(3)}"

TIMINGS: dict[str, float] = {}


@contextlib.contextmanager
def timed(step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        TIMINGS[step] = time.perf_counter() - started
        print(f"[attacks] {step}: {TIMINGS[step]:.1f} s", file=sys.__stderr__)


@dataclass
class CityFiles:
    root: Path
    env: dict[str, str]

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    @property
    def warehouse(self) -> Path:
        return Path(self.env["CDW_WAREHOUSE_PATH"])


@pytest.fixture(scope="session")
def city_files(tmp_path_factory) -> CityFiles:
    """The demo city generated and ingested into its own DuckDB warehouse (not the session's shared one)."""
    root = tmp_path_factory.mktemp("attack_city")
    env = {
        "CDW_SOURCES_DIR": str(root / "sources"),
        "CDW_LANDING_DIR": str(root / "landing"),
        "CDW_WORK_DIR": str(root / "work"),
        "CDW_WAREHOUSE_PATH": str(root / "warehouse" / "community.duckdb"),
        "CDW_ATTACK_DBT_TARGET": str(root / "dbt_target_duckdb"),
        "CDW_DBT_TARGET": "duckdb",
    }
    (root / "warehouse").mkdir()
    with environment(**env):
        _generate_and_ingest()
    return CityFiles(root, env)


def _generate_and_ingest() -> None:
    from community_dw import data_docs, ingest, warehouse

    with timed("generate demo city (50,000 residents, 2 days)"):
        generate(DEMO_CITY)
    warehouse.declare_all_raw_tables()

    def one(source: str, start: dt.datetime, end: dt.datetime) -> None:
        from community_dw.errors import BatchRejected

        # A rejected batch is part of the demo (batch defects): the ledger holds it, the build goes on.
        with contextlib.suppress(BatchRejected):
            ingest.ingest_interval(source, start, end)

    original_publish = data_docs.publish
    data_docs.publish = lambda *args, **kwargs: None  # Data Docs rendering is not part of the release
    try:
        with timed("ingest daily files (register, civil affairs, health)"):
            for offset in range(DEMO_DAYS):
                day = dt.datetime.combine(DEMO_START + dt.timedelta(days=offset), dt.time())
                for source in DAILY_SOURCES:
                    one(source, day, day + dt.timedelta(days=1))
        with timed(f"ingest telecom ({len(TELECOM_HOURS)} hourly parts)"):
            for hour in TELECOM_HOURS:
                one("telecom_stays", hour, hour + dt.timedelta(hours=1))
        with timed("ingest appeals (API, whole window)"), appeals_api_server(Faults.none()):
            start = dt.datetime.combine(DEMO_START, dt.time())
            one("appeals", start, start + dt.timedelta(days=DEMO_DAYS))
    finally:
        data_docs.publish = original_publish


# --- the release as the analyst reads it ----------------------------------------------------------------


@dataclass
class Release:
    engine: str
    tables: dict[str, Any]  # "schema.relation" -> pandas.DataFrame: everything the analyst can read
    truth_path: Path  # the engineer's DuckDB warehouse (scoring only)
    manifest: dict[str, Any]
    sources: Path  # generated source files (scoring only)
    pg: Any = None  # PgParams of the database (superuser), PostgreSQL only
    analyst_login: tuple[str, str] | None = None  # (user, password), PostgreSQL only
    notes: list[str] = field(default_factory=list)

    def truth(self, sql: str):
        """Engineer-side query on the DuckDB warehouse: ground truth, never attacker input."""
        import duckdb

        with duckdb.connect(str(self.truth_path)) as conn:
            return conn.execute(sql).df()

    def query(self, sql: str) -> list[tuple]:
        """As the PostgreSQL superuser (engineer side): catalog look-ups that set up or score attacks."""
        return self.pg.query(sql)

    def analyst_connection(self):
        user, password = self.analyst_login
        return replace(self.pg, user=user, password=password).connect()


def _read_duckdb_file(path: Path) -> dict[str, Any]:
    import duckdb

    with duckdb.connect() as conn:
        conn.execute(f"attach '{path}' as published (read_only)")
        names = conn.execute(
            "select table_schema, table_name from information_schema.tables where table_catalog = 'published'"
        ).fetchall()
        return {f"{s}.{t}": conn.execute(f'select * from published."{s}"."{t}"').df() for s, t in names}


@pytest.fixture(scope="session")
def duckdb_release(city_files: CityFiles) -> Release:
    with environment(**city_files.env), timed("build_release('duckdb')"):
        analyst_file = build_release("duckdb")
    manifest = json.loads((Path(city_files.env["CDW_ATTACK_DBT_TARGET"]) / "manifest.json").read_text())
    return Release(
        "duckdb", _read_duckdb_file(analyst_file), city_files.warehouse, manifest, city_files.sources
    )


def _copy_raw_to_postgres(city_files: CityFiles, db) -> None:
    """As the loader would on PostgreSQL: schemas raw/audit/vault, audit tables, raw tables, same rows."""
    import duckdb

    from community_dw.contracts import load_contracts

    conn = db.connect()
    try:
        create_raw_tables(conn)
        cur = conn.cursor()
        tables = ["audit.batch_ledger"] + [contract.raw_table for contract in load_contracts().values()]
        with duckdb.connect(str(city_files.warehouse)) as source:
            for table in tables:
                columns = [r[0] for r in source.execute(f"describe {table}").fetchall()]
                csv = city_files.root / f"{table}.csv"
                source.execute(f"copy (select {', '.join(columns)} from {table}) to '{csv}' (header false)")
                with open(csv, encoding="utf-8") as handle:
                    cur.copy_expert(
                        f"copy {table} ({', '.join(columns)}) from stdin with (format csv)", handle
                    )
                csv.unlink()
        conn.commit()
        cur.execute("analyze")  # as autovacuum would after a load: the planner needs statistics
        conn.commit()
    finally:
        conn.close()


@pytest.fixture(scope="session")
def pg_release(city_files: CityFiles, duckdb_release: Release) -> Iterator[Release]:
    from support.pg import drop_database, fresh_database, postgres_server

    server = postgres_server()
    db = fresh_database(server, "cdw_attacks")
    password = secrets.token_hex(8)
    target = city_files.root / "dbt_target_postgres"
    try:
        with timed("copy raw tables to PostgreSQL"):
            _copy_raw_to_postgres(city_files, db)
        env = {**db.dbt_env(), "CDW_DBT_TARGET": "postgres", "CDW_ATTACK_DBT_TARGET": str(target)}
        with environment(**env), timed("build_release('postgres')"):
            build_release("postgres")
        conn = db.connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"create role {ANALYST_LOGIN} login password '{password}'")
            cur.execute(f"grant cdw_analyst to {ANALYST_LOGIN}")
            cur.execute("analyze")  # as autovacuum would: planner statistics exist for every table
        conn.close()
        release = Release(
            "postgres",
            {},
            city_files.warehouse,
            json.loads((target / "manifest.json").read_text()),
            city_files.sources,
            pg=db,
            analyst_login=(ANALYST_LOGIN, password),
        )
        release.tables = _read_postgres_as_analyst(release)
        yield release
    finally:
        drop_database(db)
        conn = server.connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"drop role if exists {ANALYST_LOGIN}")
        conn.close()


def readable_relations(conn) -> list[tuple[str, str]]:
    """Every relation outside the system catalogs that the connection's user may select from."""
    with conn.cursor() as cur:
        cur.execute(
            "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where c.relkind in ('r', 'v', 'm', 'p', 'f')"
            " and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'"
            " and has_schema_privilege(n.oid, 'USAGE')"
            " and (has_table_privilege(c.oid, 'SELECT')"
            "      or has_any_column_privilege(c.oid, 'SELECT'))"
            " order by 1, 2"
        )
        return cur.fetchall()


def _read_postgres_as_analyst(release: Release) -> dict[str, Any]:
    import pandas as pd

    conn = release.analyst_connection()
    try:
        out = {}
        for schema, name in readable_relations(conn):
            with conn.cursor() as cur:
                cur.execute(f'select * from "{schema}"."{name}"')
                columns = [d[0] for d in cur.description]
                out[f"{schema}.{name}"] = pd.DataFrame(cur.fetchall(), columns=columns)
        return out
    finally:
        conn.close()


@pytest.fixture(scope="session", params=["duckdb", "postgres"])
def release(request) -> Release:
    return request.getfixturevalue(f"{'pg' if request.param == 'postgres' else 'duckdb'}_release")


FIGURES: list[str] = []


@pytest.fixture(scope="session")
def figures() -> list[str]:
    """Lines each attack prints; repeated in the terminal summary so the numbers can be quoted."""
    return FIGURES


def pytest_terminal_summary(terminalreporter) -> None:
    if not FIGURES and not TIMINGS:
        return
    terminalreporter.section("attack figures")
    for step, seconds in TIMINGS.items():
        terminalreporter.write_line(f"[fixture] {step}: {seconds:.1f} s")
    for line in FIGURES:
        terminalreporter.write_line(line)
