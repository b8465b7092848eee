"""The step under attack: turn the loaded raw tables into the analyst release.

Kept in one small function on purpose: when the release step changes (a new disclosure-control
package, a renamed analyst file), only `build_release` changes and every attack keeps running.

    build_release("duckdb")    # dbt build on CDW_WAREHOUSE_PATH, then the analyst file; returns its path
    build_release("postgres")  # dbt build on the CDW_PG_* database; the grants are the release; None

The engineer-side environment (`CDW_WAREHOUSE_PATH`, `CDW_PG_*`) is set by the caller. dbt writes its
artifacts (manifest, logs) into `CDW_ATTACK_DBT_TARGET` (a session folder), never into
dbt_project/target, which other work in the checkout uses.
"""

from __future__ import annotations

import os
from pathlib import Path

from community_dw import paths


def _dbt(*args: str) -> None:
    from dbt.cli.main import dbtRunner

    target_path = os.environ["CDW_ATTACK_DBT_TARGET"]
    project = str(paths.DBT_PROJECT_DIR)
    result = dbtRunner().invoke(
        [
            *args,
            "--project-dir",
            project,
            "--profiles-dir",
            project,
            "--target-path",
            target_path,
            "--log-path",
            str(Path(target_path) / "logs"),
        ]
    )
    failures = [
        f"{r.node.unique_id}: {r.status} {r.message}"
        for r in (result.result or [])
        if str(r.status) not in ("success", "pass", "warn", "skipped")
    ]
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: {result.exception or failures}")


def build_release(engine: str) -> Path | None:
    """Build the release on `engine` ("duckdb" or "postgres"); the DuckDB analyst file's path, or None."""
    if engine == "duckdb":
        from community_dw.publish import publish_analyst_file

        _dbt("build", "--target", "duckdb", "--quiet")
        target = paths.warehouse_path().with_name("analyst.duckdb")
        publish_analyst_file(paths.warehouse_path(), target)
        return target
    if engine == "postgres":
        _dbt("build", "--target", "postgres", "--quiet")
        return None
    raise ValueError(f"unknown engine {engine!r}")
