"""The demo on PostgreSQL: the warehouse declared by its owner, then people who log in as themselves.

`CDW_WAREHOUSE_URL=postgresql://<owner>@<host>:<port>/<database> make demo`: the URL's login (a
superuser or the database's owner) creates the database when missing, declares the warehouse and
applies dbt's access policy (`warehouse.initialise`), then creates the demo's LOGIN users, each a
member of one group role:

    cdw_demo_pipeline   cdw_loader + cdw_engineer  what the Airflow workers log in as: ingestion and
                                                   retention load as cdw_loader, dbt and the release
                                                   build as cdw_engineer (SET ROLE, one role per job)
    analyst_demo        cdw_analyst                reads marts and analyst only
    gw_wang             cdw_grid_worker            reads the care list of its communities (the seed
                                                   grid_worker_communities maps the login name)

Passwords are generated once into the demo's secrets folder beside its pseudonymization key
(`.airflow/secrets/warehouse-logins.json`, owner-only) and printed with a psql line for each. After the run, `audiences` asks PostgreSQL, as each person, what
they may read.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from urllib.parse import quote as quote_url
from urllib.parse import urlsplit, urlunsplit

from community_dw import paths, warehouse

LOGINS = {
    "cdw_demo_pipeline": ("cdw_loader", "cdw_engineer"),
    "analyst_demo": ("cdw_analyst",),
    "gw_wang": ("cdw_grid_worker",),
}
# What the summary asks each person for: one relation of every audience.
PROBES = (
    "marts.community_population_profile",
    "analyst.appeals_masked",
    "care.overdue_visits",
    "raw.population_registry",
    "audit.batch_ledger",
    "vault.identities",
)


@dataclass(frozen=True)
class PgDemo:
    owner_url: str
    urls: dict[str, str]  # login -> URL with its password

    @property
    def pipeline_url(self) -> str:
        return self.urls["cdw_demo_pipeline"]


def with_login(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{quote_url(user)}:{quote_url(password)}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def redacted(url: str) -> str:
    """The URL without its password, for printing."""
    parts = urlsplit(url)
    netloc = (f"{parts.username}@" if parts.username else "") + (parts.hostname or "")
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _passwords() -> dict[str, str]:
    path = paths.local_key_file().parent / "warehouse-logins.json"  # beside the demo's key, outside data/
    known = json.loads(path.read_text()) if path.exists() else {}
    if set(known) != set(LOGINS):
        known = {login: known.get(login) or secrets.token_urlsafe(12) for login in LOGINS}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(known, indent=2) + "\n")
    return known


def _create_database(url: str) -> None:
    import psycopg

    from community_dw.warehouse.postgres import conninfo

    name = (urlsplit(url).path or "/").lstrip("/")
    maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(conninfo(maintenance), autocommit=True) as con:
        if not con.execute("select 1 from pg_database where datname = %s", [name]).fetchone():
            con.execute(f'create database "{name}"')


def prepare(owner_url: str) -> PgDemo:
    """Database, tables, roles and grants as the owner; the demo's LOGIN users with their passwords."""
    _create_database(owner_url)
    warehouse.initialise(owner_url)
    passwords = _passwords()
    with warehouse.connection(owner_url, role=None) as con:
        for login, groups in LOGINS.items():
            if not con.scalar("select count(*) from pg_roles where rolname = ?", [login]):
                con.execute(f"create role {login} login")
            con.execute(f"alter role {login} login password '{passwords[login]}'")
            for group in groups:
                con.execute(f"grant {group} to {login}")
    return PgDemo(owner_url, {login: with_login(owner_url, login, passwords[login]) for login in LOGINS})


def audiences(demo: PgDemo) -> dict[str, dict[str, int | None]]:
    """login -> relation -> rows it sees (None: permission denied), asked as that person."""
    import psycopg

    from community_dw.warehouse.postgres import conninfo

    seen: dict[str, dict[str, int | None]] = {}
    for login in ("analyst_demo", "gw_wang"):
        seen[login] = {}
        with psycopg.connect(conninfo(demo.urls[login]), autocommit=True) as con:
            for relation in PROBES:
                try:
                    seen[login][relation] = con.execute(f"select count(*) from {relation}").fetchone()[0]
                except psycopg.errors.InsufficientPrivilege:
                    seen[login][relation] = None
    return seen


def use_postgres(say=print) -> PgDemo | None:
    """With a PostgreSQL CDW_WAREHOUSE_URL (the owner's login): declare it, make the demo's logins, and
    point this process at the pipeline's login, as the Airflow workers are (the demo's
    and `make airflow-distributed`'s components); else None."""
    if not warehouse.is_postgres():
        return None
    demo = prepare(warehouse.warehouse_url())
    os.environ["CDW_WAREHOUSE_URL"] = demo.pipeline_url
    say(f"PostgreSQL warehouse {redacted(demo.owner_url)}: declared, access policy applied;")
    say("  the pipeline logs in as cdw_demo_pipeline (loads as cdw_loader, builds as cdw_engineer)")
    return demo
