"""A self-contained Airflow home for the demo and the tests (SQLite metadata, this repo's DAGs).

Set before Airflow is imported: Airflow reads its configuration once, at import.
"""

from __future__ import annotations

import os
from pathlib import Path

from community_dw import paths


def configure(home: Path | None = None) -> Path:
    """Point Airflow at a git-ignored home under the project (or CDW_AIRFLOW_HOME) and this repository's DAGs."""
    home = (home or Path(os.environ.get("CDW_AIRFLOW_HOME", paths.PROJECT_ROOT / ".airflow"))).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(paths.DAGS_DIR))
    os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(paths.PROJECT_ROOT / "plugins"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__DEFAULT_TIMEZONE", "Asia/Shanghai")
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
    os.environ.setdefault("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(home / "logs"))
    os.environ.setdefault("AIRFLOW__CORE__PARALLELISM", "4")
    os.environ.setdefault("AIRFLOW__API__WORKERS", "1")  # one api-server process is plenty locally
    configure_lineage()
    return home


def configure_lineage() -> None:
    """OpenLineage events of every task (the provider's listener) to a local file, no server needed:
    one JSON event per line in community_dw.lineage.events_file(); AIRFLOW__OPENLINEAGE__TRANSPORT
    set beforehand (e.g. an HTTP transport to Marquez) wins."""
    import json

    from community_dw.lineage import events_file

    os.environ.setdefault("AIRFLOW__OPENLINEAGE__NAMESPACE", "community_dw")
    if "AIRFLOW__OPENLINEAGE__TRANSPORT" not in os.environ:
        events_file().parent.mkdir(parents=True, exist_ok=True)
        transport = {"type": "file", "log_file_path": str(events_file()), "append": True}
        os.environ["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(transport)


def migrate() -> None:
    """Create or upgrade the metadata database and the project's pools (idempotent)."""
    from airflow.utils import db

    db.initdb()
    ensure_pools()


def ensure_pools() -> None:
    """Create the pools the DAGs name (the warehouse writer pool), or reset their size (idempotent)."""
    from airflow.models.pool import Pool

    from community_dw.orchestration.common import WAREHOUSE_WRITER_POOL, WAREHOUSE_WRITER_SLOTS

    Pool.create_or_update_pool(
        WAREHOUSE_WRITER_POOL,
        slots=WAREHOUSE_WRITER_SLOTS,
        description="Tasks that write the DuckDB warehouse file, one at a time (its single writer)",
        include_deferred=False,
    )
