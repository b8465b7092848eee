"""Where things live on disk: one place so that DAGs, the CLI and tests agree.

Every location can be moved with an environment variable, so production (or a test) can point the
same code at other folders without editing it.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
CONTRACTS_DIR = DBT_PROJECT_DIR / "models" / "sources"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
DAGS_DIR = PROJECT_ROOT / "dags"


def data_dir() -> Path:
    """Root of all generated and loaded data (git-ignored)."""
    return Path(os.environ.get("CDW_DATA_DIR", PROJECT_ROOT / "data")).resolve()


def sources_dir() -> Path:
    """Where producers deliver extracts (the demo's stand-in for SFTP folders, buckets and the API)."""
    return Path(os.environ.get("CDW_SOURCES_DIR", data_dir() / "sources")).resolve()


def landing_dir() -> Path:
    """Immutable copies of every received batch, with their manifests."""
    return Path(os.environ.get("CDW_LANDING_DIR", data_dir() / "landing")).resolve()


def work_dir() -> Path:
    """Per-batch intermediate files handed from one task to the next (pseudonymized only)."""
    return Path(os.environ.get("CDW_WORK_DIR", data_dir() / "work")).resolve()


def warehouse_path() -> Path:
    """The DuckDB warehouse file (embedded default target)."""
    return Path(os.environ.get("CDW_WAREHOUSE_PATH", data_dir() / "warehouse" / "community.duckdb")).resolve()


def local_key_file() -> Path:
    """The demo's generated pseudonymization key: in the Airflow home, never beside the data.

    Production sets CDW_PSEUDONYMIZATION_KEY or the Airflow connection instead; CDW_LOCAL_KEY_FILE
    moves the file (it may not be inside the data folder).
    """
    home = Path(os.environ.get("AIRFLOW_HOME", PROJECT_ROOT / ".airflow"))
    return Path(os.environ.get("CDW_LOCAL_KEY_FILE", home / "secrets" / "pseudonymization.key")).resolve()
