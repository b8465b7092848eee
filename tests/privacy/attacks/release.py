"""The step under attack: turn the loaded raw tables into the analyst release.

Kept in one small function on purpose: when the release step changes (a new disclosure-control
package, a renamed analyst file), only `build_release` changes and every attack keeps running.

    build_release("duckdb")    # dbt build + release on CDW_WAREHOUSE_PATH, then the analyst file; its path
    build_release("postgres")  # dbt build + release on the CDW_PG_* database (grants to cdw_analyst); None

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
    """Build the release on `engine` ("duckdb" or "postgres"); the DuckDB analyst file's path, or None.

    As build_warehouse does: dbt builds the candidates, then the release step (community_dw.disclosure)
    protects, audits and publishes `marts` and `analyst`; on DuckDB the analyst file is written from them.
    """
    from community_dw.disclosure.backends import open_backend
    from community_dw.disclosure.release import run_release

    manifest = Path(os.environ["CDW_ATTACK_DBT_TARGET"]) / "manifest.json"
    _dbt("build", "--target", engine, "--quiet")
    with open_backend(engine) as backend:
        run_release(backend, manifest)
    if engine == "duckdb":
        from community_dw.publish import analyst_file_path, publish_analyst_file

        target = paths.warehouse_path().with_name(analyst_file_path().name)
        publish_analyst_file(paths.warehouse_path(), target)
        return target
    return None
