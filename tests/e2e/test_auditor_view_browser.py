"""The auditor's view in a real Airflow api-server, read by headless Chromium signed in as the auditor.

The server loads this repository's plugins folder with `community_dw.audit_view.local_airflow`'s users
(the ones `make airflow` creates) and reads the small ledger of support.audit_ledger. The browser takes
the auditor's JWT from the server's own login endpoint and opens the page as the UI's cookie would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from community_dw import paths

from support import audit_ledger
from support.cdp import Browser

pytestmark = pytest.mark.e2e
PERIOD = "start=2026-11-01&end=2026-11-30"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, token: str | None = None, body: dict | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data, headers = json.dumps(body).encode(), headers | {"Content-Type": "application/json"}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, headers=headers), timeout=30
        ) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()
    except urllib.error.URLError:  # not listening yet
        return 0, b""


@pytest.fixture(scope="module")
def server(airflow_db, tmp_path_factory):
    """`airflow api-server` on a free port with the plugins, the local users and the test ledger."""
    from community_dw.audit_view import local_airflow

    folder = tmp_path_factory.mktemp("auditor-view-server")
    audit_ledger.build(folder / "community.duckdb")
    home = Path(os.environ["AIRFLOW_HOME"])
    env = dict(os.environ)
    saved = {
        k: os.environ.get(k)
        for k in (
            "AIRFLOW__COMMUNITY_DW__AUDITORS",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
            "AIRFLOW__COSMOS__DBT_DOCS_PROJECTS",
        )
    }
    passwords = local_airflow.configure(home)
    env |= {k: os.environ[k] for k in saved}
    for key, value in saved.items():  # keep the rest of the session's process as it was
        if value is None:
            os.environ.pop(key)
        else:
            os.environ[key] = value
    port = _free_port()
    env |= {
        "CDW_WAREHOUSE_PATH": str(folder / "community.duckdb"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(paths.PROJECT_ROOT / "plugins"),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": "auditor-view-test-secret-" + "x" * 40,
    }
    log = (folder / "api-server.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "airflow"),
            "api-server",
            "--port",
            str(port),
            "--workers",
            "1",
            "--host",
            "127.0.0.1",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while _request(f"{base}/api/v2/monitor/health")[0] != 200:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"api-server did not start:\n{(folder / 'api-server.log').read_text()[-3000:]}")
        time.sleep(1)
    tokens = {}
    for user, password in passwords.items():
        status, body = _request(f"{base}/auth/token", body={"username": user, "password": password})
        assert status == 201, body
        tokens[user] = json.loads(body)["access_token"]
    yield base, tokens
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


def test_the_api_server_refuses_anonymous_and_the_analyst(server):
    base, tokens = server
    assert _request(f"{base}/auditor/")[0] == 401
    assert _request(f"{base}/auditor/api/summary", tokens["analyst"])[0] == 403
    assert _request(f"{base}/auditor/", tokens["admin"])[0] == 403
    assert _request(f"{base}/cosmos/community_dw/dbt_docs_index.html")[0] == 401  # dbt docs: signed in only
    _, body = _request(f"{base}/api/v2/plugins", tokens["analyst"])
    views = {v["name"]: v["href"] for p in json.loads(body)["plugins"] for v in p["external_views"]}
    assert views["Auditor view"] == "/auditor/"
    assert "dbt docs (community-dw)" in views


def test_auditor_sees_the_ledgers_numbers_charts_and_an_escaped_rejection(server, tmp_path):
    base, tokens = server
    status, body = _request(f"{base}/auditor/api/summary?{PERIOD}", tokens["auditor"])
    assert status == 200
    for secret in audit_ledger.SECRET_VALUES:
        assert secret.encode() not in body
    with Browser() as browser:
        browser.set_cookie(base, "_token", tokens["auditor"])
        browser.open(
            f"{base}/auditor/?{PERIOD}",
            ready="document.querySelector('#totals') !== null"
            " && [...document.querySelectorAll('.chart')].every(c => c.dataset.rendered === 'true')",
        )
        cards = browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('[data-figure]')].map(e => [e.dataset.figure, e.textContent]))"
        )
        charts = browser.evaluate("document.querySelectorAll('.chart .main-svg').length")
        pwned = browser.evaluate("typeof window.__pwned")
        injected_tags = browser.evaluate(
            "document.querySelectorAll('.rejection-detail script, .rejection-detail b').length"
        )
        shown = browser.evaluate("document.querySelector('.rejection-detail').textContent")
        html = browser.evaluate("document.documentElement.outerHTML")
        browser.screenshot(tmp_path / "auditor-view.png")
    expected = audit_ledger.expected_totals()
    assert {k: cards[k].replace(",", "") for k in expected} == {
        k: str(v).replace(",", "") for k, v in expected.items()
    }
    assert cards["anomalies"] == "1"
    assert charts >= 3
    assert pwned == "undefined" and injected_tags == 0
    assert audit_ledger.INJECTED in shown and "TRUNCATED_FILE" in shown
    for secret in audit_ledger.SECRET_VALUES:
        assert secret not in html
    assert (tmp_path / "auditor-view.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_monthly_report_prints_to_pdf(tmp_path):
    """The report's PDF, printed by headless Chromium from the self-contained HTML."""
    from datetime import datetime

    from community_dw.audit_view import figures, render, report

    audit_ledger.build(tmp_path / "community.duckdb")
    os.environ["CDW_WAREHOUSE_PATH"] = str(tmp_path / "community.duckdb")
    try:
        written = report.write_report(
            figures.Period(*audit_ledger.PERIOD), datetime(2026, 12, 1, 4, 0), folder=tmp_path
        )
    finally:
        os.environ.pop("CDW_WAREHOUSE_PATH")
    assert written.pdf is not None and written.pdf.read_bytes()[:5] == b"%PDF-"
    assert written.pdf.stat().st_size > 20_000
    assert render.plotly_js()[:200] in written.html.read_text(encoding="utf-8")
