"""`make airflow` as a user runs it: no venv activated, the UI lists this repository's DAGs in headless
Chromium (signed in as the local admin), and Ctrl-C stops every process it started within 10 s.

The Makefile target runs from a terminal whose PATH lacks the venv (Airflow standalone then needs the
venv's `bin` on its components' PATH, `community_dw.processes`), with its own Airflow home, data folder
and free ports, so it neither sees nor disturbs the session's Airflow or another one on this machine.
Ctrl-C is SIGINT to the terminal's foreground process group: make, its shell and `cdw`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from community_dw import paths
from community_dw.contracts import load_contracts
from community_dw_tools.airflow_api import AirflowApi

from support import processes
from support.cdp import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240, method="thread")]

STOP_SECONDS = 10


def _user_environment(tmp_path: Path, port: int) -> dict[str, str]:
    """A login shell's environment: no venv on PATH, nothing of this test session's Airflow settings."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p and p != venv_bin)
    return {
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PATH": path or "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "CDW_AIRFLOW_HOME": str(tmp_path / "airflow"),
        "CDW_DATA_DIR": str(tmp_path / "data"),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(processes.free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(processes.free_port()),
    }


def _dag_ids(api: AirflowApi, seconds: float = 90) -> set[str]:
    """The DAGs the API lists, once the DAG processor has parsed every file (or the time is up)."""
    expected = {f"ingest_{name}" for name in load_contracts()} | {"build_warehouse", "retention"}
    deadline = time.monotonic() + seconds
    while True:
        listed = {d["dag_id"] for d in api.call("dags?limit=100")["dags"]}
        if listed >= expected or time.monotonic() > deadline:
            return listed
        time.sleep(2)


def _dags_page_lists(api: str, token: str, dag_ids: set[str]) -> str:
    """The UI's DAG list as a browser renders it (the React app, after its API calls): its text."""
    ids = json.dumps(sorted(dag_ids))
    with Browser() as browser:
        browser.set_cookie(api, "_token", token)
        browser.open(
            f"{api}/dags",
            ready=f"{ids}.every(id => document.body.innerText.includes(id))",
            timeout=60,
        )
        return browser.evaluate("document.body.innerText")


def test_make_airflow_serves_the_dags_and_stops_on_ctrl_c(tmp_path):
    port = processes.free_port()
    api = f"http://127.0.0.1:{port}"
    log = tmp_path / "make-airflow.log"
    # The venv this session runs in counts as installed (make would otherwise reinstall it if a pin
    # changed after it was built); the rest is the target as it stands.
    make = processes.start_session(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "airflow"],
        _user_environment(tmp_path, port),
        log,
        cwd=paths.PROJECT_ROOT,
    )
    try:
        processes.wait_http(f"{api}/api/v2/monitor/health", make, log)
        assert "auditor" in log.read_text(errors="replace"), "make airflow did not say how to sign in"
        admin = AirflowApi.sign_in(api, tmp_path / "airflow")
        listed = _dag_ids(admin)
        expected = {f"ingest_{name}" for name in load_contracts()} | {"build_warehouse", "retention"}
        assert expected <= listed
        page = _dags_page_lists(api, admin.token, listed)
        assert "Sign in" not in page and all(dag_id in page for dag_id in listed)
        assert "FileNotFoundError" not in log.read_text(errors="replace"), processes.tail(log)

        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C
        started = time.monotonic()
        stopped = processes.wait_session_gone(make.pid, STOP_SECONDS + 5)
        took = time.monotonic() - started
        assert stopped and took < STOP_SECONDS, (
            f"still running {took:.1f} s after Ctrl-C:\n{processes.tail(log)}"
        )
        print(f"every process of make airflow gone {took:.1f} s after Ctrl-C")
        assert "Shutting down components" in log.read_text(errors="replace")
    finally:
        processes.kill_session(make.pid)
        make.wait(timeout=10)
