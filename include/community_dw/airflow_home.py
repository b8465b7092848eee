"""A self-contained Airflow home for the demo and the tests (SQLite metadata, this repo's DAGs).

Set before Airflow is imported: Airflow reads its configuration once, at import.
"""

from __future__ import annotations

import os
from pathlib import Path

from community_dw import paths


def configure(home: Path | None = None) -> Path:
    """Point Airflow at a git-ignored home under the project and at this repository's DAGs."""
    home = (home or paths.PROJECT_ROOT / ".airflow").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(paths.DAGS_DIR))
    os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(paths.PROJECT_ROOT / "plugins"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__DEFAULT_TIMEZONE", "Asia/Shanghai")
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
    os.environ.setdefault("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(home / "logs"))
    os.environ.setdefault("AIRFLOW__CORE__PARALLELISM", "4")
    return home


def migrate() -> None:
    """Create or upgrade the metadata database (idempotent)."""
    from airflow.utils import db

    db.initdb()
