"""The demo's pseudonymization key lives outside the data folder and reaches tasks as the Airflow
connection, as production's does; a key an earlier demo left in `data/secrets/` is moved out, intact."""

from __future__ import annotations

import os
import stat

import pytest

from community_dw import paths, pseudonymize

CONN_ENV = "AIRFLOW_CONN_" + pseudonymize.KEY_CONN_ID.upper()


@pytest.fixture
def demo_env(monkeypatch, tmp_path):
    """What `make demo` / `make airflow` start with: no key configured, local keys allowed."""
    monkeypatch.delenv(pseudonymize.KEY_ENV, raising=False)
    # set, then deleted, so that monkeypatch also removes the connection the set-up exports
    monkeypatch.setenv(CONN_ENV, "{}")
    monkeypatch.delenv(CONN_ENV)
    monkeypatch.delenv("CDW_LOCAL_KEY_FILE", raising=False)
    monkeypatch.setenv(pseudonymize.ALLOW_LOCAL_KEY_ENV, "1")
    monkeypatch.setenv("CDW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    (tmp_path / "data" / "landing").mkdir(parents=True)
    (tmp_path / "data" / "landing" / "x.csv").write_text("not a key", encoding="utf-8")
    return tmp_path


def _files_holding(root, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_demo_key_setup_leaves_no_key_under_data(demo_env):
    key_file = pseudonymize.use_local_key_connection()
    assert key_file == str(demo_env / "airflow" / "secrets" / "pseudonymization.key")
    key = (demo_env / "airflow" / "secrets" / "pseudonymization.key").read_bytes()
    assert len(key) == 64
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(key_file)).st_mode) == 0o700
    assert _files_holding(demo_env / "data", key) == []
    assert not (demo_env / "data" / "secrets").exists()


def test_tasks_read_the_demo_key_through_the_airflow_connection(demo_env, monkeypatch):
    pseudonymize.use_local_key_connection()
    key = (demo_env / "airflow" / "secrets" / "pseudonymization.key").read_bytes()
    # Without the local-key switch the only way left to the key is the Airflow connection.
    monkeypatch.delenv(pseudonymize.ALLOW_LOCAL_KEY_ENV)
    assert pseudonymize.master_key() == key


def test_a_key_left_in_data_secrets_is_moved_out_not_replaced(demo_env):
    legacy = demo_env / "data" / "secrets" / "pseudonymization.key"
    legacy.parent.mkdir()
    legacy.write_text("ab" * 32, encoding="ascii")
    pseudonymize.use_local_key_connection()
    assert (demo_env / "airflow" / "secrets" / "pseudonymization.key").read_text() == "ab" * 32
    assert not legacy.exists() and not legacy.parent.exists()
    assert _files_holding(demo_env / "data", b"ab" * 32) == []


def test_a_configured_key_is_left_alone(demo_env, monkeypatch):
    monkeypatch.setenv(pseudonymize.KEY_ENV, "production-key")
    assert pseudonymize.use_local_key_connection() is None
    assert CONN_ENV not in os.environ
    assert not (demo_env / "airflow" / "secrets").exists()


def test_a_key_file_inside_the_data_folder_is_refused(demo_env, monkeypatch):
    monkeypatch.setenv("CDW_LOCAL_KEY_FILE", str(paths.data_dir() / "secrets" / "k"))
    with pytest.raises(pseudonymize.MissingKeyError, match="inside the data folder"):
        pseudonymize.ensure_local_key()
