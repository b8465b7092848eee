"""Benchmark: one generated day into a fresh PostgreSQL warehouse, run two ways (issue 9).

    .venv/bin/python benchmarks/bench_day.py --residents 2000

- dag.test:   the demo's way: each DAG through `dag.test()` in one process (SQLite metadata), the three
              daily file drops then build_warehouse once;
- scheduler:  `make airflow-distributed` (CeleryExecutor, two workers, PostgreSQL metadata, Redis): the
              DAGs unpaused, the scheduler creates the day's runs, the sensors (poking every 5 s) see the
              delivery, the loads' Asset events trigger build_warehouse (as often as the scheduler sees
              new events: the builds are counted).
Both time the day from its delivery to its last run done, on the same generated files (same seed), each
into its own scratch databases (dropped at the end). Prints both, the ratio, and the runs' states; never
fails on speed. PostgreSQL and Redis: --pg (a superuser's URL without database) and --redis.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from community_dw import paths
from community_dw.clock import local_now
from community_dw_tools.airflow_api import AirflowApi, deliver, reschedules, wait_until

SOURCES = ("population_registry", "health_services", "civil_affairs_assistance")
DAGS = [f"ingest_{source}" for source in SOURCES]


@contextlib.contextmanager
def scratch_database(server: str, prefix: str):
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as con:
        con.execute(f"create database {name}")
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as con:
            con.execute(f"drop database if exists {name} with (force)")


def generate(folder: Path, residents: int, day: date) -> Path:
    from community_dw_tools.synthetic import generate_city

    generate_city(folder, residents=residents, days=1, seed=5, defect_rate=0.0, start_date=day)
    return folder


def base_environment(root: Path, warehouse_url: str) -> dict[str, str]:
    return os.environ | {
        "CDW_AIRFLOW_HOME": str(root / "airflow"),
        "CDW_DATA_DIR": str(root / "data"),
        "CDW_WAREHOUSE_URL": warehouse_url,
        "CDW_PSEUDONYMIZATION_KEY": "bench-day-key",
    }


def dag_test_day(root: Path, day: date) -> dict:
    """In this (child) process: the day's DAGs through dag.test(), timed."""
    from community_dw import airflow_home
    from community_dw.dbt_runner import build_manifest
    from community_dw_tools import pg_demo
    from community_dw_tools.runner import interval_run_date, run_dag

    build_manifest()
    airflow_home.configure()
    airflow_home.migrate()
    pg_demo.use_postgres(say=lambda _: None)
    for source in SOURCES:
        deliver(root / "outbox", root / "data" / "sources", source)
    started = time.monotonic()
    states = {dag: run_dag(dag, interval_run_date(day)) for dag in DAGS}
    states["build_warehouse"] = run_dag("build_warehouse")
    return {"seconds": time.monotonic() - started, "states": states, "builds": 1}


def scheduler_day(root: Path, day: date, metadata_url: str, redis_url: str) -> dict:
    """`make airflow-distributed` started as a user would; the scheduler runs the day; timed."""
    tag = f"cdw-bench-{secrets.token_hex(3)}"
    port = 8790 + secrets.randbelow(200)
    env = base_environment(root, os.environ["CDW_WAREHOUSE_URL"]) | {
        "CDW_CELERY_WORKERS": f"{tag}-a,{tag}-b",
        "CDW_STAGING_URL": (root / "staging").as_uri(),
        "CDW_DELIVERY_POKE_SECONDS": "5",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url.replace(
            "postgresql://", "postgresql+psycopg2://"
        ),
        "AIRFLOW__CELERY__BROKER_URL": redis_url,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": tag,
        "AIRFLOW__API__PORT": str(port),
    }
    log = (root / "make-airflow-distributed.log").open("ab")
    make = subprocess.Popen(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "airflow-distributed"],
        env=env, cwd=paths.PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until("the api-server", lambda: _answers(f"{base}/api/v2/monitor/health"), 180, every=1)
        api = AirflowApi.sign_in(base, root / "airflow")
        for dag in ("build_warehouse", *DAGS):
            api.set_paused(dag, False)

        def sensors_waiting() -> bool:  # each source's scheduled run poked and found nothing yet
            waited = reschedules(metadata_url, "wait_for_delivery")
            return all(waited.get(dag) for dag in DAGS)

        wait_until("the day's scheduled runs waiting", sensors_waiting, 240)
        for source in SOURCES:
            deliver(root / "outbox", root / "data" / "sources", source)
        started = time.monotonic()
        wait_until("the day done", lambda: api.all_done([*DAGS, "build_warehouse"]), 1800, every=2)
        seconds = time.monotonic() - started
        states = {dag: [run["state"] for run in api.runs(dag)] for dag in (*DAGS, "build_warehouse")}
        return {"seconds": seconds, "states": states, "builds": len(states["build_warehouse"])}
    except Exception:
        log.flush()
        print((root / "make-airflow-distributed.log").read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        os.killpg(make.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            make.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGKILL)
        log.close()


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--dag-test-child", nargs=2, metavar=("ROOT", "DAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dag_test_child:
        root, day = Path(args.dag_test_child[0]), date.fromisoformat(args.dag_test_child[1])
        print(json.dumps(dag_test_day(root, day)))
        return 0

    # The scheduler's latest complete daily interval (catchup is off): yesterday in the producers' zone.
    day = local_now().date() - timedelta(days=1)
    results = {}
    with tempfile.TemporaryDirectory(prefix="cdw-bench-day-") as tmp:
        for way in ("dag.test", "scheduler"):
            root = Path(tmp) / way.replace(".", "_")
            generate(root / "outbox", args.residents, day)
            with scratch_database(args.pg, "cdw_bench_warehouse") as warehouse_url:
                if way == "dag.test":
                    child = subprocess.run(
                        [sys.executable, __file__, "--dag-test-child", str(root), day.isoformat()],
                        env=base_environment(root, warehouse_url),
                        capture_output=True,
                        text=True,
                    )
                    if child.returncode:
                        raise SystemExit(f"dag.test run failed:\n{child.stderr[-3000:]}")
                    results[way] = json.loads(child.stdout.strip().splitlines()[-1])
                else:
                    os.environ["CDW_WAREHOUSE_URL"] = warehouse_url
                    with scratch_database(args.pg, "cdw_bench_airflow") as metadata_url:
                        results[way] = scheduler_day(root, day, metadata_url, args.redis)
            print(f"{way:<10} {results[way]['seconds']:7.1f} s  builds {results[way]['builds']}  "
                  f"{results[way]['states']}", flush=True)  # fmt: skip
    ratio = results["scheduler"]["seconds"] / results["dag.test"]["seconds"]
    print(
        f"\n{day}, {args.residents:,} residents, 3 daily sources + build_warehouse into PostgreSQL:\n"
        f"  dag.test() in one process  {results['dag.test']['seconds']:7.1f} s (1 build)\n"
        f"  scheduler, 2 Celery workers {results['scheduler']['seconds']:6.1f} s "
        f"({results['scheduler']['builds']} builds)   ratio {ratio:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
