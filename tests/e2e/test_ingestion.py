"""End to end for the other four sources through their real transports and real Airflow runs.

Civil affairs and health arrive as file drops, telecom as hourly object-storage partitions
(`file://`), appeals from the project's HTTP API server on localhost with its 429 / 500 / slow-page
faults switched on. Every injected defect must be quarantined for its reason and every ledger balance.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from community_dw import ingest, paths, warehouse
from community_dw_tools.devserver.appeals_api import Faults

from support.airflow import appeals_api_server, hourly_run_date, interval_run_date, run_dag

pytestmark = pytest.mark.e2e

DAY = dt.date(2026, 11, 25)
TELECOM_HOURS = (10, 19)


def _query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection() as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def runs(city) -> dict[str, str]:
    states = {}
    for source in ("civil_affairs_assistance", "health_services"):
        states[source] = run_dag(f"ingest_{source}", interval_run_date(DAY))
    for hour in TELECOM_HOURS:
        start = dt.datetime(DAY.year, DAY.month, DAY.day, hour)
        states[f"telecom_stays {hour}"] = run_dag("ingest_telecom_stays", hourly_run_date(start))
    # Page size 100 fits the small city in one page: put every fault on page 1 so the run meets them.
    with appeals_api_server(Faults(rate_limit_page=1, error_page=1, slow_page=1, slow_seconds=0.5)) as server:
        # The whole generated period (ticket versions continue after the first day) in one window.
        window = {"interval_start": f"{DAY}T00:00", "interval_end": f"{DAY + dt.timedelta(days=2)}T00:00"}
        states["appeals"] = run_dag("ingest_appeals", interval_run_date(DAY), conf=window)
        states["appeals_faults"] = dict(server.hits)
    return states


def test_every_run_succeeds(runs):
    assert {k: v for k, v in runs.items() if k != "appeals_faults"} == dict.fromkeys(
        [k for k in runs if k != "appeals_faults"], "success"
    )


def test_api_faults_were_met_and_survived(runs):
    assert runs["appeals_faults"].get(429, 0) >= 1
    assert runs["appeals_faults"].get(500, 0) >= 1


@pytest.mark.parametrize(
    "source", ["civil_affairs_assistance", "health_services", "telecom_stays", "appeals"]
)
def test_ledger_balances(runs, source):
    rows = _query(
        "select received_rows, loaded_rows, quarantined_rows from audit.batch_ledger "
        "where source = ? and status = 'loaded'",
        [source],
    )
    assert rows, f"no loaded batch for {source}"
    for received, loaded, quarantined in rows:
        assert received == loaded + quarantined
    loaded_total = sum(r[1] for r in rows)
    assert _query(f"select count(*) from raw.{source}")[0][0] == loaded_total


def test_injected_appeal_defects_are_quarantined_for_their_reason(runs, city):
    tickets = json.loads(
        (paths.sources_dir() / "api" / "appeals" / "tickets.json").read_text(encoding="utf-8")
    )
    defects = [d for d in city["defects"] if d["source"] == "appeals"]
    assert defects
    for defect in defects:
        version = tickets[defect["row"] - 1]
        held = _query(
            "select _reasons from raw.appeals_quarantine where ticket_id = ? and updated_at = ?",
            [version["ticket_id"], version["updated_at"]],
        )
        assert held and defect["expected_reason"] in held[0][0], defect


@pytest.mark.parametrize("source", ["civil_affairs_assistance", "health_services", "telecom_stays"])
def test_injected_defects_are_quarantined_for_their_reason(runs, city, source):
    files = {f for (f,) in _query("select distinct file from audit.batch_ledger where source = ?", [source])}
    defects = [
        d for d in city["defects"] if d["source"] == source and any(d["file"].endswith(f) for f in files)
    ]
    assert defects, f"the generator injected no {source} defects into the ingested files"
    caught = set(
        _query("select file, source_row, reason_code from audit.quarantine_index where source = ?", [source])
    )
    missed = [
        d
        for d in defects
        if not any(d["file"].endswith(f) and (f, d["row"], d["expected_reason"]) in caught for f in files)
    ]
    assert missed == []


def test_appeal_descriptions_hold_no_phone_or_id_numbers(runs, city):
    import re

    texts = [t for (t,) in _query("select description from raw.appeals where description is not null")]
    assert any("[PHONE]" in t or "[ID]" in t for t in texts), "the generator put PII in some descriptions"
    leaks = [t for t in texts if re.search(r"1[3-9]\d{9}|\d{17}[\dXx]", t)]
    assert leaks == []


def test_resident_pseudonyms_join_across_departments_and_telecom_does_not(runs):
    shared = _query(
        "select count(*) from raw.civil_affairs_assistance c join vault.identities v "
        "on v.domain = 'resident' and v.pseudonym = c.resident_id"
    )[0][0]
    assert shared > 0
    assert _query("select count(*) from vault.identities where domain = 'telecom'")[0][0] == 0
    telecom_in_resident_domain = _query(
        "select count(*) from raw.telecom_stays t join vault.identities v on v.pseudonym = t.msisdn_hash"
    )[0][0]
    assert telecom_in_resident_domain == 0


def test_no_direct_identifier_in_raw_audit_or_dq_results(runs, city):
    originals = {v for (v,) in _query("select original_value from vault.identities")}
    for schema in ("raw", "audit"):
        tables = [
            t
            for (t,) in _query(
                "select table_name from information_schema.tables where table_schema = ?", [schema]
            )
        ]
        for table in tables:
            for (column,) in _query(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [schema, table],
            ):
                values = {str(v) for (v,) in _query(f'select distinct "{column}" from {schema}.{table}')}
                assert not values & originals, f"{schema}.{table}.{column} holds direct identifiers"


def test_crash_mid_load_leaves_the_previous_state_and_rerun_is_consistent(runs):
    source = "civil_affairs_assistance"
    before = _query(f"select count(*) from raw.{source}")[0][0]
    landed = ingest.land(source, dt.datetime(2026, 11, 25), dt.datetime(2026, 11, 26))
    validated = ingest.validate(ingest.protect_identities(landed, "crash-test"), "crash-test")
    # The crash: the quarantine index file vanishes after raw rows were already deleted and re-inserted.
    (paths.work_dir() / landed.batch_id / "problems.arrow").unlink()
    with pytest.raises(Exception, match=r"problems\.arrow"):
        ingest.load(validated, "crash-test")
    assert _query(f"select count(*) from raw.{source}")[0][0] == before
    again = ingest.load(
        ingest.validate(ingest.protect_identities(landed, "crash-test-rerun"), "crash-test-rerun"),
        "crash-test-rerun",
    )
    assert again["loaded"] + again["quarantined"] == again["received"]
    assert _query(f"select count(*) from raw.{source}")[0][0] == before
    assert (
        _query("select count(*) from audit.batch_ledger where source = ? and status = 'loaded'", [source])[0][
            0
        ]
        == 1
    )


def test_data_docs_list_every_validated_batch_offline(runs):
    """The auditor's index renders (its table is built by scripts) with the network cut off."""
    from community_dw import data_docs

    from support.browser import rendered_dom

    stored = list((data_docs.store_dir() / "validations").rglob("*.json"))
    batches = {row for (row,) in _query("select distinct batch_id from audit.dq_results")}
    assert len(stored) >= len(batches) > 0
    index = data_docs.site_dir() / "index.html"
    dom = rendered_dom(index)
    assert f"of {len(stored)} rows" in dom or f"Showing 1 to {len(stored)} " in dom, dom[-3000:]
    for source in ("civil_affairs_assistance", "health_services", "telecom_stays", "appeals"):
        assert f"{source}_" in dom
    pages = list((data_docs.site_dir() / "validations").rglob("*.html"))
    assert len(pages) == len(stored)
    page = rendered_dom(next(p for p in pages if "civil_affairs_assistance" in str(p)))
    assert "Unsuccessful Expectations" in page and "unexpected values found" in page
    for html in [index, *pages]:
        fetched = re.findall(
            r'(?:<script|<link|<img)[^>]*(?:src|href)="(https?://[^"]+)"', html.read_text("utf-8")
        )
        assert not fetched, f"{html} loads {fetched[:3]} from the internet"


def test_data_docs_and_gx_results_hold_no_identifier_or_pseudonym(runs):
    """Pages and stored GX results carry counts only: no original value and no pseudonym."""
    from community_dw import data_docs

    secrets = {
        v
        for pair in _query("select original_value, pseudonym from vault.identities")
        for v in pair
        if v and len(v) >= 6
    }
    assert secrets
    files = [p for p in data_docs.site_dir().parent.rglob("*") if p.suffix in (".html", ".json")]
    assert files
    for file in files:
        tokens = set(re.findall(r"[0-9A-Za-z\u4e00-\u9fff]+", file.read_text(encoding="utf-8")))
        leaked = tokens & secrets
        assert not leaked, f"{file} holds {len(leaked)} identifiers or pseudonyms"
