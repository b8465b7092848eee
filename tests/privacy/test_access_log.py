"""The access log on a private PostgreSQL 15 with pgaudit (support.pgaudit_cluster): the care street built
there by dbt, people reading as LOGIN users of the policy's group roles, pgaudit's csvlog collected
into audit.access_log by community_dw.audit_view.access_log, and shown by the auditor's figures.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest

from community_dw.audit_view import access_log, figures
from community_dw.audit_view.store import AuditStore

from support.cities import CARE_STREET_POLICY, COMMUNITIES, care_street, expected_overdue
from support.dbt import run_dbt
from support.pgaudit_cluster import pgaudit_cluster
from support.raw import load_raw

pytestmark = pytest.mark.slow

GW_LI_COMMUNITY = COMMUNITIES[1]  # gw_li's community in the street's grid-worker mapping (seed)
PEOPLE = {"gw_li": "cdw_grid_worker", "eng_zhao": "cdw_engineer", "analyst_qian": "cdw_analyst"}
# The care list, the analysts' profile mart and what they need, without dbt's tests (they are elsewhere).
SELECTION = [
    "--select",
    "+overdue_visits",
    "+community_population_profile",
    "--exclude",
    "resource_type:test",
]


@dataclass(frozen=True)
class Audited:
    db: Any  # support.pg.PgParams (superuser, the owner of what dbt built)
    log_dir: Any
    passwords: dict[str, str]

    def read_as(self, user: str, sql: str) -> list[tuple]:
        return replace(self.db, user=user, password=self.passwords[user]).query(sql)

    def collect(self) -> access_log.Collection:
        conn = self.db.connect()
        try:
            return access_log.collect(conn, self.log_dir)
        finally:
            conn.close()

    def access_log(self) -> list[tuple]:
        return self.db.query(
            "select reader, reader_groups, relation, command, rows_read from audit.access_log"
            " order by read_at, relation"
        )


@pytest.fixture(scope="module")
def audited(care_project) -> Iterator[Audited]:
    with pgaudit_cluster() as cluster:
        db = cluster.params
        conn = db.connect()
        try:
            load_raw(conn, care_street().rows())
        finally:
            conn.close()
        run_dbt(
            care_project,
            db.dbt_env(),
            "build",
            "--target",
            "postgres",
            *SELECTION,
            dbt_vars={"disclosure_policy": CARE_STREET_POLICY},
        )
        passwords = {user: secrets.token_hex(8) for user in PEOPLE}
        for user, group in PEOPLE.items():
            db.execute_autocommit(f"create role {user} login password '{passwords[user]}' in role {group}")
        # The candidate profile stands in for the published mart the analyst reads (the release step
        # copies it to `marts`; what matters here is only that `marts` is not person-level).
        db.execute_autocommit(
            "create table marts.community_population_profile as"
            " select * from candidate_marts.community_population_profile"
        )
        db.execute_autocommit("grant select on marts.community_population_profile to cdw_analyst")
        audited = Audited(db, cluster.log_dir, passwords)
        audited.collect()  # what dbt's build read (a service: counted, not listed) is behind us
        yield audited


def test_a_grid_workers_read_of_the_care_list_is_logged_once_with_its_row_count(audited):
    expected = {p for p, row in expected_overdue(care_street()).items() if row[0] == GW_LI_COMMUNITY}
    rows = audited.read_as("gw_li", "select resident_pid, community_code from care.overdue_visits")
    assert expected and {r[0] for r in rows} == expected, "row-level security: their communities only"
    before = audited.access_log()

    first = audited.collect()
    added = audited.access_log()[len(before) :]
    assert added == [("gw_li", "cdw_grid_worker", "care.overdue_visits", "SELECT", len(rows))]
    assert first.reads_added == 1

    second = audited.collect()
    assert second.reads_added == 0 and audited.access_log()[len(before) :] == added, "a rerun adds nothing"
    [(offsets_reset,)] = audited.db.query("select count(*) from audit.access_log_files")
    audited.db.execute_autocommit("update audit.access_log_files set byte_offset = 0")  # offsets lost
    assert audited.collect().reads_added == 0 and offsets_reset >= 1, "nor does a collection from the start"


def test_an_engineers_read_of_raw_is_logged_and_an_analysts_read_of_marts_is_not(audited):
    before = audited.access_log()
    [(registered,)] = audited.read_as("eng_zhao", "select count(*) from raw.population_registry")
    profile = audited.read_as("analyst_qian", "select * from marts.community_population_profile")
    assert registered == len(care_street().register) and profile
    audited.collect()
    # count(*) returns one row: the rows a statement returns are what pgaudit counts.
    assert audited.access_log()[len(before) :] == [
        ("eng_zhao", "cdw_engineer", "raw.population_registry", "SELECT", 1)
    ]


def test_the_auditors_figures_show_the_reads_and_never_a_value(audited):
    audited.read_as("gw_li", "select * from care.overdue_visits")
    audited.collect()
    conn = audited.db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("set role cdw_auditor")  # as the view reads (community_dw.audit_view.store)
        store = AuditStore(conn, "postgresql")
        [(first, last)] = audited.db.query("select min(read_at), max(read_at) from audit.access_log")
        period = figures.Period(first.date() - timedelta(days=1), last.date() + timedelta(days=1))
        shown = access_log.summarize(store, period)
    finally:
        conn.close()
    assert shown.available, shown.reason
    per_reader = {(e["reader"], e["relation"]): (e["reads"], e["rows"]) for e in shown.by_reader}
    logged = audited.db.query(
        "select reader, relation, count(*), sum(rows_read) from audit.access_log group by reader, relation"
    )
    assert per_reader == {(r, rel): (n, total) for r, rel, n, total in logged}
    assert ("gw_li", "care.overdue_visits") in per_reader
    pids = {r[0] for r in audited.db.query("select resident_pid from care.overdue_visits")}
    assert not pids & {str(v) for read in shown.reads for v in read.values()}


def test_the_pipelines_own_login_is_a_service_even_as_an_engineer(audited):
    """The login of CDW_WAREHOUSE_URL loads and builds through SET ROLE, so it is a member of
    cdw_engineer; the collector connects with it and counts its reads instead of listing them."""
    password = secrets.token_hex(8)
    audited.db.execute_autocommit(
        f"create role cdw_pipeline login password '{password}' in role cdw_engineer, cdw_loader, pg_read_all_settings"
    )
    pipeline = replace(audited.db, user="cdw_pipeline", password=password)
    audited.passwords["cdw_pipeline"] = password
    before = audited.access_log()
    audited.read_as("cdw_pipeline", "select count(*) from raw.population_registry")
    audited.read_as("eng_zhao", "select count(*) from raw.population_registry")
    conn = pipeline.connect()
    try:
        done = access_log.collect(conn, audited.log_dir)
    finally:
        conn.close()
    assert [r[0] for r in audited.access_log()[len(before) :]] == ["eng_zhao"]
    assert done.service_reads >= 1 and done.reads_added == 1


def test_a_server_without_pgaudit_says_why(audited):
    conn = audited.db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("set pgaudit.log_rows = off")  # as a server configured without row counts
        with pytest.raises(access_log.AccessLogUnavailable, match=r"pgaudit\.log_rows"):
            access_log.collect(conn, audited.log_dir)
    finally:
        conn.close()
