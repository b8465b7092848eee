"""What a run produced, in a form a newcomer and an auditor can read in a terminal.

Reads only `audit` (ledger, quarantine index) and relation row counts: no person-level values are
printed.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from community_dw import paths, warehouse

LATEST_LEDGER = """
select source, batch_id, status, received_rows, loaded_rows, quarantined_rows, rejection_rule
from audit.batch_ledger
qualify row_number() over (partition by batch_id order by recorded_at desc) = 1
order by source, batch_id
"""


def ledger_rows(con) -> list[tuple]:
    return con.execute(LATEST_LEDGER).fetchall()


def relation_counts(con, schemas: tuple[str, ...] = ("staging", "intermediate", "marts")) -> list[tuple]:
    relations = con.execute(
        "select table_schema, table_name from information_schema.tables where table_schema in "
        f"({', '.join('?' for _ in schemas)}) order by 1, 2",
        list(schemas),
    ).fetchall()
    return [(s, t, con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]) for s, t in relations]


def defects_caught(con, sidecar: Path | None = None) -> list[tuple[str, str, str, int, int]]:
    """Per injected defect kind: expected reason, injected count, and how many were quarantined for it."""
    sidecar = sidecar or paths.sources_dir() / "defects.json"
    if not sidecar.exists():
        return []
    defects = json.loads(sidecar.read_text(encoding="utf-8")).get("defects", [])
    caught = {
        (source, file, row, reason)
        for source, file, row, reason in con.execute(
            "select source, file, source_row, reason_code from audit.quarantine_index"
        ).fetchall()
    }
    loaded_files = {f for (f,) in con.execute("select distinct file from audit.quarantine_index").fetchall()}
    injected: Counter = Counter()
    found: Counter = Counter()
    for defect in defects:
        file = Path(defect["file"]).name
        if file not in loaded_files:
            continue
        key = (defect["source"], defect["defect"], defect["expected_reason"])
        injected[key] += 1
        if (defect["source"], file, defect["row"], defect["expected_reason"]) in caught:
            found[key] += 1
    return [(s, d, r, injected[(s, d, r)], found[(s, d, r)]) for s, d, r in sorted(injected)]


def print_summary(states: dict[str, str], elapsed: float | None = None) -> None:
    with warehouse.connection(read_only=True) as con:
        ledger = ledger_rows(con)
        relations = relation_counts(con)
        defects = defects_caught(con)
    print("\n== DAG runs ==")
    for name, state in states.items():
        print(f"  {name:<48} {state}")
    print("\n== Ledger (latest record per batch): received = loaded + quarantined ==")
    print(f"  {'batch':<40} {'status':<9} {'received':>9} {'loaded':>9} {'quarant.':>9}  balanced")
    for _source, batch, status, received, loaded, quarantined, rule in ledger:
        ok = "yes" if status != "loaded" or received == loaded + quarantined else "NO"
        extra = f"  rule {rule}" if rule else ""
        print(f"  {batch:<40} {status:<9} {received or 0:>9} {loaded:>9} {quarantined:>9}  {ok}{extra}")
    if defects:
        print("\n== Injected defects caught by the gate ==")
        print(f"  {'source':<22} {'defect':<22} {'reason':<24} {'injected':>8} {'caught':>7}")
        for source, defect, reason, injected, found in defects:
            print(f"  {source:<22} {defect:<22} {reason:<24} {injected:>8} {found:>7}")
    print("\n== Models built ==")
    for schema, table, rows in relations:
        print(f"  {schema + '.' + table:<48} {rows:>9} rows")
    print("\n== Where to look ==")
    print(f"  warehouse (DuckDB)   {paths.warehouse_path()}")
    print(f"  delivered extracts   {paths.sources_dir()}")
    print(f"  landed batches       {paths.landing_dir()}")
    print(f"  Airflow home         {paths.PROJECT_ROOT / '.airflow'}  (make airflow for the UI)")
    if elapsed is not None:
        print(f"\nDone in {elapsed:.0f} s.")
