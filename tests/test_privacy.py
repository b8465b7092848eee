"""The privacy layer holds on both warehouses: the published release, care list, grants, RLS, audience file.

A small city (three communities of one street, ~600 residents with vulnerable groups, health contacts,
assistance cases and appeals) is loaded into fresh raw tables built from the source contracts, the
analyst-facing candidates, the care list and everything upstream of them are built with `dbt build` on
DuckDB and on PostgreSQL, and the release step (community_dw.disclosure) publishes `marts` and
`analyst`, with k lowered to 5 so that the fixture has small cells. Expectations are computed here in
Python, independently of the SQL and of the release step.

On PostgreSQL, LOGIN users (an analyst, two grid workers) and SET ROLE check what each audience can
read: permission denied outside its schemas, only its own communities in `care`. On DuckDB, the
analyst file is published and checked to hold only marts and analyst relations.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest

from community_dw import warehouse
from community_dw.contracts import load_contracts

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"

K = 5  # k for persons and devices in the test build (the release policy below)
POLICY_VAR = {
    "k": {"person": K, "device": K},
    "protection_width": {"person": K - 1, "device": K - 1},
    "max_suppressed_row_share": 0.05,
    "quasi_identifier_classes": ["quasi"],
}
AS_OF = date(2026, 11, 25)
WINDOW = 90  # var service_window_days (the project default)
CARE_GROUPS = ["elderly_alone", "disabled", "low_income", "left_behind_child"]
CARE_SERVICES = {"home_visit", "elderly_checkup"}
STREET = "110105001"
COMMUNITIES = [f"{STREET}001", f"{STREET}002", f"{STREET}003"]
GW_COMMUNITY = COMMUNITIES[0]  # the one community gw_wang follows up

SEED_DIVISIONS = (
    "district_code,district_name,street_code,street_name,community_code,community_name,"
    "grid_code,grid_name,grid_weight\n"
    + "".join(
        f"110105,朝阳区,{STREET},建外街道,{c},社区{i},{c}{g:03d},第{g}网格,0.5\n"
        for i, c in enumerate(COMMUNITIES, 1)
        for g in (1, 2)
    )
)
SEED_GRID_WORKERS = f"login,community_code\ngw_wang,{GW_COMMUNITY}\ngw_li,{COMMUNITIES[1]}\n"

# What the build covers: every analyst-facing candidate and the care list, and everything upstream.
SELECTION = [
    "--select",
    "+path:models/marts",
    "+path:models/analyst",
    "+path:models/care",
    "--indirect-selection",
    "cautious",
]
ANALYST_CLASSES = {"quasi", "none", "sensitive"}
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")

Query = Callable[[str], list[tuple]]

pytestmark = pytest.mark.slow


def pid(text: str) -> str:
    """A 64-hex stand-in for a keyed pseudonym."""
    return sha256(text.encode()).hexdigest()


# --- the fixture city ------------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    register: list[dict[str, Any]]
    health: list[dict[str, Any]]
    assistance: list[dict[str, Any]]
    appeals: list[dict[str, Any]]

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "population_registry": self.register,
            "health_services": self.health,
            "civil_affairs_assistance": self.assistance,
            "appeals": self.appeals,
            "telecom_stays": [],
        }


def _loaded(batch_day: date) -> datetime:
    return datetime.combine(batch_day, datetime.min.time()).replace(hour=2)


def make_city(seed: int = 7) -> City:
    rng = random.Random(seed)
    surnames = "张王李赵刘陈杨黄"
    register, health, assistance, appeals = [], [], [], []
    for c_index, community in enumerate(COMMUNITIES):
        for i in range(200):
            key = f"{c_index}-{i}"
            age_days = rng.randint(0, 95 * 365)
            birth = AS_OF - timedelta(days=age_days)
            age = AS_OF.year - birth.year - ((AS_OF.month, AS_OF.day) < (birth.month, birth.day))
            groups = []
            if age >= 65 and rng.random() < 0.3:
                groups.append("elderly_alone")
            if rng.random() < 0.05:
                groups.append("disabled")
            if rng.random() < 0.05:
                groups.append("low_income")
            if age < 15 and rng.random() < 0.15:
                groups.append("left_behind_child")
            if rng.random() < 0.03:
                groups.append("entitled")
            status = "2" if rng.random() < 0.05 else "1"
            move_in = AS_OF - timedelta(days=rng.randint(5, 4000))
            register.append(
                {
                    "resident_id": pid(f"resident:{key}"),
                    "name": pid(f"name:{key}"),
                    "sex": rng.choice("12"),
                    "birth_date": birth,
                    "ethnicity": "01",
                    "phone": pid(f"phone:{key}"),
                    "household_id": pid(f"household:{c_index}-{i // 3}"),
                    "relation_to_head": "02",
                    "residence_type": rng.choices("123", weights=[80, 15, 5])[0],
                    "community_code": community,
                    "grid_code": community + f"{1 + i % 2:03d}",
                    "address_detail": pid(f"address:{key}"),
                    "move_in_date": move_in,
                    "status": status,
                    "special_groups": ";".join(groups),
                    "updated_at": datetime(2026, 11, 20, 9, 0),
                    "id_birth_date": birth,
                    "id_sex": "1",
                    "id_region_code": "110105",
                    "id_checksum_valid": True,
                    "name_display": rng.choice(surnames) + "*" * rng.randint(1, 2),
                    "_batch_id": f"population_registry/{AS_OF.isoformat()}",
                    "_source_row": len(register) + 1,
                    "_loaded_at": _loaded(AS_OF),
                }
            )
            # Health contacts: a mix of recent, old, refused and non-qualifying services.
            if groups or rng.random() < 0.1:
                for n in range(rng.randint(0, 3)):
                    service = rng.choice(["home_visit", "elderly_checkup", "vaccination", "home_visit"])
                    outcome = rng.choices(["completed", "refused", "not_found"], weights=[75, 15, 10])[0]
                    day = AS_OF - timedelta(days=rng.choice([0, 10, 89, 90, 91, 150, 400, -3]))
                    health.append(
                        {
                            "service_id": f"s-{key}-{n}",
                            "resident_id": pid(f"resident:{key}"),
                            "service_type": service,
                            "service_date": day,
                            "provider_org_code": "12110105MB0000000X",
                            "community_code": community,
                            "outcome": outcome,
                            "recorded_at": datetime.combine(
                                max(day, AS_OF - timedelta(days=400)), datetime.min.time()
                            ),
                            "id_checksum_valid": True,
                            "_batch_id": f"health_services/{AS_OF.isoformat()}",
                            "_source_row": len(health) + 1,
                            "_loaded_at": _loaded(AS_OF),
                        }
                    )
            if "low_income" in groups:
                assistance.append(
                    {
                        "case_id": f"case-{key}",
                        "resident_id": pid(f"resident:{key}"),
                        "programme": "minimum_living_allowance",
                        "status": "active",
                        "start_date": date(2025, 3, 17),
                        "end_date": None,
                        "monthly_amount": 1130.5,
                        "community_code": community,
                        "updated_at": datetime(2026, 11, 1, 10, 0),
                        "id_checksum_valid": True,
                        "_batch_id": f"civil_affairs_assistance/{AS_OF.isoformat()}",
                        "_source_row": len(assistance) + 1,
                        "_loaded_at": _loaded(AS_OF),
                    }
                )
        for t in range(4):
            key = f"{c_index}-{t}"
            appeals.append(
                {
                    "ticket_id": f"T{key}",
                    "channel": "hotline_12345",
                    "category_code": "ENV",
                    "description": "楼下夜间施工噪音扰民，联系电话138****5678，身份证号110105**********12",
                    "community_code": community,
                    "grid_code": community + "001",
                    "reporter_phone": pid(f"phone:{key}"),
                    "reporter_id": pid(f"resident:{key}"),
                    "received_at": datetime(2026, 11, 24, 8, 13, 5),
                    "dispatched_at": datetime(2026, 11, 24, 9, 0, 0),
                    "responded_at": None,
                    "resolved_at": None,
                    "status": "dispatched",
                    "satisfaction": None,
                    "updated_at": datetime(2026, 11, 24, 9, 0, 0),
                    "_batch_id": "appeals/2026-11-24T0915",
                    "_source_row": t + 1,
                    "_loaded_at": datetime(2026, 11, 24, 9, 15),
                }
            )
    return City(register, health, assistance, appeals)


CITY = make_city()


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


_BANDS = [(15, "0-14"), (25, "15-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64")]
_BANDS += [(75, "65-74"), (85, "75-84")]


def _band(age: int) -> str:
    return next((band for limit, band in _BANDS if age < limit), "85+")


def expected_cells() -> dict[tuple[str, str, str, str], int]:
    """(community, age band, sex, residence type) -> present residents."""
    sexes, residence = {"1": "male", "2": "female"}, {"1": "registered", "2": "floating", "3": "overseas"}
    cells: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for r in CITY.register:
        if r["status"] == "1":
            band = _band(_age(r["birth_date"], AS_OF))
            cells[(r["community_code"], band, sexes[r["sex"]], residence[r["residence_type"]])] += 1
    return dict(cells)


def expected_overdue() -> dict[str, tuple]:
    """resident_pid -> (community, groups, last contact date, due date, days overdue)."""
    last: dict[str, date] = {}
    for h in CITY.health:
        if h["outcome"] == "completed" and h["service_type"] in CARE_SERVICES and h["service_date"] <= AS_OF:
            last[h["resident_id"]] = max(last.get(h["resident_id"], date.min), h["service_date"])
    expected = {}
    for r in CITY.register:
        groups = [g for g in CARE_GROUPS if g in r["special_groups"].split(";")]
        if r["status"] != "1" or not groups:
            continue
        contact = last.get(r["resident_id"])
        if contact is not None and contact > AS_OF - timedelta(days=WINDOW):
            continue
        due = contact + timedelta(days=WINDOW) if contact else r["move_in_date"]
        overdue = max((AS_OF - due).days, 0)
        expected[r["resident_id"]] = (r["community_code"], "; ".join(groups), contact, due, overdue)
    return expected


# --- loading raw tables from the contracts ----------------------------------------------------------


def load_raw(conn, placeholder: str, city: City = CITY) -> None:
    """As the loader would: schemas raw, audit and vault, their fixed tables, one raw table per contract."""
    cur = conn.cursor()
    is_postgres = placeholder == "%s"
    for schema in warehouse.SCHEMAS:
        cur.execute(f"create schema if not exists {schema}")
        if is_postgres:  # as the superuser, like the loader would: nobody else may use raw and vault
            cur.execute(f"revoke all on schema {schema} from public")
    for statement in warehouse.AUDIT_DDL.split(";"):
        if statement.strip():
            cur.execute(statement)
    cur.execute(
        "insert into audit.batch_ledger (source, batch_id, status, received_rows, loaded_rows, recorded_at)"
        f" values ('population_registry', 'population_registry/{AS_OF}', 'loaded', 600, 600, '2026-11-25')"
    )
    cur.execute(
        "insert into vault.identities values"
        f" ('resident', '{pid('resident:0-0')}', '110105194111250012', 'b', '2026-11-25')"
    )
    rows_by_source = city.rows()
    for contract in load_contracts().values():
        cur.execute(f"create table {contract.raw_table} (\n{warehouse.raw_columns_ddl(contract)}\n)")
        rows = rows_by_source[contract.name]
        if not rows:
            continue
        names = [c.name for c in contract.columns] + ["_batch_id", "_source_row", "_loaded_at"]
        values = ", ".join([placeholder] * len(names))
        cur.executemany(
            f"insert into {contract.raw_table} ({', '.join(names)}) values ({values})",
            [tuple(row.get(n) for n in names) for row in rows],
        )
    conn.commit()


# --- running dbt -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    """The dbt project copied with fixture seeds (geography and grid-worker mapping of the test city)."""
    copy = tmp_path_factory.mktemp("dbt_privacy") / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (copy / "seeds" / "ref_divisions.csv").write_text(SEED_DIVISIONS, encoding="utf-8")
    (copy / "seeds" / "grid_worker_communities.csv").write_text(SEED_GRID_WORKERS, encoding="utf-8")
    return copy


def run_dbt(project: Path, env: dict[str, str], *args: str, expect_success: bool = True) -> Any:
    """Run dbt in-process with the given environment; fail with the failing nodes' messages."""
    from dbt.cli.main import dbtRunner

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        paths = ["--project-dir", str(project), "--profiles-dir", str(project)]
        result = dbtRunner().invoke([*args, *paths, "--vars", json.dumps({"disclosure_policy": POLICY_VAR})])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if expect_success:
        failures = [
            f"{r.node.unique_id}: {r.status} {r.message}"
            for r in (result.result or [])
            if str(r.status) not in ("success", "pass", "warn")
        ]
        assert result.success, f"dbt {' '.join(args)} failed: {result.exception or failures}"
    return result


def manifest(project: Path) -> dict[str, Any]:
    return json.loads((project / "target" / "manifest.json").read_text(encoding="utf-8"))


def models_in(project: Path, schema: str) -> list[dict[str, Any]]:
    return [
        n
        for n in manifest(project)["nodes"].values()
        if n["resource_type"] == "model" and n["schema"] == schema
    ]


@pytest.fixture(scope="module")
def duckdb_path(project_copy, tmp_path_factory) -> Path:
    import duckdb

    path = tmp_path_factory.mktemp("duckdb_privacy") / "community.duckdb"
    with duckdb.connect(str(path)) as conn:
        load_raw(conn, "?")
    run_dbt(project_copy, {"CDW_WAREHOUSE_PATH": str(path)}, "build", "--target", "duckdb", *SELECTION)
    from community_dw.disclosure.backends import DuckDBBackend

    with duckdb.connect(str(path)) as conn:
        release(DuckDBBackend(conn), project_copy)
    return path


def release(backend, project: Path):
    """The release step, as build_warehouse runs it after dbt, under the test's policy."""
    from community_dw.disclosure.policy import DisclosurePolicy
    from community_dw.disclosure.release import run_release

    policy = DisclosurePolicy(k=POLICY_VAR["k"], protection_width=POLICY_VAR["protection_width"])
    return run_release(backend, project / "target" / "manifest.json", policy)


@pytest.fixture(scope="module")
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
    db: Any  # pg.PgParams of the test database (superuser)
    passwords: dict[str, str]
    project: Path

    def query(self, sql: str) -> list[tuple]:
        conn = self.db.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()

    def login(self, user: str):
        """A connection as one of the test's LOGIN users."""
        return replace(self.db, user=user, password=self.passwords[user]).connect()


@pytest.fixture(scope="module")
def pg_warehouse(project_copy) -> Iterator[PgWarehouse]:
    from pg import drop_database, fresh_database, postgres_server

    server = postgres_server()
    db = fresh_database(server, "cdw_privacy")
    passwords = {user: secrets.token_hex(8) for user in LOGINS}
    try:
        conn = db.connect()
        try:
            load_raw(conn, "%s")
        finally:
            conn.close()
        run_dbt(project_copy, db.dbt_env(), "build", "--target", "postgres", *SELECTION)
        from community_dw.disclosure.backends import PostgresBackend

        conn = db.connect()
        try:
            release(PostgresBackend(conn), project_copy)
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
        yield PgWarehouse(db, passwords, project_copy)
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


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def warehouse_query(request) -> Query:
    if request.param == "duckdb":
        return request.getfixturevalue("duckdb_warehouse")
    return request.getfixturevalue("pg_warehouse").query


# --- masking ---------------------------------------------------------------------------------------


def test_published_view_shows_only_declared_generalized_columns(
    duckdb_warehouse: Query, project_copy: Path
) -> None:
    """The analyst's one row-level view: the ladders at one level each, kept and shown columns, no more."""
    nodes = [n for n in models_in(project_copy, "candidate_analyst")]
    assert [n["name"] for n in nodes] == ["appeals_masked"], "one row-level view, with a stated purpose"
    declared = nodes[0]["config"]["meta"]["disclosure"]["row_level"]
    assert declared["purpose"].strip()
    built = [r[0] for r in duckdb_warehouse("describe analyst.appeals_masked")]
    expected = []
    for column in declared["generalize"]:
        expected += [column, f"{column}_level"]
    assert built == expected + declared["keep"] + declared["show"]
    assert not [c for c in built if c.endswith("_pid") or c in ("ticket_id", "reporter_id", "community_code")]
    levels = duckdb_warehouse("select distinct area_level, received_period_level from analyst.appeals_masked")
    assert len(levels) == 1, "one generalization for the whole view"
    assert levels[0][0] in declared["generalize"]["area"]
    assert levels[0][1] in declared["generalize"]["received_period"]


def test_published_view_is_k_anonymous_and_withholds_little(warehouse_query: Query) -> None:
    classes = warehouse_query(
        "select area, received_period, category_code, count(*) from analyst.appeals_masked group by 1, 2, 3"
    )
    assert classes and min(n for *_, n in classes) >= K
    # Residual suppression within the policy's share: the rows shown are the tickets of the city minus few.
    shown = sum(n for *_, n in classes)
    tickets = len({a["ticket_id"] for a in CITY.appeals})
    assert tickets * 0.95 <= shown <= tickets


def _text_values(query: Query, schemas: tuple[str, ...]) -> dict[str, set[str]]:
    """Every distinct text value of every relation in the schemas, by relation.column."""
    columns = query(
        "select table_schema, table_name, column_name from information_schema.columns"
        f" where table_schema in ({', '.join(repr(s) for s in schemas)})"
        " and data_type in ('VARCHAR', 'character varying', 'text')"
    )
    values = {}
    for schema, table, column in columns:
        rows = query(f'select distinct "{column}" from {schema}."{table}" where "{column}" is not null')
        values[f"{schema}.{table}.{column}"] = {r[0] for r in rows}
    return values


def test_no_pseudonym_or_identifier_value_reaches_analysts(warehouse_query: Query) -> None:
    pseudonyms = {r["resident_id"] for r in CITY.register} | {r["household_id"] for r in CITY.register}
    pseudonyms |= {a["reporter_phone"] for a in CITY.appeals} | {r["phone"] for r in CITY.register}
    leaks = []
    for column, values in _text_values(warehouse_query, ("marts", "analyst")).items():
        leaks += [f"{column}: pseudonym {v[:12]}…" for v in values & pseudonyms]
        leaks += [f"{column}: phone-like {v!r}" for v in values if PHONE.search(v)]
        leaks += [f"{column}: ID-number-like {v!r}" for v in values if ID_NUMBER.search(v)]
    assert not leaks, "\n".join(leaks[:20])


# --- small-cell suppression --------------------------------------------------------------------------


def _determined_cells(cells: dict[tuple, int], suppressed: set[tuple], groupings: list[Callable]) -> set:
    """Suppressed cells whose value follows from the published cells and the published group totals.

    The analyst is assumed to know every group total of every grouping that can be published, i.e. of
    at least K (a smaller total is itself a small cell, suppressed wherever it appears). Unknowns are
    the suppressed cells; each known total gives one linear equation over its group's suppressed
    cells. A cell is determined when its unit vector lies in the row space of the equations (the rank
    does not grow when it is added): this covers subtraction and every combination of totals.
    """
    import numpy as np

    unknowns = sorted(suppressed)
    index = {cell: i for i, cell in enumerate(unknowns)}
    equations = []
    for group_of in groupings:
        groups: dict[Any, list[tuple]] = defaultdict(list)
        for cell in cells:
            groups[group_of(cell)].append(cell)
        for members in groups.values():
            if sum(cells[cell] for cell in members) < K:
                continue
            row = np.zeros(len(unknowns))
            for cell in members:
                if cell in index:
                    row[index[cell]] = 1
            if row.any():
                equations.append(row)
    if not equations:
        return set()
    matrix = np.array(equations)
    rank = np.linalg.matrix_rank(matrix)
    determined = set()
    for cell, i in index.items():
        unit = np.zeros(len(unknowns))
        unit[i] = 1
        if np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank:
            determined.add(cell)
    return determined


def test_profile_suppression_leaves_no_recoverable_cell(warehouse_query: Query) -> None:
    profile = warehouse_query(
        "select community_code, age_band, sex, residence_type, resident_count, is_suppressed,"
        " household_count, street_code from marts.community_population_profile"
    )
    exact = expected_cells()
    assert {tuple(r[:4]) for r in profile} == set(exact)
    suppressed = {tuple(r[:4]) for r in profile if r[5]}
    for row in profile:
        cell, n = tuple(row[:4]), exact[tuple(row[:4])]
        published, is_suppressed, households = row[4:7]
        assert is_suppressed is (published is None), cell
        assert published in (None, n), cell
        if n < K:
            assert is_suppressed, f"small cell {cell} ({n}) published"
        if is_suppressed:
            assert households is None, cell
    assert len(suppressed) > sum(1 for n in exact.values() if n < K) or all(
        sum(1 for c in suppressed if c[0] == community) >= 2 for community in {c[0] for c in suppressed}
    ), "every community with a withheld cell withholds at least two"

    # Known totals: each community's, published in population_reconciliation. (Street totals per age,
    # sex and residence type are published nowhere, so they are not part of the attacker's knowledge.)
    groupings = [lambda cell: cell[0]]
    recoverable = _determined_cells(exact, suppressed, groupings)
    assert not recoverable, f"suppressed cells recoverable from the totals: {sorted(recoverable)}"
    # Plain subtraction: no publishable group total minus its published cells is a single hidden cell.
    for group_of in groupings:
        hidden: dict[Any, list] = defaultdict(list)
        totals: dict[Any, int] = defaultdict(int)
        for cell, n in exact.items():
            totals[group_of(cell)] += n
            if cell in suppressed:
                hidden[group_of(cell)].append(cell)
        assert not [h for g, h in hidden.items() if len(h) == 1 and totals[g] >= K]


# --- the care list -----------------------------------------------------------------------------------


def test_overdue_visits_lists_who_is_due(warehouse_query: Query) -> None:
    rows = warehouse_query(
        "select resident_pid, community_code, vulnerable_groups, last_contact_date, due_date, days_overdue,"
        " name_display, as_of_date from care.overdue_visits"
    )
    observed = {r[0]: tuple(r[1:6]) for r in rows}
    assert observed == expected_overdue()
    names = {r["resident_id"]: r["name_display"] for r in CITY.register}
    assert all(r[6] == names[r[0]] for r in rows), "the display-masked name of the register"
    assert {r[7] for r in rows} == {AS_OF}
    assert len({r[1] for r in rows}) == len(COMMUNITIES), "the fixture has overdue residents everywhere"


# --- PostgreSQL: grants and row-level security ----------------------------------------------------------


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


def _as_role(pg: PgWarehouse, role: str):
    conn = pg.db.connect()
    with conn.cursor() as cur:
        cur.execute(f"set role {role}")
    conn.commit()
    return conn


@pytest.mark.parametrize("how", ["login", "set_role"])
def test_pg_analyst_reads_only_marts_and_analyst(pg_warehouse: PgWarehouse, how: str) -> None:
    conn = pg_warehouse.login("analyst_alice") if how == "login" else _as_role(pg_warehouse, "cdw_analyst")
    try:
        readable = {r: _can_select(conn, r) for r in DENIED_TO_ANALYST + ALLOWED_TO_ANALYST}
    finally:
        conn.close()
    assert readable == {r: r in ALLOWED_TO_ANALYST for r in readable}


def test_pg_grid_worker_sees_only_own_communities(pg_warehouse: PgWarehouse) -> None:
    expected = {p for p, row in expected_overdue().items() if row[0] == GW_COMMUNITY}
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
    assert pg_warehouse.query("select count(*) from care.overdue_visits")[0][0] == len(expected_overdue())


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
def test_pg_other_roles_read_only_their_schemas(pg_warehouse: PgWarehouse, role: str, allowed: set) -> None:
    relations = DENIED_TO_ANALYST + ALLOWED_TO_ANALYST
    conn = _as_role(pg_warehouse, role)
    try:
        readable = {r: _can_select(conn, r) for r in relations}
    finally:
        conn.close()
    assert readable == {r: r in allowed for r in relations}


def test_pg_roles_rls_and_hooks_are_idempotent(pg_warehouse: PgWarehouse) -> None:
    roles = pg_warehouse.query("select rolname, rolcanlogin from pg_roles where rolname like 'cdw\\_%'")
    assert dict(roles) == dict.fromkeys(
        ["cdw_loader", "cdw_engineer", "cdw_analyst", "cdw_grid_worker", "cdw_auditor", "cdw_steward"], False
    )
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


# --- the analyst's DuckDB file -------------------------------------------------------------------------


def test_analyst_file_holds_only_marts_and_analyst(
    duckdb_path: Path, duckdb_warehouse: Query, project_copy: Path, tmp_path: Path
) -> None:
    import duckdb

    from community_dw.publish import publish_analyst_file

    target = tmp_path / "warehouse" / "analyst_release.duckdb"
    counts = publish_analyst_file(duckdb_path, target)
    assert publish_analyst_file(duckdb_path, target) == counts, "republishing replaces the file"
    assert sorted(p.name for p in target.parent.iterdir()) == ["analyst_release.duckdb"], (
        "no temporary file left"
    )
    # The README's first query, as written, in a plain session opening the file.
    with duckdb.connect(str(target), read_only=True) as conn:
        assert (
            conn.execute("select count(*) from analyst.appeals_masked").fetchone()[0]
            == counts["analyst.appeals_masked"]
        )

    with duckdb.connect() as conn:
        conn.execute(f"attach '{target}' as published (read_only)")
        tables = conn.execute(
            "select table_schema, table_name, table_type from information_schema.tables"
            " where table_catalog = 'published'"
        ).fetchall()
        columns = conn.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
            " where table_catalog = 'published'"
        ).fetchall()
        published_counts = {
            f"{s}.{t}": conn.execute(f'select count(*) from published.{s}."{t}"').fetchone()[0]
            for s, t, _ in tables
        }
    expected = {
        f"{s}.{t}"
        for s, t in duckdb_warehouse(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema in ('marts', 'analyst')"
        )
    }
    assert {"marts.community_population_profile", "analyst.appeals_masked"} <= expected
    assert {f"{s}.{t}" for s, t, _ in tables} == expected == set(counts)
    assert {s for s, _, _ in tables} == {"marts", "analyst"}
    assert {kind for _, _, kind in tables} == {"BASE TABLE"}, "views are materialized"
    assert published_counts == counts and counts["marts.community_population_profile"] > 0

    nodes = {
        f"{s[len('candidate_') :]}.{n['alias']}": n
        for s in ("candidate_marts", "candidate_analyst")
        for n in models_in(project_copy, s)
    }
    for schema, table, column in columns:
        assert not column.endswith("_pid"), f"{schema}.{table}.{column}"
        documented = nodes[f"{schema}.{table}"]["columns"]
        source_column = column[: -len("_level")] if column.endswith("_level") else column
        privacy = (documented.get(source_column) or {}).get("meta", {}).get("privacy")
        assert privacy != "direct", f"{schema}.{table}.{column} is a direct identifier"


def test_publish_refuses_pseudonyms_and_keeps_the_old_file(tmp_path: Path) -> None:
    import duckdb

    from community_dw.publish import PublishError, publish_analyst_file

    source, target = tmp_path / "w.duckdb", tmp_path / "analyst.duckdb"
    with duckdb.connect(str(source)) as conn:
        conn.execute("create schema marts; create table marts.ok as select 1 as n")
        conn.execute("create schema staging; create table staging.secret as select 'x' as resident_pid")
    assert publish_analyst_file(source, target) == {"marts.ok": 1}
    before = target.read_bytes()
    with duckdb.connect(str(source)) as conn:
        conn.execute("create schema analyst; create table analyst.leak as select 'p' as resident_pid")
    with pytest.raises(PublishError, match=r"analyst\.leak\.resident_pid"):
        publish_analyst_file(source, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analyst.duckdb", "w.duckdb"]


@pytest.mark.parametrize("how", ["login", "set_role"])
def test_pg_analyst_cannot_count_what_it_cannot_read(pg_warehouse: PgWarehouse, how: str) -> None:
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
