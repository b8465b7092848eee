"""The main job end to end: generate a demo city, run the DAGs through real Airflow, print a summary and
the notifications the warehouse sent (to an SMTP server and a webhook receiver started on localhost).

Runs every DAG with `dag.test()` in this one process (`community_dw_tools.runner`: real task execution,
SQLite metadata under .airflow/), in the order the schedules would run them: for each day, the daily
file drops, the 24 hourly telecom partitions and one catch-up pull of the day's appeals from the
project's API server (started here on localhost and stopped at the end). `dag.test()` does not follow
Asset schedules, so the warehouse build is started after the ingestion runs, as the scheduler would
have done on their Asset events (its last task audits and publishes the analyst release), then the
retention DAG once. One extra population-register day is delivered truncated (`deliver_truncated_day`),
so the ledger and the auditor's view have a rejected batch to show; its failed run is the expected one.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from community_dw import airflow_home, paths
from community_dw_tools import pg_demo
from community_dw_tools.devserver.receivers import local_receivers
from community_dw_tools.runner import appeals_api_server, hourly_run_date, interval_run_date, run_dag

log = logging.getLogger(__name__)

DEMO_START = date(2026, 11, 25)


@dataclass(frozen=True)
class DemoProfile:
    residents: int = 50_000
    days: int = 2
    seed: int = 20261125
    defect_rate: float = 0.002
    start_date: date = DEMO_START


def generate(profile: DemoProfile):
    from community_dw_tools.synthetic import generate_city

    return generate_city(
        paths.sources_dir(),
        residents=profile.residents,
        days=profile.days,
        seed=profile.seed,
        defect_rate=profile.defect_rate,
        start_date=profile.start_date,
    )


@contextmanager
def logs_to_file(path):
    """Send everything Airflow, dbt and GX print to `path`; yield a function that still prints to the terminal.

    They write to the process's file descriptors directly (structlog, dbt's event printer), so the
    redirect is done on descriptors 1 and 2, not on `sys.stdout`.
    """
    import sys

    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    terminal = os.dup(1), os.dup(2)
    with open(path, "ab") as log_file:
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)

        def say(line: str) -> None:
            os.write(terminal[0], (line + "\n").encode())

        try:
            yield say
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(terminal[0], 1)
            os.dup2(terminal[1], 2)
            os.close(terminal[0])
            os.close(terminal[1])


def deliver_truncated_day(profile: DemoProfile) -> tuple[str, date, str] | None:
    """Put the generator's truncated register file (batch_defects/truncated) in the drop folder as the
    day after the demo's last, with its manifest naming that day's file: a delivery the gate rejects.

    Returns (source, day, expected rule), or None when the city has no such variant (defect rate 0).
    """
    import json
    import shutil

    from community_dw.contracts import get_contract
    from community_dw.transports.file_drop import expected_file, manifest_of

    sidecar = paths.sources_dir() / "defects.json"
    variants = (
        json.loads(sidecar.read_text(encoding="utf-8")).get("batch_defects", []) if sidecar.exists() else []
    )
    variant = next((v for v in variants if v["kind"] == "truncated"), None)
    if variant is None:
        return None
    contract = get_contract(variant["source"])
    day = profile.start_date + timedelta(days=profile.days)
    target = expected_file(contract, day)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(paths.sources_dir() / variant["file"], target)
    manifest = json.loads((paths.sources_dir() / variant["manifest"]).read_text(encoding="utf-8"))
    manifest_of(contract, target).write_text(json.dumps(manifest | {"file": target.name}, indent=2) + "\n")
    return contract.name, day, variant["expected_rule"]


def _rejected_as_expected(source: str, day: date, rule: str, state: str) -> str:
    """The run's state as the demo reports it: failed with the expected rule in the ledger is intended."""
    from community_dw import warehouse
    from community_dw_tools.summary import REJECTED_AS_INTENDED

    with warehouse.connection() as con:
        found = con.execute(
            "select rejection_rule from audit.batch_ledger where batch_id = ? and status = 'rejected'",
            [f"{source}/{day.isoformat()}"],
        ).fetchall()
    if state == "failed" and (rule,) in found:
        return f"{REJECTED_AS_INTENDED} ({rule})"
    return f"{state}: expected a {rule} rejection, ledger has {[r for (r,) in found] or 'none'}"


def run_pipeline(profile: DemoProfile, say=print) -> dict[str, str]:
    from community_dw.dbt_runner import build_manifest

    build_manifest()
    airflow_home.configure()
    airflow_home.migrate()
    from community_dw.pseudonymize import KEY_CONN_ID, use_local_key_connection

    key_file = use_local_key_connection()
    if key_file:
        say(
            f"  local demo pseudonymization key {key_file} (outside data/), served as connection {KEY_CONN_ID}"
        )
    states: dict[str, str] = {}

    def record(key: str, state: str) -> None:
        states[key] = state
        log.info("%s: %s", key, state)
        say(f"  {key:<56} {state}")

    with appeals_api_server():
        for offset in range(profile.days):
            day = profile.start_date + timedelta(days=offset)
            for source in ("population_registry", "civil_affairs_assistance", "health_services"):
                record(f"ingest_{source} {day}", run_dag(f"ingest_{source}", interval_run_date(day)))
            hours = [datetime(day.year, day.month, day.day) + timedelta(hours=h) for h in range(24)]
            telecom = [run_dag("ingest_telecom_stays", hourly_run_date(hour)) for hour in hours]
            record(
                f"ingest_telecom_stays {day} (24 hourly runs)",
                "success" if all(s == "success" for s in telecom) else f"failed {telecom.count('failed')}",
            )
            window = {"interval_start": f"{day}T00:00", "interval_end": f"{day + timedelta(days=1)}T00:00"}
            record(
                f"ingest_appeals {day} (catch-up window)",
                run_dag("ingest_appeals", interval_run_date(day), conf=window),
            )
    truncated = deliver_truncated_day(profile)
    if truncated:
        source, day, rule = truncated
        state = run_dag(f"ingest_{source}", interval_run_date(day))
        record(f"ingest_{source} {day} (truncated delivery)", _rejected_as_expected(source, day, rule, state))
    record("build_warehouse", run_dag("build_warehouse"))
    # Retention once, as of now: purges what is past its window and logs it in audit.purge_log.
    record("retention", run_dag("retention", datetime.now(UTC)))
    return states


def generate_docs() -> None:
    """dbt docs (catalog and site) for analysts: dbt_project/target/index.html."""
    from community_dw.dbt_runner import invoke

    invoke(["docs", "generate", "--quiet"])


def published() -> dict[str, int]:
    """Row counts of the analyst file build_warehouse's release step published (empty when none)."""
    import duckdb

    from community_dw.publish import analyst_file_path

    path = analyst_file_path()
    if not path.is_file():
        return {}
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        return {
            f"{schema}.{table}": con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            for schema, table in tables
        }


def print_notifications(inbox) -> None:
    """The demo's last word: whom the warehouse told of what (audit.notifications), as the local
    receivers (an aiosmtpd SMTP server and a webhook receiver, started by the demo) got it."""
    from community_dw.notifications import sent_notifications

    sent = sent_notifications()
    print(
        f"\nNotifications sent: {len(inbox.emails)} e-mails to the local SMTP server, "
        f"{len(inbox.posts)} webhook posts; recorded in audit.notifications ({len(sent)} events):"
    )
    for row in reversed(sent):
        print(f"  {row['event_kind']:<26} {row['event_state']:<8} {row['recipient']:<46} {row['event_key']}")
    for message in inbox.emails[:3]:
        print(f"\n  e-mail to {message['To']}: {message['Subject']}")
    print(
        "\n  (`cdw notifications` lists them again; `cdw lineage marts.crowd_alerts` traces a mart to its batches)"
    )


def main(profile: DemoProfile) -> int:
    started = time.monotonic()
    report = generate(profile)
    print("\n".join(report.summary_lines()))
    pg = pg_demo.use_postgres()
    log_path = paths.data_dir() / "logs" / f"demo-{datetime.now():%Y%m%dT%H%M%S}.log"
    print(f"\nRunning the DAGs through Airflow (task logs: {log_path}) ...")
    with logs_to_file(log_path) as say, local_receivers() as inbox:
        states = run_pipeline(profile, say)
        if states.get("build_warehouse") == "success":
            generate_docs()
        release = {} if pg else published()
    from community_dw_tools.summary import REJECTED_AS_INTENDED, print_summary

    print_summary(states, published=release, elapsed=time.monotonic() - started, postgres=pg)
    print_notifications(inbox)
    return 0 if all(s == "success" or s.startswith(REJECTED_AS_INTENDED) for s in states.values()) else 1
