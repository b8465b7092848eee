"""Test-session set-up: an isolated Airflow home, data folder and warehouse per session.

Airflow reads its configuration once, when first imported, so the environment is set here, at import
of the conftest, before any test module imports Airflow (monkeypatch would be too late).

Test folders have no __init__.py (a tests/dbt package would shadow dbt itself), so pytest imports each
test file by its base name: keep file names unique across tests/. Shared helpers are in tests/support.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="cdw-tests-"))
os.environ["CDW_DATA_DIR"] = str(_SESSION_DIR / "data")
os.environ["CDW_ALLOW_LOCAL_KEY"] = "1"
os.environ.setdefault("CDW_PSEUDONYMIZATION_KEY", "test-key-not-for-production")

from community_dw import airflow_home  # noqa: E402

airflow_home.configure(_SESSION_DIR / "airflow")


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _SESSION_DIR


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated Airflow metadata database (SQLite) for dag.test()."""
    airflow_home.migrate()


@pytest.fixture(scope="session")
def dbt_manifest():
    from community_dw.dbt_runner import build_manifest

    return build_manifest()


@pytest.fixture(scope="session")
def city(airflow_db, dbt_manifest) -> dict:
    """The small generated city (support.cities.SMALL_CITY) delivered to the session's source folders;
    the defects it injected (defects.json)."""
    import json

    from community_dw import paths

    from support.cities import SMALL_CITY, generate

    generate(SMALL_CITY)
    return json.loads((paths.sources_dir() / "defects.json").read_text(encoding="utf-8"))
