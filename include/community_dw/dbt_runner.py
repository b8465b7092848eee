"""Run dbt from Python: build the manifest Cosmos renders from, and invoke commands for the CLI/tests.

dbt is imported inside the functions: it is heavy (~3 s) and must never load at DAG-parse time.
"""

from __future__ import annotations

import os
from pathlib import Path

from community_dw import paths

MANIFEST_PATH = paths.DBT_PROJECT_DIR / "target" / "manifest.json"


def dbt_target() -> str:
    """The dbt target: `postgres` when CDW_WAREHOUSE_URL names PostgreSQL (the loads go there, so the
    build must too), else CDW_DBT_TARGET (default `duckdb`; tests point it at a PostgreSQL target of
    their own)."""
    from community_dw import warehouse

    return "postgres" if warehouse.is_postgres() else os.environ.get("CDW_DBT_TARGET", "duckdb")


def dbt_env() -> dict[str, str]:
    """Environment dbt needs: the warehouse and the target (defaults: embedded DuckDB).

    With a PostgreSQL CDW_WAREHOUSE_URL, the `postgres` target on that database, logged in as the
    URL's user and building as `cdw_engineer` (CDW_PG_ROLE overrides; empty: as the login itself).
    """
    from community_dw import warehouse

    env = {
        "CDW_WAREHOUSE_PATH": str(paths.warehouse_path()),
        "CDW_DBT_TARGET": dbt_target(),
    }
    if warehouse.is_postgres():
        role = os.environ.get("CDW_PG_ROLE", warehouse.ENGINEER_ROLE)
        env |= warehouse.postgres_env(warehouse.warehouse_url(), role)
    return env


def invoke(args: list[str], env: dict[str, str] | None = None) -> None:
    """Run one dbt command in this process; raise with dbt's own message when it fails.

    `env` is set for this command only; otherwise `dbt_env()` fills what the environment lacks.
    """
    from dbt.cli.main import dbtRunner

    from community_dw.processes import environment

    defaults = dbt_env()  # from the environment as it was, before `env`
    with environment(env or {}):
        for key, value in defaults.items():
            os.environ.setdefault(key, value)  # kept after the command
        result = dbtRunner().invoke(
            [*args, "--project-dir", str(paths.DBT_PROJECT_DIR), "--profiles-dir", str(paths.DBT_PROJECT_DIR)]
        )
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: {result.exception or 'see the dbt log above'}")


def _project_files() -> list[Path]:
    folders = ("models", "macros", "seeds", "tests", "snapshots")
    files = [paths.DBT_PROJECT_DIR / "dbt_project.yml"]
    for folder in folders:
        files.extend(p for p in (paths.DBT_PROJECT_DIR / folder).rglob("*") if p.is_file())
    return files


def manifest_is_stale() -> bool:
    if not MANIFEST_PATH.exists():
        return True
    built = MANIFEST_PATH.stat().st_mtime
    return any(p.stat().st_mtime > built for p in _project_files())


def build_manifest(force: bool = False) -> Path:
    """`dbt parse` into target/manifest.json when the project changed since the last build."""
    if force or manifest_is_stale():
        invoke(["parse", "--quiet"])
    return MANIFEST_PATH
