"""The dbt project builds on DuckDB and on PostgreSQL, and what it builds is right.

A tiny raw population register (two snapshot batches, a duplicate resident, ages on band edges) is
loaded into a fresh warehouse of each engine; `dbt build` (models, seeds, unit and data tests) runs on a
copy of the project whose reference seed is a small fixture, with the disclosure policy's k for persons
lowered so that the fixture has cells on both sides of it. dbt builds the analyst-facing models as
candidates with exact values (`candidate_marts`, `candidate_analyst`); the release step
(community_dw.disclosure) withholds cells afterwards and publishes `marts` and `analyst`. The expected
results are computed here in Python, independently of the SQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from support.cities import pid
from support.dbt import DBT_PROJECT_DIR, disclosure_policy, release, run_dbt
from support.dbt import manifest as built_manifest
from support.dbt import project_copy as copy_project
from support.raw import load_raw

K = 3  # the policy's k for persons in the test build
K_DEVICE = 20
POLICY = disclosure_policy(K, K_DEVICE)
VARS = {"disclosure_policy": POLICY}
OLD, NEW = date(2026, 11, 24), date(2026, 11, 25)
COMMUNITY_A, COMMUNITY_B = "110105001001", "110105001002"

SEED_CSV = """\
district_code,district_name,street_code,street_name,community_code,community_name,grid_code,grid_name,grid_weight
110105,朝阳区,110105001,建外街道,110105001001,永安里社区,110105001001001,第一网格,0.5
110105,朝阳区,110105001,建外街道,110105001001,永安里社区,110105001001002,第二网格,0.5
110105,朝阳区,110105001,建外街道,110105001002,光华里社区,110105001002001,第一网格,1
"""

Query = Callable[[str], list[tuple]]

pytestmark = pytest.mark.slow


# --- the fixture register -------------------------------------------------------------------------


def _person(
    key: str,
    batch: date,
    row: int,
    birth: date,
    *,
    sex: str = "1",
    status: str = "1",
    community: str = COMMUNITY_A,
    household: str | None = None,
    residence: str = "1",
    special: str = "",
    updated: datetime = datetime(2026, 11, 20, 9, 0),
) -> dict[str, Any]:
    """One raw register row as the loader writes it (pseudonyms as 64-hex)."""
    return {
        "resident_id": pid(f"resident:{key}"),
        "name": pid(f"name:{key}"),
        "sex": sex,
        "birth_date": birth,
        "ethnicity": "01",
        "phone": pid(f"phone:{key}"),
        "household_id": pid(f"household:{household or key}"),
        "relation_to_head": "02",
        "residence_type": residence,
        "community_code": community,
        "grid_code": community + "001",
        "address_detail": pid(f"address:{key}"),
        "move_in_date": date(2020, 1, 1),
        "status": status,
        "special_groups": special,
        "updated_at": updated,
        "id_birth_date": birth,
        "id_sex": sex if sex in ("1", "2") else "1",
        "id_region_code": "110105",
        "id_checksum_valid": True,
        "name_display": "张*",
        "_batch_id": f"population_registry/{batch.isoformat()}",
        "_source_row": row,
        "_loaded_at": datetime.combine(batch, datetime.min.time()).replace(hour=2),
    }


def register_rows() -> list[dict[str, Any]]:
    old = [  # the previous day's full snapshot: must be ignored entirely
        _person("edge14", OLD, 1, date(1990, 1, 1), community=COMMUNITY_B),
        _person("gone", OLD, 2, date(1970, 5, 5)),  # only in the old batch
    ]
    new = [
        # ages on the day before, on and after band edges (snapshot date 2026-11-25)
        _person("edge14", NEW, 1, date(2011, 11, 26)),
        _person("edge15", NEW, 2, date(2011, 11, 25)),
        _person("edge24", NEW, 3, date(2001, 11, 26), sex="2"),
        _person("edge25", NEW, 4, date(2001, 11, 25), sex="2"),
        _person("edge84", NEW, 5, date(1941, 11, 26), special="elderly_alone;disabled"),
        _person("edge85", NEW, 6, date(1941, 11, 25), sex="2", special="elderly_alone"),
        _person("newborn", NEW, 7, date(2026, 11, 25), household="edge25"),
        # four women aged 25-34 in two households in community B: households under k
        *[
            _person(
                f"w{i}",
                NEW,
                10 + i,
                date(1995, 3, 1 + i),
                sex="2",
                community=COMMUNITY_B,
                household=f"hw{i % 2}",
            )
            for i in range(4)
        ],
        # a cell of exactly k floating men aged 35-44 in community B
        *[
            _person(f"m{i}", NEW, 20 + i, date(1985, 6, 1), community=COMMUNITY_B, residence="2")
            for i in range(3)
        ],
        # not present: moved out and deceased
        _person("moved", NEW, 30, date(1980, 1, 1), status="2"),
        _person("dead", NEW, 31, date(1930, 1, 1), status="3"),
        # the same resident twice in one batch: the row updated last wins (present, community B),
        # although it comes first in the file
        _person("dup", NEW, 40, date(1960, 1, 1), community=COMMUNITY_B, updated=datetime(2026, 11, 21)),
        _person("dup", NEW, 41, date(1960, 1, 1), status="2", updated=datetime(2026, 11, 1)),
    ]
    return old + new


EXPECTED_BANDS = {
    pid("resident:edge14"): (14, "0-14"),
    pid("resident:edge15"): (15, "15-24"),
    pid("resident:edge24"): (24, "15-24"),
    pid("resident:edge25"): (25, "25-34"),
    pid("resident:edge84"): (84, "75-84"),
    pid("resident:edge85"): (85, "85+"),
    pid("resident:newborn"): (0, "0-14"),
}

SEX = {"1": "male", "2": "female"}
RESIDENCE = {"1": "registered", "2": "floating", "3": "overseas"}
BANDS = [(15, "0-14"), (25, "15-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64")]
BANDS += [(75, "65-74"), (85, "75-84")]


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _band(age: int) -> str:
    return next((band for limit, band in BANDS if age < limit), "85+")


def expected_staging(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest batch, one row per resident (last updated wins)."""
    latest = max(r["_batch_id"] for r in rows)
    current: dict[str, dict[str, Any]] = {}
    for r in sorted(
        (r for r in rows if r["_batch_id"] == latest), key=lambda r: (r["updated_at"], r["_source_row"])
    ):
        current[r["resident_id"]] = r
    return current


def expected_cells(rows: list[dict[str, Any]]) -> dict[tuple, tuple[int, int]]:
    """(community, age band, sex, residence type) -> (residents, distinct households), present only."""
    residents: Counter = Counter()
    households: dict[tuple, set] = {}
    for r in expected_staging(rows).values():
        if r["status"] != "1":
            continue
        cell = (
            r["community_code"],
            _band(_age(r["birth_date"], NEW)),
            SEX.get(r["sex"], "unknown"),
            RESIDENCE.get(r["residence_type"], "unknown"),
        )
        residents[cell] += 1
        households.setdefault(cell, set()).add(r["household_id"])
    return {cell: (n, len(households[cell])) for cell, n in residents.items()}


# --- the build ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    """The dbt project copied with the fixture seed (the real target/ stays untouched)."""
    return copy_project(tmp_path_factory.mktemp("dbt") / "dbt_project", {"ref_divisions": SEED_CSV})


class Warehouse:
    """A built warehouse: `warehouse(sql)` returns rows; `backend()` opens it for the release step."""

    def __init__(self, query: Query, backend: Callable[[], AbstractContextManager[Any]]) -> None:
        self.query = query
        self.backend = backend

    def __call__(self, sql: str) -> list[tuple]:
        return self.query(sql)


@pytest.fixture(scope="module")
def duckdb_warehouse(project_copy, tmp_path_factory) -> Iterator[Warehouse]:
    import duckdb

    from community_dw.disclosure.backends import DuckDBBackend

    path = tmp_path_factory.mktemp("duckdb") / "community.duckdb"
    with duckdb.connect(str(path)) as conn:
        load_raw(conn, {"population_registry": register_rows()})
    run_dbt(project_copy, {"CDW_WAREHOUSE_PATH": str(path)}, "build", "--target", "duckdb", dbt_vars=VARS)

    def query(sql: str) -> list[tuple]:
        with duckdb.connect(str(path)) as conn:
            return conn.execute(sql).fetchall()

    @contextmanager
    def backend() -> Iterator[DuckDBBackend]:
        with duckdb.connect(str(path)) as conn:
            yield DuckDBBackend(conn)

    yield Warehouse(query, backend)


@pytest.fixture(scope="module")
def postgres_warehouse(project_copy) -> Iterator[Warehouse]:
    from community_dw.disclosure.backends import PostgresBackend

    from support.pg import drop_database, fresh_database, postgres_server

    db = fresh_database(postgres_server(), "cdw_dbt")
    try:
        conn = db.connect()
        try:
            load_raw(conn, {"population_registry": register_rows()})
        finally:
            conn.close()
        run_dbt(project_copy, db.dbt_env(), "build", "--target", "postgres", dbt_vars=VARS)

        @contextmanager
        def backend() -> Iterator[PostgresBackend]:
            conn = db.connect()
            try:
                yield PostgresBackend(conn)
            finally:
                conn.close()

        yield Warehouse(db.query, backend)
    finally:
        drop_database(db)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def warehouse(request) -> Warehouse:
    return request.getfixturevalue(f"{request.param}_warehouse")


@pytest.fixture(scope="module")
def released(warehouse: Warehouse, project_copy: Path) -> Any:
    """The release step run on the built warehouse with the test build's policy (publishes marts.*)."""
    with warehouse.backend() as backend:
        return release(backend, project_copy, POLICY)


# --- what the build must produce -----------------------------------------------------------------


def test_staging_keeps_latest_batch_one_row_per_resident(warehouse: Warehouse) -> None:
    rows = warehouse(
        "select resident_pid, _batch_id, snapshot_date, status, community_code"
        " from staging.stg_population_registry"
    )
    expected = expected_staging(register_rows())
    assert sorted(r[0] for r in rows) == sorted(expected), "one row per resident of the latest batch"
    assert {(r[1], r[2]) for r in rows} == {(f"population_registry/{NEW.isoformat()}", NEW)}
    by_pid = {r[0]: r for r in rows}
    assert pid("resident:gone") not in by_pid
    assert by_pid[pid("resident:dup")][3:] == ("present", COMMUNITY_B), "the row updated last wins"


def test_age_bands_on_edges(warehouse: Warehouse) -> None:
    rows = warehouse("select resident_pid, age, age_band from staging.stg_population_registry")
    observed = {r[0]: (r[1], r[2]) for r in rows if r[0] in EXPECTED_BANDS}
    assert observed == EXPECTED_BANDS


def test_special_group_flags(warehouse: Warehouse) -> None:
    rows = warehouse(
        "select resident_pid, is_elderly_alone, is_disabled, is_low_income"
        " from staging.stg_population_registry"
    )
    flags = {r[0]: tuple(r[1:]) for r in rows}
    assert flags[pid("resident:edge84")] == (True, True, False)
    assert flags[pid("resident:edge85")] == (True, False, False)
    assert flags[pid("resident:edge14")] == (False, False, False)


PROFILE_COLUMNS = (
    "community_code, age_band, sex, residence_type, resident_count, household_count,"
    " is_suppressed, is_household_count_suppressed, community_name, street_code"
)


def test_profile_candidate_accounts_for_every_present_resident_exactly(warehouse: Warehouse) -> None:
    """The candidate holds the exact count of every cell, small ones included; nothing is withheld in SQL."""
    profile = warehouse(f"select {PROFILE_COLUMNS} from candidate_marts.community_population_profile")
    exact = {
        tuple(r[:4]): r[4]
        for r in warehouse(
            "select community_code, age_band, sex, residence_type, resident_count"
            " from intermediate.int_population_profile_counts"
        )
    }
    cells = expected_cells(register_rows())
    assert len(profile) == len(cells), "one row per non-empty cell"
    assert {tuple(r[:4]): tuple(r[4:6]) for r in profile} == cells, "residents and households, cell by cell"
    assert exact == {cell: n for cell, (n, _) in cells.items()}
    for row in profile:
        assert (row[6], row[7]) == (False, False), f"the candidate withholds nothing: {row[:4]}"
        assert row[8] in ("永安里社区", "光华里社区") and row[9] == "110105001"

    # Every present resident is in exactly one cell.
    present = warehouse("select count(*) from staging.stg_population_registry where is_present")[0][0]
    assert sum(r[4] for r in profile) == present == sum(n for n, _ in cells.values()) == 15
    # The fixture has cells on both sides of k (the release has something to withhold), exactly k
    # included, and a cell of more than k residents in fewer than k households.
    assert min(n for n, _ in cells.values()) < K
    assert cells[(COMMUNITY_B, "35-44", "male", "floating")] == (K, K)
    assert cells[(COMMUNITY_B, "25-34", "female", "registered")] == (4, 2)


def test_release_publishes_the_profile_only_within_the_policy(warehouse: Warehouse, released: Any) -> None:
    """After the release step, marts.community_population_profile shows each cell's exact count or
    nothing, never a count of 1..k-1, and flags exactly what it withholds. (The release and its attacker
    are tested in depth in tests/privacy/.)"""
    assert released.published and released.verdict == "pass", released.problems
    candidate = {
        tuple(r[:4]): tuple(r[4:6])
        for r in warehouse(f"select {PROFILE_COLUMNS} from candidate_marts.community_population_profile")
    }
    published = warehouse(f"select {PROFILE_COLUMNS} from marts.community_population_profile")
    assert {tuple(r[:4]) for r in published} == set(candidate) and len(published) == len(candidate)
    for row in published:
        cell = tuple(row[:4])
        for value, exact, flag in (
            (row[4], candidate[cell][0], row[6]),
            (row[5], candidate[cell][1], row[7]),
        ):
            assert value in (None, exact), f"{cell}: published {value}, exact {exact}"
            assert value is None or not 1 <= value < K, f"{cell}: published small count {value}"
            assert flag is (value is None), f"{cell}: flag {flag} for published {value}"
    # Every cell under k in the fixture is withheld.
    small = {cell for cell, (n, _) in candidate.items() if n < K}
    assert small and all(r[4] is None for r in published if tuple(r[:4]) in small)
    verdicts = warehouse(
        "select verdict from audit.release_audits"
        " where relation = 'marts.community_population_profile'"
        f" and release_id = '{released.release_id}'"
    )
    assert verdicts == [("pass",)]


def test_every_model_column_is_documented_and_classified(
    duckdb_warehouse: Warehouse, project_copy: Path
) -> None:

    manifest = built_manifest(project_copy)
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert models
    problems = []
    for node in models:
        relation = f"{node['schema']}.{node['alias']}"
        built = [
            r[0]
            for r in duckdb_warehouse(
                "select column_name from information_schema.columns"
                f" where table_schema = '{node['schema']}' and table_name = '{node['alias']}'"
                " order by ordinal_position"
            )
        ]
        if not node["description"].strip():
            problems.append(f"{relation}: no description")
        if list(node["columns"]) != built:
            problems.append(f"{relation}: YAML columns {list(node['columns'])} != built {built}")
        for name, column in node["columns"].items():
            if not column["description"].strip():
                problems.append(f"{relation}.{name}: no description")
            if column["meta"].get("privacy") not in ("direct", "quasi", "sensitive", "none"):
                problems.append(f"{relation}.{name}: meta.privacy missing or invalid")
    assert not problems, "\n".join(problems)


def test_reference_seed_loads_and_passes_its_tests(tmp_path: Path) -> None:
    """The checked-in ref_divisions seed loads with its column types and passes the seed's own tests."""
    assert (DBT_PROJECT_DIR / "seeds" / "ref_divisions.csv").exists(), "the reference seed is checked in"
    env = {"CDW_WAREHOUSE_PATH": str(tmp_path / "seed.duckdb")}
    # Only the seed and the tests on it alone (cautious), built beside the project, not into its target/.
    selection = ["--select", "ref_divisions", "--indirect-selection", "cautious"]
    outputs = ["--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]
    run_dbt(DBT_PROJECT_DIR, env, "build", "--target", "duckdb", *selection, *outputs, dbt_vars=VARS)
    import duckdb

    with duckdb.connect(env["CDW_WAREHOUSE_PATH"]) as conn:
        types = dict(
            conn.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_name = 'ref_divisions'"
            ).fetchall()
        )
    assert {name: t for name, t in types.items() if name.endswith("_code")} == {
        name: "VARCHAR" for name in ("district_code", "street_code", "community_code", "grid_code")
    }
