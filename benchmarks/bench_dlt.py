"""The same delivered files loaded into DuckDB by dlt, with no validation: the comparison of issue 13.

Run by bench_ingest.py in the bench-only virtualenv (.venv-bench, requirements-bench.txt, made by
`make bench`), never in .venv: it imports only dlt, DuckDB and pyarrow, so the plan of what to load
(files, formats, encodings) comes from the caller as JSON, worked out from the contracts there.

    .venv-bench/bin/python benchmarks/bench_dlt.py PLAN.json

The files are read as the floor reads them (pyarrow: the register's GBK CSV decoded, Parquet and JSON
Lines as Arrow tables; the appeals tickets as the API's records, which dlt normalizes itself) and each
batch is one `pipeline.run`, as a data engineer would load each delivery: telecom's 24 hours are 24 runs
appending to one table. Library imports happen before the clock starts, as in the floor. It prints one
line, RESULT followed by JSON: seconds, rows and peak memory.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

RESULT = "benchmark result: "  # as bench_ingest.RESULT


def main() -> int:
    plan = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    # The producers' headers are Chinese: dlt's default snake_case naming would reduce them all to "x".
    os.environ.setdefault("SCHEMA__NAMING", "direct")
    import dlt
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    work = Path(plan["work_dir"])
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{plan['source']}",
        destination=dlt.destinations.duckdb(str(work / "dlt.duckdb")),
        dataset_name="raw",
        pipelines_dir=str(work / "dlt-pipelines"),
    )
    started = time.perf_counter()
    rows = 0
    for index, batch in enumerate(plan["batches"]):
        if plan["format"] == "csv":
            data = pacsv.read_csv(batch, read_options=pacsv.ReadOptions(encoding=plan["encoding"]))
        elif plan["format"] == "jsonl":
            data = pajson.read_json(batch)
        elif plan["format"] == "parquet":
            data = pq.read_table(batch)
        else:  # the API's records: dlt infers their schema and normalizes them
            records = json.loads(Path(batch).read_text(encoding="utf-8"))
            data = [r for r in records if plan["window"][0] <= r["updated_at"] < plan["window"][1]]
        pipeline.run(
            data, table_name=plan["source"], write_disposition="replace" if index == 0 else "append"
        ).raise_on_failed_jobs()
        rows += data.num_rows if isinstance(data, pa.Table) else len(data)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(RESULT + json.dumps({"seconds": seconds, "rows": rows, "peak_mib": peak}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
