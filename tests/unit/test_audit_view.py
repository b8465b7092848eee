"""The auditor's view: its figures against a small ledger described by hand (support.audit_ledger), the
anomaly band, the report's sha256, and who may use the routes (Airflow's real auth dependency and real
JWTs from the auth manager; the api-server and the browser are in tests/e2e/test_auditor_view_browser.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import statistics
from datetime import UTC, date, datetime, timedelta

import pytest

from community_dw import paths

from support import audit_ledger

NOW = datetime(2026, 12, 3, 10, 0)  # local
USERS = {"auditor": "viewer", "analyst": "viewer", "admin": "admin"}  # the auditor: [community_dw] auditors


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("audit-view") / "community.duckdb"
    audit_ledger.build(path)
    previous = os.environ.get("CDW_WAREHOUSE_PATH")
    os.environ["CDW_WAREHOUSE_PATH"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("CDW_WAREHOUSE_PATH")
    else:
        os.environ["CDW_WAREHOUSE_PATH"] = previous


@pytest.fixture(scope="module")
def shown(warehouse):
    from community_dw.audit_view import figures, store
    from community_dw.contracts import load_contracts

    with store.open_store() as s:
        return figures.compute(s, figures.Period(*audit_ledger.PERIOD), load_contracts(), NOW)


def test_figures_equal_the_ledger_as_described(shown):
    expected = audit_ledger.expected_totals()
    totals = shown.totals()
    for card in ("batches", "rows-received", "rows-loaded", "rows-quarantined", "rows-rejected"):
        assert totals[card.replace("-", " ")] == expected[card], card
    assert totals["deliveries rejected"] == 1
    assert totals["batches loaded with quarantine"] == 21 and totals["batches rejected"] == 1
    days = {d["day"]: d for d in shown.timeline[audit_ledger.SOURCE]}
    assert days[date(2026, 11, 20)]["rows quarantined"] == 300
    assert days[date(2026, 11, 22)]["rows rejected"] == 500 and days[date(2026, 11, 22)]["rows loaded"] == 0
    assert date(2026, 11, 21) not in days


def test_the_proof_checks_three_records_and_can_fail(shown):
    proofs = {b.batch_id: b.proof for b in shown.batches}
    good = proofs[f"{audit_ledger.SOURCE}/2026-11-03"]
    assert good["balanced"] and all(good["checks"].values())
    bad = proofs[f"{audit_ledger.SOURCE}/2026-11-05"]
    assert bad["balanced"] is False
    assert bad["checks"]["quarantine index rows = quarantined"] is False
    assert bad["checks"]["received = loaded + quarantined"] is True
    assert proofs[f"{audit_ledger.SOURCE}/2026-11-22"]["balanced"] is None  # nothing of it loaded
    statuses = {b.batch_id: b.status for b in shown.batches}
    assert statuses[f"{audit_ledger.SOURCE}/2026-11-22"] == "rejected"
    assert statuses[f"{audit_ledger.SOURCE}/2026-11-03"] == "loaded with quarantine"


def test_freshness_names_late_missing_and_rejected_intervals(shown):
    fresh = next(f for f in shown.freshness if f.source == audit_ledger.SOURCE)
    states = {i.start.date(): i.state for i in fresh.intervals}
    assert states[date(2026, 11, 21)] == "missing"
    assert states[date(2026, 11, 22)] == "rejected"
    assert states[date(2026, 11, 23)] == "late"
    assert [d for d, s in states.items() if s == "missing"] == [date(2026, 11, 21)] + [
        date(2026, 11, d) for d in range(24, 31)
    ]
    assert fresh.count("on time") == 20
    # A source that never delivered is not "missing" before it began.
    assert next(f for f in shown.freshness if f.source == "health_services").intervals == []


def test_anomaly_band_is_three_sigma_of_the_fourteen_days_before():
    from community_dw.audit_view import bands

    start = datetime(2026, 11, 1)
    values = [100.0 + (i % 4) for i in range(20)]
    values[16] = 160.0  # an outlier
    judged = bands.judge([(start + timedelta(days=i), v) for i, v in enumerate(values)])
    assert [j.judged for j in judged[:7]] == [False] * 7  # fewer than 7 days of history
    day16 = judged[16]
    training = values[2:16]  # the 14 days before 11-17
    assert day16.training_points == 14
    assert day16.mean == pytest.approx(statistics.fmean(training))
    assert day16.high == pytest.approx(statistics.fmean(training) + 3 * statistics.stdev(training))
    assert day16.anomalous and [j.at.day for j in judged if j.anomalous] == [17]
    # The outlier does not join the next days' training sets.
    assert judged[17].training_points == 13 and not judged[17].anomalous


def test_quarantine_rate_anomaly_is_flagged(shown):
    assert [(a["metric"], a["day"]) for a in shown.anomalies] == [("quarantine rate", date(2026, 11, 20))]


def test_report_has_the_period_and_the_sha256_of_the_ledger_rows(warehouse, tmp_path):
    import duckdb

    from community_dw.audit_view import figures, report

    written = report.write_report(report.month_before(date(2026, 12, 1)), NOW, folder=tmp_path, pdf=False)
    assert written.html.name == "data-quality-2026-11.html"
    html = written.html.read_text(encoding="utf-8")
    assert "2026-11-01 – 2026-11-30" in html and "2026-12-03 10:00:00" in html
    assert re.search(r'id="ledger-sha256">([0-9a-f]{64})<', html).group(1) == written.ledger_sha256
    assert "<script src=" not in html  # self-contained: plotly.js is inlined

    # Recomputed here from the ledger, by the documented rule.
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute(
        f"select {', '.join(figures.LEDGER_COLUMNS)} from audit.batch_ledger"
        " where batch_id like 'population_registry/2026-11-%' order by source, batch_id, recorded_at, status"
    ).fetchall()
    con.close()
    digest = hashlib.sha256()
    for row in rows:
        cells = [v.isoformat(timespec="microseconds") if isinstance(v, datetime) else v for v in row]
        digest.update(json.dumps(cells, ensure_ascii=False).encode("utf-8") + b"\n")
    assert written.ledger_rows == len(rows) == 22
    assert written.ledger_sha256 == digest.hexdigest()


def test_the_access_log_is_shown_or_said_to_be_unavailable_and_why(shown):
    import dataclasses

    from community_dw.audit_view import access_log, render

    assert not shown.access.available and shown.access.reason == access_log.DUCKDB_REASON
    for mode in ("page", "report"):
        html = render.render(shown, mode=mode)
        assert 'id="access-log-unavailable"' in html and "it has no roles" in html
    read = {
        "read_at": datetime(2026, 11, 20, 2, 0),
        "reader": "gw_li",
        "reader_groups": "cdw_grid_worker",
        "relation": "care.overdue_visits",
        "object_type": "TABLE",
        "command": "SELECT",
        "statement_class": "READ",
        "rows_read": 12,
        "audit_type": "OBJECT",
    }
    entry = {"reader": "gw_li", "groups": "cdw_grid_worker", "relation": "care.overdue_visits"}
    logged = access_log.AccessLogFigures(
        True,
        "pgaudit",
        datetime(2026, 11, 20, 3),
        [read],
        [entry | {"reads": 1, "rows": 12, "last": read["read_at"]}],
    )
    html = render.render(dataclasses.replace(shown, access=logged), mode="report")
    assert 'data-figure="person-level-reads">1<' in html and "access-log-unavailable" not in html
    assert re.search(
        r"<td>gw_li</td><td>cdw_grid_worker</td><td>care.overdue_visits</td>\s*<td class=\"n\">1</td>", html
    )


# --- routes: Airflow's real authentication -------------------------------------------------------


@pytest.fixture(scope="module")
def auth(airflow_db, warehouse):
    """Airflow's simple auth manager as the api-server creates it, the auditor listed, a JWT per user."""
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = ",".join(f"{u}:{r}" for u, r in USERS.items())
    os.environ["AIRFLOW__COMMUNITY_DW__AUDITORS"] = "auditor"
    manager = init_auth_manager()
    tokens = {u: manager.generate_jwt(SimpleAuthManagerUser(username=u, role=r)) for u, r in USERS.items()}
    yield manager, tokens
    for name in ("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "AIRFLOW__COMMUNITY_DW__AUDITORS"):
        os.environ.pop(name)


@pytest.fixture(scope="module")
def client(auth):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from community_dw.audit_view.app import URL_PREFIX, create_app

    root = FastAPI()
    root.mount(URL_PREFIX, create_app())
    return TestClient(root)


def _as(tokens, user):
    return {"Authorization": f"Bearer {tokens[user]}"} if user else {}


ROUTES = [
    "/auditor/",
    "/auditor/api/summary",
    "/auditor/batch?id=population_registry/2026-11-03",
    "/auditor/static/plotly.min.js",
    "/auditor/data-docs/index.html",
]


def test_routes_refuse_anonymous_and_non_auditors_and_serve_the_auditor(client, auth, tmp_path):
    _, tokens = auth
    site = tmp_path / "site"
    (site / "validations" / audit_ledger.SOURCE / "run" / "20261104T010000Z").mkdir(parents=True)
    page = (
        site
        / "validations"
        / audit_ledger.SOURCE
        / "run"
        / "20261104T010000Z"
        / "population_registry_2026-11-03.html"
    )
    page.write_text("<p>gx page</p>", encoding="utf-8")
    (site / "index.html").write_text("<p>index</p>", encoding="utf-8")
    os.environ["CDW_DATA_DOCS_DIR"] = str(site)
    try:
        for route in ROUTES:
            assert client.get(route).status_code == 401, route
            assert client.get(route, headers={"Authorization": "Bearer not-a-jwt"}).status_code in (401, 403)
            for user in ("analyst", "admin"):
                assert client.get(route, headers=_as(tokens, user)).status_code == 403, (route, user)
            assert client.get(route, headers=_as(tokens, "auditor")).status_code == 200, route
        batch = client.get(ROUTES[2], headers=_as(tokens, "auditor")).text
        link = re.search(r'id="data-docs-link" href="([^"]+)"', batch).group(1)
        assert client.get(link, headers=_as(tokens, "auditor")).text == "<p>gx page</p>"
        assert (
            client.get("/auditor/data-docs/../../etc/passwd", headers=_as(tokens, "auditor")).status_code
            == 404
        )
    finally:
        os.environ.pop("CDW_DATA_DOCS_DIR")


def test_page_escapes_messages_and_shows_no_identifier(client, auth):
    _, tokens = auth
    for route in ROUTES[:3]:
        answer = client.get(
            route + ("&" if "?" in route else "?") + "start=2026-11-01&end=2026-11-30",
            headers=_as(tokens, "auditor"),
        )
        body = answer.text
        if answer.headers["content-type"].startswith("text/html"):
            assert "<script>window.__pwned" not in body
        else:  # JSON carries the message as data, never as markup
            assert (
                answer.headers["content-type"] == "application/json"
                and answer.headers["x-content-type-options"] == "nosniff"
            )
        for secret in audit_ledger.SECRET_VALUES:
            assert secret not in body, (route, secret)
    page = client.get("/auditor/?start=2026-11-01&end=2026-11-30", headers=_as(tokens, "auditor")).text
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert (
        "default-src 'self'"
        in client.get("/auditor/", headers=_as(tokens, "auditor")).headers["content-security-policy"]
    )


def test_the_auditor_role_fails_closed(client, auth, monkeypatch):
    """No listed auditor: nobody. A listed admin: refused too (an auditor reads Airflow as a viewer)."""
    _, tokens = auth
    monkeypatch.setenv("AIRFLOW__COMMUNITY_DW__AUDITORS", "")
    assert client.get("/auditor/", headers=_as(tokens, "auditor")).status_code == 403
    monkeypatch.setenv("AIRFLOW__COMMUNITY_DW__AUDITORS", "auditor,admin")
    assert client.get("/auditor/", headers=_as(tokens, "admin")).status_code == 403
    assert client.get("/auditor/", headers=_as(tokens, "auditor")).status_code == 200


def test_only_an_auditor_records_a_review(client, auth, warehouse):
    import duckdb

    _, tokens = auth
    form = {
        "kind": "rejected_batch",
        "key": "population_registry/2026-11-22@2026-11-22T17:05:00",
        "comment": "producer resent it",
        "back": "/auditor/?start=2026-11-01&end=2026-11-30",
    }
    for user in (None, "analyst", "admin"):
        refused = client.post(
            "/auditor/acknowledge", data=form, headers=_as(tokens, user), follow_redirects=False
        )
        assert refused.status_code in (401, 403), user
    foreign = client.post(
        "/auditor/acknowledge",
        data=form,
        follow_redirects=False,
        headers=_as(tokens, "auditor") | {"Origin": "https://elsewhere.example"},
    )
    assert foreign.status_code == 403
    con = duckdb.connect(str(warehouse), read_only=True)
    assert (
        con.execute(
            "select count(*) from information_schema.tables where table_name = 'acknowledgements'"
        ).fetchone()[0]
        == 0
    )
    con.close()

    done = client.post(
        "/auditor/acknowledge", data=form, headers=_as(tokens, "auditor"), follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == form["back"]
    con = duckdb.connect(str(warehouse), read_only=True)
    stored = con.execute(
        "select finding_kind, finding_key, comment, acknowledged_by, acknowledged_as,"
        " acknowledged_at from audit.acknowledgements"
    ).fetchall()
    con.close()
    assert [r[:5] for r in stored] == [
        ("rejected_batch", form["key"], "producer resent it", "auditor", "viewer")
    ]
    assert abs(stored[0][5] - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=1)
    page = client.get(form["back"], headers=_as(tokens, "auditor")).text
    assert "reviewed by auditor (viewer)" in page and "producer resent it" in page


def test_dbt_docs_need_a_signed_in_user(auth, tmp_path, monkeypatch):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    _, tokens = auth
    (tmp_path / "index.html").write_text("<html><head></head><body>dbt docs</body></html>", encoding="utf-8")
    monkeypatch.setenv(
        "AIRFLOW__COSMOS__DBT_DOCS_PROJECTS", json.dumps({"community_dw": {"dir": str(tmp_path)}})
    )
    spec = importlib.util.spec_from_file_location(
        "cdw_dbt_docs_plugin", paths.PROJECT_ROOT / "plugins" / "dbt_docs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plugin = module.DbtDocsPlugin()
    assert plugin.name == "cosmos" and len(plugin.external_views) == 1
    root = FastAPI()
    root.mount("/cosmos", plugin.fastapi_apps[0]["app"])
    client = TestClient(root)
    route = "/cosmos/community_dw/dbt_docs_index.html"
    assert client.get(route).status_code == 401
    assert client.get("/cosmos/openapi.json").status_code == 404
    served = client.get(route, headers=_as(tokens, "analyst"))
    assert served.status_code == 200 and "dbt docs" in served.text
