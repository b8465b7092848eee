"""Ingestion into the PostgreSQL warehouse (CDW_WAREHOUSE_URL), logged in as a member of cdw_loader only.

A fresh database per module: `warehouse.initialise` declares the tables and applies dbt's access policy
as the server's superuser, then a LOGIN that is a member of `cdw_loader` and nothing else loads real
batches through `ingest.ingest_interval` (binary COPY, the vault by `on conflict do nothing`). The
ledger must balance against what is in raw, a rerun must replace and never duplicate, and the loader
must be unable to read the vault or anything analyst-facing.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import replace

import pytest

from community_dw import ingest, warehouse
from community_dw_tools.demo import DemoProfile

from support import own_data_folders
from support.cities import generate

pytestmark = pytest.mark.e2e

DAY = dt.date(2026, 11, 25)
SOURCES = ("population_registry",)
CITY = DemoProfile(residents=600, days=1, seed=11, defect_rate=0.02)


def _url(params, user: str, password: str) -> str:
    if params.host.startswith("/"):
        return f"postgresql://{user}:{password}@/{params.dbname}?host={params.host}&port={params.port}"
    return f"postgresql://{user}:{password}@{params.host}:{params.port}/{params.dbname}"


def _ingest_day(source: str) -> dict:
    start = dt.datetime(DAY.year, DAY.month, DAY.day)
    return ingest.ingest_interval(source, start, start + dt.timedelta(days=1), run_id="pg-test")


@pytest.fixture(scope="module")
def pg(tmp_path_factory, dbt_manifest):
    """(owner connection parameters, loader login parameters, first load summaries) of a fresh database."""
    from support.pg import drop_database, fresh_database, postgres_server

    server = postgres_server()
    db = fresh_database(server, "cdw_pgload")
    login = f"cdw_test_loader_{secrets.token_hex(3)}"
    password = secrets.token_hex(8)
    try:
        with pytest.MonkeyPatch.context() as env:
            own_data_folders(env, tmp_path_factory.mktemp("pg_warehouse"))
            generate(CITY)
            warehouse.initialise(_url(db, db.user, db.password))
            db.execute_autocommit(f"create role {login} login password '{password}' in role cdw_loader")
            loader = replace(db, user=login, password=password)
            env.setenv("CDW_WAREHOUSE_URL", _url(db, login, password))
            first = {source: _ingest_day(source) for source in SOURCES}
            yield db, loader, first, env
    finally:
        drop_database(db)
        server.execute_autocommit(f"drop role if exists {login}")


def test_ledger_balances_against_raw(pg):
    db, _, first, _ = pg
    for source, summary in first.items():
        ledger = db.query(
            "select received_rows, loaded_rows, quarantined_rows from audit.batch_ledger"
            f" where batch_id = '{summary['batch_id']}' and status = 'loaded'"
        )
        in_raw = db.query(f"select count(*) from raw.{source} where _batch_id = '{summary['batch_id']}'")[0][
            0
        ]
        held = db.query(
            f"select count(*) from raw.{source}_quarantine where _batch_id = '{summary['batch_id']}'"
        )[0][0]
        assert ledger == [(summary["received"], in_raw, held)], source
        assert in_raw + held == summary["received"] and held > 0, f"{source}: the city's defects are held"
    identities = db.query("select count(*), count(distinct (domain, pseudonym)) from vault.identities")[0]
    assert identities[0] > 0 and identities[0] == identities[1]


def test_rerun_replaces_without_duplicates(pg):
    db, _, first, _ = pg
    before = db.query("select count(*), min(first_batch_id) from vault.identities")[0]
    again = _ingest_day("population_registry")
    assert {k: again[k] for k in ("received", "loaded", "quarantined")} == {
        k: first["population_registry"][k] for k in ("received", "loaded", "quarantined")
    }
    rows = db.query("select count(*), count(distinct _source_row) from raw.population_registry")[0]
    assert rows == (again["loaded"], again["loaded"])
    assert db.query(
        "select count(*) from audit.batch_ledger where source = 'population_registry' and status = 'loaded'"
    ) == [(1,)]
    assert db.query("select count(*), min(first_batch_id) from vault.identities")[0] == before


def test_the_loader_cannot_read_the_vault_or_analyst_relations(pg):
    import psycopg2

    db, loader, _, _ = pg
    # An analyst-facing relation as the release would publish it (SELECT for the roles using `marts`).
    db.execute_autocommit("create table if not exists marts.release_probe as select 1 as cell")
    db.execute_autocommit("grant select on marts.release_probe to cdw_analyst")
    conn = loader.connect()
    denied = {}
    try:
        for relation in ("vault.identities", "marts.release_probe"):
            with conn.cursor() as cur:
                try:
                    cur.execute(f"select count(*) from {relation}")
                    denied[relation] = False
                except psycopg2.errors.InsufficientPrivilege:
                    denied[relation] = True
            conn.rollback()
        with conn.cursor() as cur:  # what it needs: count raw and the ledger
            cur.execute("select count(*) from raw.population_registry")
            assert cur.fetchone()[0] > 0
        conn.rollback()
    finally:
        conn.close()
    assert denied == {"vault.identities": True, "marts.release_probe": True}
