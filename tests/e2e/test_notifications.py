"""Notifications end to end, with real receivers: an SMTP server (aiosmtpd) and an HTTP webhook receiver
on localhost (community_dw_tools.devserver.receivers), a generated city of 300 residents over two days.

In order, as the schedules would meet them: the generated crowd spike (day 2, 19-20h) reaches the
duty contact in the build after its first hour and "dispersed" after 21h; a ticket left unanswered
past its response SLA reaches the appeals contact, and "answered" once a response arrives; a withheld
health extract (the sensor gives up) and the generator's truncated register file reach their data
owners, the first again as "arrived" once delivered. Each produces exactly one message per contact;
reruns produce none. Then: nothing under k or identifying in any message, every message in
audit.notifications, lineage events for every task, and crowd_alerts traced to its telecom batches.

The module works in its own sources, landing, work and warehouse folders and its own recipients file.
The build DAG runs with its dbt, release and declare tasks marked successful (dbt itself is run
here on the few models the notifications read: the whole build takes ~100 s under dag.test()).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from community_dw import paths, warehouse
from community_dw.disclosure.policy import load_policy
from community_dw_tools.devserver.appeals_api import Faults
from community_dw_tools.devserver.receivers import Inbox, local_receivers

from support import own_data_folders
from support.airflow import appeals_api_server, hourly_run_date, interval_run_date, run_dag

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600, method="thread")]

DAY0, DAY1 = dt.date(2026, 11, 24), dt.date(2026, 11, 25)
TELECOM_FIRST = [(DAY0, 19), (DAY0, 20), (DAY0, 21), (DAY1, 19)]
RECIPIENTS = """
channels:
  email: {conn_id: cdw_test_smtp, from: warehouse@test.example}
  webhook: {endpoint: /hooks/cdw}
communities:
  default:
    duty: [{email: duty@community.example}, {webhook: cdw_test_webhook}]
    appeals: [{email: appeals@community.example}]
sources:
  default:
    data_owner: [{email: owner@source.example}]
  population_registry:
    data_owner: [{webhook: cdw_test_webhook}]
"""
BUILD_STAND_INS = r"dbt\..*|declare_raw_tables|publish_release"


@dataclass
class World:
    inbox: Inbox
    sidecar: dict
    build_runs: list
    # Lineage events already in the session's file: dag.test() run ids repeat across test modules (the
    # same DAG and interval), so this module counts only the events written after it began.
    lineage_before: int = 0

    def lineage(self) -> list[dict]:
        from community_dw.lineage import lineage_events

        return lineage_events()[self.lineage_before :]


def _query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection() as con:
        return con.execute(sql, params or []).fetchall()


def _build(world: World) -> None:
    """dbt on the models the notifications read, then build_warehouse with everything else stood in."""
    from airflow.dag_processing.dagbag import DagBag

    from community_dw.dbt_runner import invoke

    warehouse.declare_all_raw_tables()  # as the DAG's first task does
    target = ["--target-path", str(paths.work_dir() / "dbt-target"), "--quiet"]
    invoke(["seed", "--select", "ref_divisions", *target])
    invoke(["run", "--select", "+crowd_alerts", "+int_appeal_lifecycle", "int_communities", *target])
    dag = DagBag(dag_folder=str(paths.DAGS_DIR / "build_warehouse.py")).dags["build_warehouse"]
    run = dag.test(mark_success_pattern=BUILD_STAND_INS)
    assert str(run.state) == "success"
    world.build_runs.append(run.run_id)


def _received(inbox: Inbox, since: tuple[int, int] = (0, 0)) -> list[dict]:
    """Messages received after `since` (e-mails, webhook posts), as {channel, to, subject, digest, text,
    events}; `to` is the recipient as audit.notifications names it."""
    out = []
    for message in inbox.emails[since[0] :]:
        out.append(
            {
                "channel": "email",
                "to": f"email:{message['To']}",
                "subject": str(message["Subject"]),
                "digest": message["X-CDW-Digest"],
                "text": message.get_body(("html",)).get_content(),
            }
        )
    for path, _headers, payload in inbox.posts[since[1] :]:
        assert path == "/hooks/cdw"
        out.append(
            {
                "channel": "webhook",
                "to": payload["recipient"],
                "subject": payload["subject"],
                "digest": payload["digest"],
                "text": json.dumps(payload, ensure_ascii=False),
                "events": payload["events"],
            }
        )
    return out


def _new(world: World, before: tuple[int, int]) -> list[dict]:
    return _received(world.inbox, before)


def _count(world: World) -> tuple[int, int]:
    return len(world.inbox.emails), len(world.inbox.posts)


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dbt_manifest):
    from community_dw_tools.synthetic import generate_city

    root = tmp_path_factory.mktemp("notifications")
    recipients = root / "recipients.yml"
    recipients.write_text(RECIPIENTS, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        own_data_folders(patch, root)
        patch.setenv("CDW_RECIPIENTS_FILE", str(recipients))
        generate_city(paths.sources_dir(), residents=300, days=2, seed=11, defect_rate=0.002, start_date=DAY0)
        sidecar = json.loads((paths.sources_dir() / "defects.json").read_text(encoding="utf-8"))
        from community_dw.lineage import lineage_events

        with local_receivers() as inbox:
            yield World(inbox, sidecar, [], len(lineage_events()))


def _telecom(day: dt.date, hour: int) -> None:
    start = dt.datetime(day.year, day.month, day.day, hour)
    assert run_dag("ingest_telecom_stays", hourly_run_date(start)) == "success"


def _by_channel(messages: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for message in messages:
        out.setdefault(message["to"], []).append(message)
    return out


# --- crowd -------------------------------------------------------------------------------------------


def test_a_crowd_spike_reaches_the_duty_contact_once_in_its_hours_build(world):
    spike = next(e for e in world.sidecar["events"] if e["event"] == "crowd_spike")
    assert spike["date"] == DAY1.isoformat()
    for day, hour in TELECOM_FIRST:
        _telecom(day, hour)
    before = _count(world)
    _build(world)
    messages = _by_channel(_new(world, before))
    assert sorted(messages) == ["email:duty@community.example", "webhook:cdw_test_webhook"]
    assert all(len(m) == 1 for m in messages.values())
    [posted] = messages["webhook:cdw_test_webhook"]
    alerts = [e for e in posted["events"] if e["kind"] == "crowd_alert"]
    spiked = [
        e
        for e in alerts
        if e["facts"]["grid_code"] == spike["grid_code"] and e["facts"]["devices"] == "visitor"
    ]
    assert [(e["state"], e["facts"]["hour"]) for e in spiked] == [("open", "2026-11-25 19:00")]
    facts = spiked[0]["facts"]
    hour = dt.datetime(DAY1.year, DAY1.month, DAY1.day, 19)
    [(present,)] = _query(
        "select count(distinct msisdn_hash) from raw.telecom_stays where grid_code = ? and user_type = 'visitor'"
        " and stay_start >= ? and stay_start < ?",
        [spike["grid_code"], hour, hour + dt.timedelta(hours=1)],
    )
    assert facts["level"] == present >= spike["spike_visitors"][0] - 3
    assert facts["usual_level"] == "fewer than 20"  # the usual 1 visitor is under k for devices
    assert facts["factor"] == "above 3" and facts["alert_factor"] == 3
    [mail] = messages["email:duty@community.example"]
    assert spike["grid_code"] in mail["text"] and "2026-11-25 19:00" in mail["text"]
    assert mail["digest"] != posted["digest"]  # one message per recipient, each with its own digest


def test_a_continuing_crowd_sends_nothing_and_its_dispersal_a_follow_up(world):
    spike = next(e for e in world.sidecar["events"] if e["event"] == "crowd_spike")
    _telecom(DAY1, 20)
    before = _count(world)
    _build(world)
    assert _new(world, before) == [], "the same crowd an hour later is the same event"
    _telecom(DAY1, 21)
    before = _count(world)
    _build(world)
    messages = _by_channel(_new(world, before))
    assert sorted(messages) == ["email:duty@community.example", "webhook:cdw_test_webhook"]
    [posted] = messages["webhook:cdw_test_webhook"]
    resolved = [
        e
        for e in posted["events"]
        if e["facts"]["grid_code"] == spike["grid_code"] and e["facts"]["devices"] == "visitor"
    ]
    assert [(e["state"], e["facts"]["dispersed_by"]) for e in resolved] == [("resolved", "2026-11-25 21:00")]
    assert resolved[0]["facts"]["last_alerting_hour"] == "2026-11-25 20:00"


# --- appeals -----------------------------------------------------------------------------------------


def _tickets_file() -> Path:
    return paths.sources_dir() / "api" / "appeals" / "tickets.json"


def _pull_appeals(start: str, end: str) -> None:
    with appeals_api_server(Faults.none()):
        assert (
            run_dag(
                "ingest_appeals", interval_run_date(DAY0), conf={"interval_start": start, "interval_end": end}
            )
            == "success"
        )


@pytest.fixture(scope="module")
def unanswered(world) -> dict:
    """A clean day-0 ticket the community never answers: its versions after `dispatched` withheld."""
    versions = json.loads(_tickets_file().read_text(encoding="utf-8"))
    defective = {d["row"] for d in world.sidecar["defects"] if d["source"] == "appeals"}
    clean = {v["ticket_id"] for n, v in enumerate(versions, 1) if n not in defective}
    dirty = {v["ticket_id"] for n, v in enumerate(versions, 1) if n in defective}
    chosen = next(
        v
        for v in versions
        if v["status"] == "dispatched"
        and v["ticket_id"] in clean - dirty
        and v["received_at"] < f"{DAY0} 10:00"
    )
    kept = [
        v
        for v in versions
        if v["ticket_id"] != chosen["ticket_id"] or v["status"] in ("received", "dispatched")
    ]
    _write_tickets(kept)
    return {"ticket": chosen, "kept": kept, "versions": versions}


def _write_tickets(versions: list[dict]) -> None:
    ordered = sorted(versions, key=lambda v: (v["updated_at"], v["ticket_id"]))
    _tickets_file().write_text(json.dumps(ordered, ensure_ascii=False), encoding="utf-8")


def test_a_ticket_past_its_response_sla_reaches_the_appeals_contact_once(world, unanswered):
    ticket = unanswered["ticket"]
    _pull_appeals(f"{DAY0}T00:00", f"{DAY1}T12:00")
    before = _count(world)
    _build(world)
    messages = _by_channel(_new(world, before))
    assert (
        list(messages) == ["email:appeals@community.example"]
        and len(messages["email:appeals@community.example"]) == 1
    )
    [mail] = messages["email:appeals@community.example"]
    # as of the latest version delivered, the response was due 24 h after receipt
    [(as_of,)] = _query("select max(updated_at) from raw.appeals")
    due = dt.datetime.fromisoformat(ticket["received_at"]) + dt.timedelta(hours=24)
    block = mail["text"].split(f"Ticket {ticket['ticket_id']} past its response SLA")[1].split("\n\n")[0]
    assert f"category: {ticket['category_code']}" in block
    assert f"due_at: {due:%Y-%m-%d %H:%M}" in block and "sla_hours: 24" in block
    [overdue] = re.findall(r"hours_overdue: ([\d.]+)", block)
    assert abs(float(overdue) - (as_of - due).total_seconds() / 3600) <= 0.05
    before = _count(world)
    _build(world)
    assert _new(world, before) == [], "a rebuild tells nobody again"


def test_an_answered_ticket_sends_a_resolved_follow_up(world, unanswered):
    ticket = unanswered["ticket"]
    answered = f"{DAY1} 13:00:00"
    answer = ticket | {"status": "responded", "responded_at": answered, "updated_at": answered}
    _write_tickets([*unanswered["kept"], answer])
    _pull_appeals(f"{DAY1}T12:00", f"{DAY1 + dt.timedelta(days=1)}T00:00")
    before = _count(world)
    _build(world)
    [mail] = [m for m in _new(world, before) if m["to"] == "email:appeals@community.example"]
    block = mail["text"].split(f"RESOLVED: Ticket {ticket['ticket_id']}: response given")[1].split("\n\n")[0]
    assert f"at: {answered[:16]}" in block and "outcome: response given" in block


# --- deliveries --------------------------------------------------------------------------------------


def _health_files(day: dt.date) -> list[Path]:
    folder = paths.sources_dir() / "file_drop" / "health_services"
    return sorted(folder.glob(f"health_services_{day:%Y%m%d}.jsonl*"))


def _run_with_short_deadline(dag_id: str, run_after) -> str:
    """The real ingestion DAG with its sensor's deadline cut to half a second (poke every second)."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(paths.DAGS_DIR / f"{dag_id}.py")).dags[dag_id]
    sensor = dag.get_task("wait_for_delivery")
    sensor.timeout, sensor.poke_interval = 0.5, 1
    return str(dag.test(run_after=run_after, logical_date=run_after).state)


def test_a_withheld_delivery_reaches_the_data_owner_once_and_its_arrival_too(world, tmp_path):
    files = _health_files(DAY0)
    assert len(files) == 2  # the extract and its manifest
    for f in files:
        shutil.move(f, tmp_path / f.name)
    before = _count(world)
    assert _run_with_short_deadline("ingest_health_services", interval_run_date(DAY0)) == "failed"
    messages = _new(world, before)
    assert [(m["channel"], m["to"]) for m in messages] == [("email", "email:owner@source.example")]
    block = messages[0]["text"].split(
        "health_services: extract for 2026-11-24 00:00 - 2026-11-25 00:00 missing"
    )[1]
    assert "waited_hours: 0.0" in block
    before = _count(world)
    assert _run_with_short_deadline("ingest_health_services", interval_run_date(DAY0)) == "failed"
    assert _new(world, before) == [], "a rerun that still finds nothing tells nobody again"
    for f in files:
        shutil.move(tmp_path / f.name, f)
    before = _count(world)
    assert run_dag("ingest_health_services", interval_run_date(DAY0)) == "success"
    messages = _new(world, before)
    assert [(m["channel"], m["to"]) for m in messages] == [("email", "email:owner@source.example")]
    assert (
        "RESOLVED: health_services: extract for 2026-11-24 00:00 - 2026-11-25 00:00 arrived"
        in messages[0]["text"]
    )


def test_a_truncated_file_reaches_the_data_owner_once_with_the_rejection_message(world):
    [variant] = [b for b in world.sidecar["batch_defects"] if b["kind"] == "truncated"]
    delivered = paths.sources_dir() / "file_drop" / "population_registry" / Path(variant["file"]).name
    for name in (variant["file"], variant["manifest"]):
        shutil.copyfile(paths.sources_dir() / name, delivered.parent / Path(name).name)
    before = _count(world)
    assert run_dag("ingest_population_registry", interval_run_date(DAY0)) == "failed"
    messages = _new(world, before)
    assert [(m["channel"], m["to"]) for m in messages] == [("webhook", "webhook:cdw_test_webhook")]
    [event] = messages[0]["events"]
    assert (event["kind"], event["state"], event["facts"]["rule"]) == (
        "batch_rejected",
        "open",
        "MANIFEST_SHA256",
    )
    [(detail,)] = _query(
        "select rejection_detail from audit.batch_ledger where source = 'population_registry' and status = 'rejected'"
    )
    assert event["facts"]["message"] == detail and "sha256" in detail
    before = _count(world)
    assert run_dag("ingest_population_registry", interval_run_date(DAY0)) == "failed"
    assert _new(world, before) == [], "the same file refused again is the same event"


# --- what left, and what was kept --------------------------------------------------------------------


def test_nothing_identifying_or_under_k_leaves_in_any_message(world, unanswered):
    messages = _received(world.inbox)
    assert len(messages) >= 9
    text = "\n".join(m["text"] + m["subject"] for m in messages)
    identifying = {v for (v,) in _query("select original_value from vault.identities")}
    for version in unanswered["versions"]:  # what the feed delivered, before pseudonyms and redaction
        identifying |= {version["reporter_phone"], version["reporter_id"], version["description"]}
    identifying |= {p for row in _query("select reporter_phone, reporter_id from raw.appeals") for p in row}
    identifying |= {h for (h,) in _query("select distinct msisdn_hash from raw.telecom_stays")}
    identifying.discard(None)
    assert len(identifying) > 500
    leaked = [value for value in identifying if value in text]
    assert leaked == []
    assert not re.search(r"1[3-9]\d{9}|\d{17}[\dXx]", text), "a phone or ID number pattern in a message"
    k = load_policy().k_for("device")
    counts = [
        e["facts"][name]
        for m in messages
        for e in m.get("events", [])
        for name in ("level", "usual_level", "peak_level")
        if name in e["facts"]
    ]
    assert counts and all((isinstance(c, str) and c.startswith("fewer than")) or c >= k for c in counts)


def test_every_message_received_is_recorded_in_audit(world):
    received = {m["digest"]: m for m in _received(world.inbox)}
    recorded = _query("select distinct message_digest, recipient from audit.notifications")
    assert {d for d, _ in recorded} == set(received)
    for digest, recipient in recorded:
        message = received[digest]
        assert recipient == message["to"]


def test_every_task_of_an_ingestion_run_emits_lineage_events(world):
    from community_dw.lineage import task_events

    [(run_id,)] = _query(
        "select run_id from audit.batch_ledger where batch_id = 'telecom_stays/2026-11-25T19' and status = 'loaded'"
    )
    per_task = task_events(world.lineage(), "ingest_telecom_stays", run_id)
    assert set(per_task) == {
        "wait_for_delivery",
        "land_batch",
        "protect_identities",
        "validate_batch",
        "load_batch",
    }
    assert all(c["START"] == 1 and c["COMPLETE"] == 1 for c in per_task.values()), per_task
    notified = task_events(world.lineage(), "build_warehouse", world.build_runs[0])
    assert notified["notify_communities"]["COMPLETE"] == 1


def test_crowd_alerts_trace_back_to_the_telecom_batches_that_fed_them(world):
    from community_dw.audit_view.store import AuditStore
    from community_dw.lineage import trace

    with warehouse.connection() as con:
        traced = trace("marts.crowd_alerts", store=AuditStore(con, "duckdb"))
    assert traced.path[:2] == ["int_grid_presence_hourly", "stg_telecom_stays"]
    [telecom] = traced.sources
    assert telecom.source == "telecom_stays"
    hours = [*TELECOM_FIRST, (DAY1, 20), (DAY1, 21)]
    assert [b.batch_id for b in telecom.batches] == sorted(f"telecom_stays/{d}T{h:02d}" for d, h in hours)
    store = paths.sources_dir() / "object_store" / "telecom_stays"
    for batch in telecom.batches:
        # a partition's sha256 is over its parts' digests (community_dw.transports.object_storage)
        part = hashlib.sha256((store / batch.file).read_bytes()).hexdigest()
        assert batch.sha256 == hashlib.sha256(part.encode()).hexdigest()
        assert batch.rows_in_raw == batch.loaded_rows and batch.lineage_events >= 10
