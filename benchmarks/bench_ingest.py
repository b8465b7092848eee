"""Benchmark: ingest a generated district-day and compare with the floor of plain reads and writes.

    make bench-ingest            (or: .venv/bin/python benchmarks/bench_ingest.py --residents 1000000)

For each source the same landed files are processed three times, each in its own child process so that
peak memory (ru_maxrss) belongs to that phase alone:
- floor:    read with pyarrow (GBK decoded, Parquet/JSON read) and insert into a DuckDB table, nothing else;
- dlt:      the same files loaded into DuckDB by dlt, no validation (bench_dlt.py, in the bench-only
            virtualenv .venv-bench that `make bench` makes from requirements-bench.txt; left out, and
            said so, when it is missing);
- pipeline: community_dw's land -> parse -> derive -> pseudonymize -> GX gate -> quarantine -> load.
The floor and dlt import their libraries before the clock starts; the pipeline's clock includes importing
GX and the Airflow SDK (a task process pays them once), and that part is shown on its own ("imports").
It prints rows/second, peak memory and the pipeline/floor and pipeline/dlt ratios per source and in
total. It never fails on speed: the target (3x the floor, 4 GiB) is printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

DAY = date(2026, 11, 25)
SOURCES = ("population_registry", "civil_affairs_assistance", "health_services", "telecom_stays", "appeals")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor(source: str, root: Path) -> dict:
    """Read the delivered files with pyarrow and write them to DuckDB: no checks, no pseudonyms."""
    import duckdb
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    from community_dw.contracts import get_contract

    contract = get_contract(source)
    sources = root / "sources"
    con = duckdb.connect(str(root / "floor.duckdb"))
    con.execute(f"drop table if exists {source}")
    started = time.perf_counter()
    rows = 0
    if contract.transport == "file_drop":
        path = (
            sources
            / "file_drop"
            / source
            / contract.options["file_pattern"].format(ds=DAY.isoformat(), ds_nodash=DAY.strftime("%Y%m%d"))
        )
        if contract.format == "csv":
            table = pacsv.read_csv(
                path, read_options=pacsv.ReadOptions(encoding="gbk" if contract.encoding == "gbk" else "utf8")
            )
        else:
            table = pajson.read_json(path)
        con.register("delivered", table)
        con.execute(f"create table {source} as select * from delivered")
        rows = table.num_rows
    elif contract.transport == "object_storage":
        for hour in range(24):
            part = sources / "object_store" / source / f"dt={DAY}" / f"hour={hour:02d}" / "part-0.parquet"
            table = pq.read_table(part)
            con.register("delivered", table)
            if hour == 0:
                con.execute(f"create table {source} as select * from delivered")
            else:
                con.execute(f"insert into {source} select * from delivered")
            rows += table.num_rows
    else:
        records = json.loads((sources / "api" / "appeals" / "tickets.json").read_text(encoding="utf-8"))
        day_start, day_end = f"{DAY} 00:00:00", f"{DAY + timedelta(days=1)} 00:00:00"
        records = [r for r in records if day_start <= r["updated_at"] < day_end]
        table = pa.Table.from_pylist(records)
        con.register("delivered", table)
        con.execute(f"create table {source} as select * from delivered")
        rows = table.num_rows
    con.close()
    return {"seconds": time.perf_counter() - started, "rows": rows, "peak_mib": _peak_mib()}


def pipeline(source: str, root: Path) -> dict:
    """community_dw's own steps for the day, exactly as the DAG tasks call them."""
    from community_dw import ingest
    from community_dw.contracts import get_contract

    contract = get_contract(source)
    start = datetime(DAY.year, DAY.month, DAY.day)
    intervals = (
        [(start + timedelta(hours=h), start + timedelta(hours=h + 1)) for h in range(24)]
        if contract.transport == "object_storage"
        else [(start, start + timedelta(days=1))]
    )
    server = None
    import_started = time.perf_counter()
    # What a task process imports on first use (GX for the gate, the Airflow SDK for the staging store):
    # on the clock, and reported on its own.
    import airflow.sdk  # noqa: F401
    import great_expectations  # noqa: F401

    imports = time.perf_counter() - import_started
    if contract.transport == "http_api":
        from community_dw_tools.runner import appeals_api_server

        server = appeals_api_server()
        server.__enter__()
    started = time.perf_counter()
    rows = 0
    try:
        for interval_start, interval_end in intervals:
            landed = ingest.land(source, interval_start, interval_end)
            summary = ingest.load(
                ingest.validate(ingest.protect_identities(landed, "benchmark"), "benchmark"), "benchmark"
            )
            rows += summary["received"]
    finally:
        if server is not None:
            server.__exit__(None, None, None)
    return {
        "seconds": time.perf_counter() - started + imports,
        "imports_s": imports,
        "rows": rows,
        "peak_mib": _peak_mib(),
    }


def _delivered(source: str, root: Path) -> dict:
    """What dlt is given for a source: the delivered files (one per batch) and how to read them."""
    from community_dw.contracts import get_contract

    contract = get_contract(source)
    sources = root / "sources"
    plan = {"source": source, "format": contract.format, "encoding": "utf8", "window": None}
    if contract.transport == "file_drop":
        name = contract.options["file_pattern"].format(ds=DAY.isoformat(), ds_nodash=DAY.strftime("%Y%m%d"))
        plan["batches"] = [str(sources / "file_drop" / source / name)]
        plan["encoding"] = "gbk" if contract.encoding == "gbk" else "utf8"
    elif contract.transport == "object_storage":
        hours = sources / "object_store" / source / f"dt={DAY}"
        plan["batches"] = [str(hours / f"hour={h:02d}" / "part-0.parquet") for h in range(24)]
    else:
        plan["batches"] = [str(sources / "api" / "appeals" / "tickets.json")]
        plan["format"] = "records"
        plan["window"] = [f"{DAY} 00:00:00", f"{DAY + timedelta(days=1)} 00:00:00"]
    return plan


def bench_python() -> Path | None:
    """The bench-only virtualenv's interpreter (dlt), or None when `make bench` has not made it."""
    python = Path(
        os.environ.get("CDW_BENCH_PYTHON", Path(__file__).resolve().parents[1] / ".venv-bench/bin/python")
    )
    return python if python.exists() else None


def dlt_load(source: str, root: Path) -> dict | None:
    """The source's files loaded by dlt (bench_dlt.py) in the bench virtualenv; None without it."""
    python = bench_python()
    if python is None:
        return None
    work = root / "dlt" / source
    subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    plan = work / "plan.json"
    plan.write_text(json.dumps({**_delivered(source, root), "work_dir": str(work)}), encoding="utf-8")
    out = subprocess.run(
        [str(python), str(Path(__file__).with_name("bench_dlt.py")), str(plan)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"dlt load of {source} failed:\n{out.stderr[-4000:]}")
    return json.loads(next(li for li in out.stdout.splitlines() if li.startswith(RESULT))[len(RESULT) :])


RESULT = "benchmark result: "


def child_env(root: Path) -> dict[str, str]:
    """The environment of every benchmark child: the generated day's folders and a local key beside them."""
    return {
        **os.environ,
        "CDW_DATA_DIR": str(root / "data"),
        "CDW_SOURCES_DIR": str(root / "sources"),
        "CDW_ALLOW_LOCAL_KEY": "1",
        "CDW_LOCAL_KEY_FILE": str(root / "secrets" / "pseudonymization.key"),
    }


def run_child(script: str, args: list[str], root: Path, env: dict[str, str] | None = None) -> dict:
    """Run `script --child ARGS --root ROOT` in a fresh interpreter; it prints its JSON result after RESULT."""
    out = subprocess.run(
        [sys.executable, script, "--child", *args, "--root", str(root)],
        env=env or child_env(root),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr[-4000:]}")
    # Airflow and dbt may print after the result: take the line that carries it.
    return json.loads(
        next(li for li in reversed(out.stdout.splitlines()) if li.startswith(RESULT))[len(RESULT) :]
    )


def _child(mode: str, source: str, root: Path) -> dict:
    return run_child(__file__, [mode, source], root)


def generate_day(root: Path, residents: int, keep_loaded: bool = False) -> None:
    """Generate the district-day under ROOT/sources unless it is there already; then, unless KEEP_LOADED,
    start from an empty warehouse (the day is then loaded again by the pipeline)."""
    from community_dw_tools.synthetic import generate_city

    marker = root / "sources" / "generation.json"
    wanted = {"residents": residents, "days": 1, "seed": 11}
    have = json.loads(marker.read_text()) if marker.exists() else {}
    if any(have.get(k) != v for k, v in wanted.items()):
        print(f"generating a district-day of {residents:,} residents in {root} ...", flush=True)
        generate_city(
            root / "sources", residents=residents, days=1, seed=11, defect_rate=0.0005, start_date=DAY
        )
    for stale in () if keep_loaded else ("data", "floor.duckdb"):
        subprocess.run(["rm", "-rf", str(root / stale)], check=True)


def ingest_table(root: Path) -> dict:
    """Floor, dlt and pipeline of every source, printed as a table; returns the totals."""
    with_dlt = bench_python() is not None
    print(
        f"\n{'source':<26} {'rows':>11} {'floor s':>8} {'dlt s':>7} {'pipeline s':>10} {'imports':>7} "
        f"{'/floor':>7} {'/dlt':>6} {'rows/s':>10} {'floor MiB':>9} {'dlt MiB':>7} {'pipeline MiB':>12}"
    )
    totals = {"floor_s": 0.0, "dlt_s": 0.0, "pipeline_s": 0.0, "imports_s": 0.0}
    peak = 0.0
    per_source = {}
    for source in SOURCES:
        base = _child("floor", source, root)
        other = dlt_load(source, root) if with_dlt else None
        ours = _child("pipeline", source, root)
        per_source[source] = {"floor": base, "dlt": other, "pipeline": ours}
        totals["floor_s"] += base["seconds"]
        totals["dlt_s"] += other["seconds"] if other else 0.0
        totals["pipeline_s"] += ours["seconds"]
        totals["imports_s"] += ours["imports_s"]
        peak = max(peak, ours["peak_mib"])
        dlt_s, dlt_ratio, dlt_mib = (
            (
                f"{other['seconds']:.1f}",
                f"{_ratio(ours['seconds'], other['seconds']):.1f}",
                f"{other['peak_mib']:,.0f}",
            )
            if other
            else ("-", "-", "-")
        )
        print(
            f"{source:<26} {ours['rows']:>11,} {base['seconds']:>8.1f} {dlt_s:>7} {ours['seconds']:>10.1f} "
            f"{ours['imports_s']:>7.1f} {_ratio(ours['seconds'], base['seconds']):>7.1f} {dlt_ratio:>6} "
            f"{ours['rows'] / ours['seconds']:>10,.0f} {base['peak_mib']:>9,.0f} {dlt_mib:>7} "
            f"{ours['peak_mib']:>12,.0f}",
            flush=True,
        )
    floor_s, pipeline_s, imports_s = totals["floor_s"], totals["pipeline_s"], totals["imports_s"]
    ratio = _ratio(pipeline_s, floor_s)
    warm = _ratio(pipeline_s - imports_s, floor_s)
    print(
        f"total: floor {floor_s:.1f} s, pipeline {pipeline_s:.1f} s, ratio {ratio:.1f}x (target <= 3x); "
        f"without the imports ({imports_s:.1f} s, once per process) {warm:.1f}x; "
        f"peak pipeline memory {peak:,.0f} MiB (target < 4096 MiB)"
    )
    if with_dlt:
        print(
            f"dlt (same files into DuckDB, no checks): {totals['dlt_s']:.1f} s = "
            f"{_ratio(totals['dlt_s'], floor_s):.1f}x the floor; the pipeline is "
            f"{_ratio(pipeline_s, totals['dlt_s']):.1f}x dlt (what the checks, pseudonyms, quarantine and ledger cost)"
        )
    else:
        print("dlt: not measured (no .venv-bench; `make bench` makes it from requirements-bench.txt)")
    return {
        **totals,
        "ratio": ratio,
        "ratio_without_imports": warm,
        "dlt_ratio": _ratio(pipeline_s, totals["dlt_s"]) if with_dlt else None,
        "peak_mib": peak,
        "sources": per_source,
    }


def _ratio(ours: float, base: float) -> float:
    return ours / max(base, 1e-9)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "cdw-bench")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "SOURCE"))
    args = parser.parse_args()
    if args.child:
        mode, source = args.child
        result = (floor if mode == "floor" else pipeline)(source, args.root)
        print(RESULT + json.dumps(result))
        return 0

    generate_day(args.root, args.residents)
    ingest_table(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
