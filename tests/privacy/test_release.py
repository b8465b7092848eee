"""The release step on real DuckDB and PostgreSQL: publish when the audit passes, keep the previous
release and record the verdict when it fails, and say why.

The warehouse here is built by hand (a population model, a candidate mart and a candidate row-level
view) with a manifest that declares them, so each failure can be provoked precisely; the dbt-built
release is covered by tests/privacy/test_published_release.py and the attack suite.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from community_dw.disclosure.backends import DuckDBBackend, PostgresBackend
from community_dw.disclosure.policy import DisclosurePolicy
from community_dw.disclosure.release import ReleaseRejected, run_release

POLICY = DisclosurePolicy(k={"person": 5, "device": 5}, protection_width={"person": 4, "device": 4})

# One row per resident: community, age band, and (for the view) a topic.
RESIDENTS = [(f"c{c}", band, "t1" if i % 2 else "t2") for c, band, n in
             [(1, "0-14", 30), (1, "15-64", 2), (1, "65+", 25), (2, "0-14", 3), (2, "15-64", 40), (2, "65+", 20)]
             for i in range(n)]  # fmt: skip


def _node(schema: str, name: str, columns: dict[str, str], meta: dict) -> dict:
    return {
        "resource_type": "model",
        "schema": schema,
        "name": name,
        "alias": name,
        "config": {"meta": meta},
        "columns": {c: {"name": c, "meta": {"privacy": p}} for c, p in columns.items()},
    }


def write_manifest(path: Path, view_share_limit: bool = True) -> Path:
    nodes = {
        "model.p.residents": _node(
            "intermediate",
            "residents",
            {"community_code": "quasi", "age_band": "quasi", "topic": "none"},
            {"disclosure_population": {"name": "residents", "unit": "person"}},
        ),
        "model.p.profile": _node(
            "candidate_marts",
            "profile",
            {
                "community_code": "quasi",
                "age_band": "quasi",
                "resident_count": "none",
                "is_suppressed": "none",
            },
            {
                "disclosure": {
                    "population": "residents",
                    "key": ["community_code", "age_band"],
                    "counts": {"resident_count": {}},
                    "suppression_flags": {"is_suppressed": ["resident_count"]},
                }
            },
        ),
        "model.p.totals": _node(
            "candidate_marts",
            "totals",
            {"community_code": "quasi", "residents": "none"},
            {
                "disclosure": {
                    "population": "residents",
                    "key": ["community_code"],
                    "counts": {"residents": {}},
                }
            },
        ),
        "model.p.people": _node(
            "candidate_analyst",
            "people",
            {"community_code": "quasi", "age_band": "quasi", "topic": "none"},
            {
                "disclosure": {
                    "population": "residents",
                    "row_level": {
                        "purpose": "test",
                        "generalize": {"area": ["community_code"]},
                        "keep": ["age_band"],
                        "show": ["topic"],
                    },
                }
            },
        ),
    }
    path.write_text(json.dumps({"nodes": nodes}), encoding="utf-8")
    return path


def build(execute, placeholder: str, residents=RESIDENTS) -> None:
    for schema in ("intermediate", "candidate_marts", "candidate_analyst"):
        execute(f"create schema if not exists {schema}")
    execute("drop table if exists intermediate.residents")
    execute("create table intermediate.residents (community_code varchar, age_band varchar, topic varchar)")
    for row in residents:
        execute(f"insert into intermediate.residents values ({', '.join([placeholder] * 3)})", row)
    execute("drop table if exists candidate_marts.profile")
    execute(
        "create table candidate_marts.profile as select community_code, age_band, count(*) as resident_count,"
        " false as is_suppressed from intermediate.residents group by 1, 2"
    )
    execute("drop table if exists candidate_marts.totals")
    execute(
        "create table candidate_marts.totals as select community_code, count(*) as residents"
        " from intermediate.residents group by 1"
    )
    execute("drop table if exists candidate_analyst.people")
    execute("create table candidate_analyst.people as select * from intermediate.residents")


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path):
    """(backend, execute) on a fresh DuckDB file or PostgreSQL database."""
    if request.param == "duckdb":
        import duckdb

        conn = duckdb.connect(str(tmp_path / "w.duckdb"))

        def execute(sql, params=None):
            conn.execute(sql, params or [])

        yield DuckDBBackend(conn), execute, "?"
        conn.close()
        return
    from support.pg import drop_database, fresh_database, postgres_server

    db = fresh_database(postgres_server(), "cdw_release")
    conn = db.connect()
    conn.autocommit = True

    def execute(sql, params=None):
        with conn.cursor() as cur:
            cur.execute(sql, params)

    execute("do $$ begin if not exists (select from pg_roles where rolname = 'cdw_analyst') then create role cdw_analyst nologin; end if; end $$")  # fmt: skip
    for schema in ("marts", "analyst"):
        execute(f"create schema if not exists {schema}")
        execute(f"grant usage on schema {schema} to cdw_analyst")
    conn.autocommit = False
    try:
        yield PostgresBackend(conn), lambda sql, params=None: _autocommit(conn, sql, params), "%s"
    finally:
        conn.close()
        drop_database(db)


def _autocommit(conn, sql, params):
    with conn.cursor() as cur:
        cur.execute(sql, params)
    conn.commit()


def test_a_passing_release_is_published_protected_and_recorded(warehouse, tmp_path) -> None:
    backend, execute, placeholder = warehouse
    build(execute, placeholder)
    result = run_release(backend, write_manifest(tmp_path / "manifest.json"), POLICY)
    assert result.published and result.verdict == "pass"
    frame = backend.frame("select community_code, age_band, resident_count, is_suppressed from marts.profile")
    profile = {(r[0], r[1]): (None if pd.isna(r[2]) else int(r[2])) for r in frame.values}
    assert all(bool(r[3]) is (profile[(r[0], r[1])] is None) for r in frame.values), (
        "flags say what is withheld"
    )
    # The small cells (2 and 3) are withheld; each community total is published, so each needs a partner.
    withheld = [k for k, v in profile.items() if v is None]
    assert {("c1", "15-64"), ("c2", "0-14")} < set(withheld)
    assert len([k for k in withheld if k[0] == "c1"]) >= 2 and len([k for k in withheld if k[0] == "c2"]) >= 2
    view = backend.frame("select area, area_level, age_band, topic from analyst.people")
    assert set(view.area_level) == {"community_code"}
    assert view.groupby(["area", "age_band"]).size().min() >= 5, "classes under k are withheld"
    assert len(view) < len(RESIDENTS), "the rows of the small classes are withheld"
    audits = backend.frame(
        "select relation, verdict, cells_suppressed, min_interval_width from audit.release_audits"
        f" where release_id = '{result.release_id}'"
    )
    assert set(audits.relation) == {"marts.profile", "marts.totals", "analyst.people", "(release)"}
    assert set(audits.verdict) == {"pass", "published"}
    if backend.name == "postgres":
        granted = backend.frame(
            "select has_table_privilege('cdw_analyst', 'marts.profile', 'select') as p,"
            " has_table_privilege('cdw_analyst', 'candidate_marts.profile', 'select') as c"
        )
        assert bool(granted.p[0]) and not bool(granted.c[0])


def test_a_failing_release_keeps_the_previous_one_and_says_why(warehouse, tmp_path) -> None:
    backend, execute, placeholder = warehouse
    manifest = write_manifest(tmp_path / "manifest.json")
    build(execute, placeholder)
    first = run_release(backend, manifest, POLICY)
    before = backend.frame("select * from marts.profile order by 1, 2")

    # Next build: a candidate that is not what its declaration says (a total off by one).
    build(execute, placeholder)
    execute("update candidate_marts.totals set residents = residents + 1 where community_code = 'c1'")
    with pytest.raises(ReleaseRejected, match=r"marts\.totals: DECLARATION"):
        run_release(backend, manifest, POLICY)
    after = backend.frame("select * from marts.profile order by 1, 2")
    assert after.equals(before), "the analyst still reads the previous release"
    verdicts = backend.frame(
        "select release_id, relation, verdict, detail from audit.release_audits order by audited_at"
    )
    assert set(verdicts[verdicts.release_id == first.release_id].verdict) >= {"pass", "published"}
    latest = verdicts[verdicts.verdict.isin(["fail", "rejected"])]
    assert set(latest.verdict) == {"fail", "rejected"}, "the failed release is recorded beside the first"
    detail = " ".join(str(d) for d in latest.detail)
    assert "DECLARATION: row 1 residents" in detail


def test_a_view_too_thin_for_k_withholds_its_rows_and_says_so(warehouse, tmp_path) -> None:
    """Thirty residents in thirty communities: no class reaches k, so no row is shown, and the audit says why."""
    backend, execute, placeholder = warehouse
    build(execute, placeholder, [(f"c{i}", "0-14", "t1") for i in range(30)])
    strict = DisclosurePolicy(
        k=POLICY.k, protection_width=POLICY.protection_width, max_suppressed_row_share=0.0
    )
    result = run_release(backend, write_manifest(tmp_path / "manifest.json"), strict)
    assert result.published
    assert backend.frame("select count(*) as n from analyst.people").n[0] == 0
    detail = backend.frame(
        f"select detail from audit.release_audits where release_id = '{result.release_id}'"
        " and relation = 'analyst.people'"
    ).detail[0]
    assert "ROW_SUPPRESSION_OVER_LIMIT" in detail and "30 of 30 rows" in detail


def test_a_candidate_that_is_not_what_its_declaration_says_is_refused(warehouse, tmp_path) -> None:
    backend, execute, placeholder = warehouse
    manifest = write_manifest(tmp_path / "manifest.json")
    build(execute, placeholder)
    execute("update candidate_marts.totals set residents = residents + 1 where community_code = 'c2'")
    with pytest.raises(ReleaseRejected, match=r"marts\.totals: DECLARATION: row 2 residents is 64"):
        run_release(backend, manifest, POLICY)
    assert not backend.exists("marts.totals"), "nothing was published"


def test_analyst_file_is_written_only_for_a_passing_release(tmp_path, monkeypatch) -> None:
    import duckdb

    from community_dw.dbt_runner import MANIFEST_PATH  # noqa: F401 (the default the wrapper reads)
    from community_dw.disclosure import publish_release

    warehouse_file = tmp_path / "warehouse" / "community.duckdb"
    warehouse_file.parent.mkdir()
    monkeypatch.setenv("CDW_WAREHOUSE_PATH", str(warehouse_file))
    monkeypatch.setenv("CDW_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("community_dw.dbt_runner.MANIFEST_PATH", write_manifest(tmp_path / "manifest.json"))
    monkeypatch.setattr("community_dw.disclosure.release.load_policy", lambda: POLICY)
    with duckdb.connect(str(warehouse_file)) as conn:
        build(lambda sql, params=None: conn.execute(sql, params or []), "?")
    publish_release("duckdb")
    analyst_file = tmp_path / "warehouse" / "analyst_release.duckdb"
    written = analyst_file.read_bytes()
    with duckdb.connect(str(analyst_file), read_only=True) as conn:
        assert conn.execute("select count(*) from analyst.people").fetchone()[0] > 0

    with duckdb.connect(str(warehouse_file)) as conn:
        build(lambda sql, params=None: conn.execute(sql, params or []), "?")
        conn.execute("update candidate_marts.totals set residents = 0")
    with pytest.raises(ReleaseRejected):
        publish_release("duckdb")
    assert analyst_file.read_bytes() == written, "the analyst keeps the previous file"


PAYLOADS = ["=HYPERLINK(\"http://x\",\"y\")", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]  # fmt: skip


def test_text_a_spreadsheet_or_browser_would_run_is_neutralized(warehouse, tmp_path) -> None:
    backend, execute, placeholder = warehouse
    payloaded = [(c, band, PAYLOADS[i % len(PAYLOADS)] if i % 3 else "ordinary text") for i, (c, band, _) in enumerate(RESIDENTS)]  # fmt: skip
    build(execute, placeholder, payloaded)
    run_release(backend, write_manifest(tmp_path / "manifest.json"), POLICY)
    shown = set(backend.frame("select topic from analyst.people").topic)
    assert "ordinary text" in shown, "text without a trigger is unchanged"
    for value in shown - {"ordinary text"}:
        assert value[0] not in "=+-@\t\r", f"a spreadsheet would run {value!r}"
        assert "<" not in value and ">" not in value, f"a page could render {value!r} as markup"
    assert '\'=HYPERLINK("http://x","y")' in shown and "＜script＞alert(1)＜/script＞" in shown
