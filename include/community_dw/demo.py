"""The main job end to end: generate a demo city, run the DAGs through real Airflow, print a summary.

Runs every DAG with `dag.test()` in this one process (Airflow's own test runner: real scheduler logic,
real task execution, SQLite metadata under .airflow/), in the order the schedules would run them.
`dag.test()` does not follow Asset schedules, so the warehouse build is started after the ingestion
runs, as the scheduler would have done on their Asset events.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from community_dw import airflow_home, paths

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
    from community_dw.synthetic import generate_city

    return generate_city(
        paths.sources_dir(),
        residents=profile.residents,
        days=profile.days,
        seed=profile.seed,
        defect_rate=profile.defect_rate,
        start_date=profile.start_date,
    )


def run_dag(dag_id: str, logical_date: datetime | None = None) -> str:
    """Run one DAG through Airflow's test runner and return the run's final state."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(paths.DAGS_DIR))
    if dag_id not in bag.dags:
        raise RuntimeError(f"DAG {dag_id} not found; import errors: {bag.import_errors}")
    run = bag.dags[dag_id].test(logical_date=logical_date)
    return str(run.state)


def interval_run_date(day: date) -> datetime:
    """When the run that owns `day`'s extract is triggered: as the interval [day, day+1) closes.

    A manual or test run infers its data interval as the last complete one before this moment.
    """
    import pendulum

    from community_dw.orchestration import LOCAL_TZ

    return pendulum.datetime(day.year, day.month, day.day, tz=LOCAL_TZ).add(days=1)


def run_pipeline(profile: DemoProfile, sources: tuple[str, ...] = ("population_registry",)) -> dict[str, str]:
    from community_dw.dbt_runner import build_manifest

    build_manifest()
    airflow_home.configure()
    airflow_home.migrate()
    states: dict[str, str] = {}
    for offset in range(profile.days):
        day = profile.start_date + timedelta(days=offset)
        for source in sources:
            key = f"ingest_{source} {day}"
            states[key] = run_dag(f"ingest_{source}", interval_run_date(day))
            log.info("%s: %s", key, states[key])
    states["build_warehouse"] = run_dag("build_warehouse")
    return states


def main(profile: DemoProfile) -> int:
    started = time.monotonic()
    report = generate(profile)
    print("\n".join(report.summary_lines()))
    states = run_pipeline(profile)
    from community_dw.summary import print_summary

    print_summary(states, elapsed=time.monotonic() - started)
    return 0 if all(s == "success" for s in states.values()) else 1
