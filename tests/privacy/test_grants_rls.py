"""PostgreSQL grants, row-level security and catalog counts: each audience reads its schemas only (LOGIN
users and SET ROLE), a grid worker only the care list of its own communities, and nobody counts rows
through the catalog of relations they cannot read. The care street's build is in conftest.py."""

from __future__ import annotations

import pytest

from support.cities import CARE_STREET_POLICY, GW_COMMUNITY, care_street, expected_overdue
from support.dbt import run_dbt

pytestmark = pytest.mark.slow

CITY = care_street()


DENIED_TO_ANALYST = [
    "candidate_marts.community_population_profile",
    "candidate_analyst.appeals_masked",
    "audit.release_audits",
    "raw.population_registry",
    "vault.identities",
    "care.overdue_visits",
    "staging.stg_population_registry",
    "intermediate.int_population_profile_counts",
    "audit.batch_ledger",
    "access.grid_worker_communities",
]
ALLOWED_TO_ANALYST = [
    "marts.community_population_profile",
    "marts.appeals_performance",
    "analyst.appeals_masked",
]


def _can_select(conn, relation: str) -> bool:
    """True when the connection may select from the relation; False on permission denied."""
    import psycopg2

    with conn.cursor() as cur:
        try:
            cur.execute(f"select count(*) from {relation}")
            cur.fetchall()
        except psycopg2.errors.InsufficientPrivilege:
            conn.rollback()
            return False
    conn.rollback()
    return True


def _as_role(pg, role: str):
    conn = pg.db.connect()
    with conn.cursor() as cur:
        cur.execute(f"set role {role}")
    conn.commit()
    return conn


@pytest.mark.parametrize("how", ["login", "set_role"])
def test_pg_analyst_reads_only_marts_and_analyst(pg_warehouse, how: str) -> None:
    conn = pg_warehouse.login("analyst_alice") if how == "login" else _as_role(pg_warehouse, "cdw_analyst")
    try:
        readable = {r: _can_select(conn, r) for r in DENIED_TO_ANALYST + ALLOWED_TO_ANALYST}
    finally:
        conn.close()
    assert readable == {r: r in ALLOWED_TO_ANALYST for r in readable}


def test_pg_grid_worker_sees_only_own_communities(pg_warehouse) -> None:
    expected = {p for p, row in expected_overdue(CITY).items() if row[0] == GW_COMMUNITY}
    conn = pg_warehouse.login("gw_wang")
    try:
        with conn.cursor() as cur:
            cur.execute("select resident_pid, community_code from care.overdue_visits")
            rows = cur.fetchall()
            cur.execute("select community_code from care.grid_worker_scope")
            scope = cur.fetchall()
        conn.rollback()
        denied = [r for r in DENIED_TO_ANALYST + ALLOWED_TO_ANALYST if not r.startswith("care.")]
        readable = {r: _can_select(conn, r) for r in denied}
    finally:
        conn.close()
    assert expected and {r[0] for r in rows} == expected
    assert {r[1] for r in rows} == {GW_COMMUNITY}
    assert scope == [(GW_COMMUNITY,)]
    assert readable == dict.fromkeys(denied, False), "a grid worker reads care only"

    conn = pg_warehouse.login("gw_nobody")
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*) from care.overdue_visits")
            assert cur.fetchone()[0] == 0, "a grid worker with no mapped community sees nothing"
    finally:
        conn.close()
    # The owner (the role running dbt) is not subject to the policy: the whole list is there.
    assert pg_warehouse.query("select count(*) from care.overdue_visits")[0][0] == len(expected_overdue(CITY))


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("cdw_auditor", {"audit.batch_ledger", "audit.release_audits", "access.grid_worker_communities"}),
        ("cdw_steward", {"vault.identities"}),
        (
            "cdw_engineer",
            {
                "raw.population_registry",
                "staging.stg_population_registry",
                "intermediate.int_population_profile_counts",
                "audit.batch_ledger",
                "audit.release_audits",
                "access.grid_worker_communities",
                "candidate_marts.community_population_profile",
                "candidate_analyst.appeals_masked",
                "marts.community_population_profile",
                "marts.appeals_performance",
                "analyst.appeals_masked",
            },
        ),
    ],
)
def test_pg_other_roles_read_only_their_schemas(pg_warehouse, role: str, allowed: set) -> None:
    relations = DENIED_TO_ANALYST + ALLOWED_TO_ANALYST
    conn = _as_role(pg_warehouse, role)
    try:
        readable = {r: _can_select(conn, r) for r in relations}
    finally:
        conn.close()
    assert readable == {r: r in allowed for r in relations}


def test_pg_roles_rls_and_hooks_are_idempotent(pg_warehouse) -> None:
    policy_roles = [
        "cdw_loader",
        "cdw_engineer",
        "cdw_analyst",
        "cdw_grid_worker",
        "cdw_auditor",
        "cdw_steward",
        "cdw_access_audit",
    ]
    # Roles are the server's, not the database's: on a shared server other logins (a demo's
    # cdw_demo_pipeline) may exist beside them, so the policy's own roles are asked for by name.
    listed = ", ".join(f"'{role}'" for role in policy_roles)
    roles = pg_warehouse.query(f"select rolname, rolcanlogin from pg_roles where rolname in ({listed})")
    assert dict(roles) == dict.fromkeys(policy_roles, False)  # all there, none can log in
    # ... and no group role (one that cannot log in) beyond the policy's.
    groups = pg_warehouse.query(
        "select rolname from pg_roles where rolname like 'cdw\\_%' and not rolcanlogin"
    )
    assert sorted(name for (name,) in groups) == sorted(policy_roles)
    # A second run re-applies roles, schema privileges, grants and policies without error.
    run_dbt(
        pg_warehouse.project,
        pg_warehouse.db.dbt_env(),
        "run",
        "--target",
        "postgres",
        "--select",
        "overdue_visits",
        "grid_worker_scope",
        dbt_vars={"disclosure_policy": CARE_STREET_POLICY},
    )
    policies = pg_warehouse.query(
        "select c.relrowsecurity, count(p.polname) from pg_class as c"
        " join pg_namespace as n on n.oid = c.relnamespace left join pg_policy as p on p.polrelid = c.oid"
        " where n.nspname = 'care' and c.relname = 'overdue_visits' group by c.relrowsecurity"
    )
    assert policies == [(True, 1)]
    barrier = pg_warehouse.query(
        "select c.reloptions from pg_class as c join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname = 'care' and c.relname = 'grid_worker_scope'"
    )
    assert barrier == [(["security_barrier=true"],)]
    conn = pg_warehouse.login("gw_wang")
    try:
        with conn.cursor() as cur:
            cur.execute("select distinct community_code from care.overdue_visits")
            assert cur.fetchall() == [(GW_COMMUNITY,)]
    finally:
        conn.close()


@pytest.mark.parametrize("how", ["login", "set_role"])
def test_pg_analyst_cannot_count_what_it_cannot_read(pg_warehouse, how: str) -> None:
    """The catalog's row counts (planner estimates, statistics collector) are counts too."""
    owner = pg_warehouse.db.connect()
    owner.autocommit = True
    with owner.cursor() as cur:
        cur.execute("analyze raw.population_registry")
    owner.close()
    attempts = {
        "reltuples": "select reltuples from pg_class where oid = 'raw.population_registry'::regclass",
        "relpages": "select relpages from pg_class where oid = 'raw.population_registry'::regclass",
        "pg_stat_user_tables": "select n_live_tup from pg_stat_user_tables",
        "pg_stat_all_tables": "select n_live_tup from pg_stat_all_tables",
        "function": "select pg_stat_get_live_tuples('raw.population_registry'::regclass)",
    }
    conn = pg_warehouse.login("analyst_alice") if how == "login" else _as_role(pg_warehouse, "cdw_analyst")
    denied = {}
    try:
        for label, sql in attempts.items():
            with conn.cursor() as cur:
                try:
                    cur.execute(sql)
                    cur.fetchall()
                    denied[label] = False
                except Exception as exc:  # permission denied: the only acceptable outcome
                    assert "permission denied" in str(exc), exc
                    denied[label] = True
            conn.rollback()
        with conn.cursor() as cur:  # names and kinds stay visible: clients keep working
            cur.execute("select count(*) from pg_class where relname = 'community_population_profile'")
            assert cur.fetchone()[0] >= 1
    finally:
        conn.close()
    assert denied == dict.fromkeys(attempts, True)
    engineer = _as_role(pg_warehouse, "cdw_engineer")
    try:
        with engineer.cursor() as cur:
            cur.execute(attempts["reltuples"])
            assert cur.fetchone()[0] == len(CITY.register)
    finally:
        engineer.close()
