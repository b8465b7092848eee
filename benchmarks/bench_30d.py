"""Benchmark: 30 generated days of the demo street, each ingested and built; day 30 against day 1.

    make bench-30d                   (50,000 residents: the demo's one street, 30 days)
    .venv/bin/python benchmarks/bench_30d.py --residents 5000 --days 10

The days are generated once per size under `/tmp/cdw-bench-30d-<residents>` (the synthetic city, as the
demo generates it, over `--days` days), then delivered one day after another into one warehouse, as the
schedules would: each day in its own child process,
- ingestion: every source's pipeline for that day (land -> protect -> GX gate -> load, the steps the
  ingestion tasks call: the file drops, the 24 hourly telecom partitions, the day's appeals from the
  development API server), timed after the imports;
- build: `dbt build` of the whole project (what build_warehouse's dbt task runs) and the disclosure
  release (its publish_release task), timed apart.
It prints every day's figures and day N against day 1: a build whose cost grows with the history it
holds (a model or test re-reading every earlier day) shows here. Each day's dbt run_results.json is kept
(`run_results/day-NN.json`) so a growing node can be named. It never fails on speed: the target (day 30
within 1.2x of day 1, for ingestion and for the build) is printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from bench_ingest import RESULT, SOURCES, run_child

START = date(2026, 11, 1)
DEMO_RESIDENTS = 50_000  # community_dw_tools.demo.DemoProfile: one street
SEED = 20261125
TARGET = 1.2
BAD = ("error", "fail", "runtime error")


def generate(root: Path, residents: int, days: int) -> None:
    """The city's `days` days under ROOT/sources unless already there; an empty warehouse either way."""
    from community_dw_tools.synthetic import generate_city

    marker = root / "sources" / "generation.json"
    wanted = {"residents": residents, "days": days, "seed": SEED}
    have = json.loads(marker.read_text()) if marker.exists() else {}
    if any(have.get(k) != v for k, v in wanted.items()):
        print(f"generating {days} days of {residents:,} residents in {root} ...", flush=True)
        started = time.perf_counter()
        generate_city(root / "sources", residents=residents, days=days, seed=SEED, start_date=START)
        print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
    for stale in ("data", "dbt-target", "run_results"):
        shutil.rmtree(root / stale, ignore_errors=True)


def _intervals(source: str, day: date) -> list[tuple[datetime, datetime]]:
    from community_dw.contracts import get_contract

    start = datetime(day.year, day.month, day.day)
    if get_contract(source).transport == "object_storage":
        return [(start + timedelta(hours=h), start + timedelta(hours=h + 1)) for h in range(24)]
    return [(start, start + timedelta(days=1))]


def ingest_day(day: date) -> dict:
    """Every source's pipeline for DAY, as the ingestion tasks call it; seconds per source."""
    from community_dw import ingest
    from community_dw_tools.runner import appeals_api_server

    run_id = f"bench-30d-{day}"
    seconds, rows = {}, 0
    with appeals_api_server():
        for source in SOURCES:
            started = time.perf_counter()
            for interval_start, interval_end in _intervals(source, day):
                landed = ingest.land(source, interval_start, interval_end, run_id)
                protected = ingest.protect_identities(landed, run_id)
                rows += ingest.load(ingest.validate(protected, run_id), run_id)["received"]
            seconds[source] = time.perf_counter() - started
    return {"seconds": sum(seconds.values()), "per_source": seconds, "rows": rows}


def build_day(root: Path, day_number: int) -> dict:
    """`dbt build` of the whole project, then the disclosure release, as build_warehouse runs them."""
    from community_dw import warehouse
    from community_dw.dbt_runner import invoke
    from community_dw.disclosure import publish_release

    target = root / "dbt-target"
    warehouse.declare_all_raw_tables()
    started = time.perf_counter()
    try:
        invoke(["build", "--quiet", "--target-path", str(target)])
    except RuntimeError:
        results = json.loads((target / "run_results.json").read_text())["results"]
        failed = [f"{r['unique_id']}: {r['status']} {r['message']}" for r in results if r["status"] in BAD]
        print("\n".join(failed), file=sys.stderr)
        raise
    dbt_seconds = time.perf_counter() - started
    kept = root / "run_results" / f"day-{day_number:02d}.json"
    kept.parent.mkdir(exist_ok=True)
    shutil.copyfile(target / "run_results.json", kept)
    started = time.perf_counter()
    publish_release()
    return {"dbt_seconds": dbt_seconds, "release_seconds": time.perf_counter() - started}


def day_child(root: Path, day_number: int) -> dict:
    day = START + timedelta(days=day_number - 1)
    return {"ingest": ingest_day(day), "build": build_day(root, day_number)}


def parse_child(root: Path) -> dict:
    """Parse the project once, untimed: into the benchmark's target folder (every build then parses
    partially) and, when stale, into the manifest the release reads (`cdw dbt-manifest`)."""
    from community_dw.dbt_runner import build_manifest, invoke

    build_manifest()
    invoke(["parse", "--quiet", "--target-path", str(root / "dbt-target")])
    return {}


def _ratio(ours: float, base: float) -> float:
    return ours / max(base, 1e-9)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=DEMO_RESIDENTS)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--root", type=Path, help="where the days are generated (default: a folder per size)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = args.root or Path(tempfile.gettempdir()) / f"cdw-bench-30d-{args.residents}"
    if args.child:
        mode, *rest = args.child
        result = parse_child(root) if mode == "parse" else day_child(root, int(rest[0]))
        print(RESULT + json.dumps(result))
        return 0

    started = time.perf_counter()
    print(
        f"community-dw 30-day benchmark, {args.residents:,} residents, {args.days} days from {START}, in {root}"
    )
    generate(root, args.residents, args.days)
    run_child(__file__, ["parse"], root)
    print(
        f"\n{'day':>4} {'rows':>10} {'ingest s':>9} {'dbt build s':>12} {'release s':>10} {'build s':>8}",
        flush=True,
    )
    days = []
    for number in range(1, args.days + 1):
        result = run_child(__file__, ["day", str(number)], root)
        ingest, build = result["ingest"], result["build"]
        build["seconds"] = build["dbt_seconds"] + build["release_seconds"]
        days.append(result)
        print(
            f"{number:>4} {ingest['rows']:>10,} {ingest['seconds']:>9.1f} {build['dbt_seconds']:>12.1f} "
            f"{build['release_seconds']:>10.1f} {build['seconds']:>8.1f}",
            flush=True,
        )
    first, last = days[0], days[-1]
    print(f"\nday {args.days} against day 1 (target <= {TARGET}x):")
    for label, pick in (
        ("ingestion", lambda d: d["ingest"]["seconds"]),
        ("build (dbt build + release)", lambda d: d["build"]["seconds"]),
        ("  dbt build", lambda d: d["build"]["dbt_seconds"]),
        ("  release", lambda d: d["build"]["release_seconds"]),
    ):
        print(
            f"  {label:<30} {pick(first):>7.1f} s -> {pick(last):>7.1f} s   {_ratio(pick(last), pick(first)):.2f}x"
        )
    (root / "results.json").write_text(json.dumps(days, indent=2))
    print(
        f"\ndone in {time.perf_counter() - started:.0f} s; figures in {root / 'results.json'}, "
        f"dbt's per-node timings in {root / 'run_results'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
