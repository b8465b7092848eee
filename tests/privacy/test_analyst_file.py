"""The analyst's DuckDB file: only marts and analyst relations, materialized, no direct identifier, and a
publication that refuses pseudonyms keeps the previous file. Built from the care street (conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from support.dbt import models_in

pytestmark = pytest.mark.slow

Query = Callable[[str], list[tuple]]


def test_analyst_file_holds_only_marts_and_analyst(
    duckdb_path: Path, duckdb_warehouse: Query, care_project: Path, tmp_path: Path
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
        for n in models_in(care_project, s)
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
