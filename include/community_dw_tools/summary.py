"""What a run produced, in a form a newcomer and an auditor can read in a terminal.

Reads only `audit` (ledger, quarantine index) and relation row counts: no person-level values are
printed.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path

from community_dw import data_docs, paths, retention, warehouse

# A run's state when it failed on purpose: the demo's truncated delivery, rejected by the gate.
REJECTED_AS_INTENDED = "rejected as intended"

LEDGER_BY_SOURCE = """
with ranked as (
    select *, row_number() over (partition by batch_id order by recorded_at desc) as newest
    from audit.batch_ledger
),
latest as (
    select * from ranked where newest = 1
)
select
    source,
    count(*) filter (where status = 'loaded') as batches_loaded,
    count(*) filter (where status = 'rejected') as batches_rejected,
    coalesce(sum(received_rows) filter (where status = 'loaded'), 0) as received,
    coalesce(sum(loaded_rows), 0) as loaded,
    coalesce(sum(quarantined_rows), 0) as quarantined,
    count(*) filter (where status = 'loaded' and received_rows <> loaded_rows + quarantined_rows) as unbalanced
from latest
group by source
order by source
"""


def ledger_by_source(con) -> list[tuple]:
    """Per source: batches loaded and rejected, rows received, loaded, quarantined, unbalanced batches."""
    return con.execute(LEDGER_BY_SOURCE).fetchall()


def relation_counts(con, schemas: tuple[str, ...] = ("marts", "analyst", "care")) -> list[tuple]:
    relations = con.execute(
        "select table_schema, table_name from information_schema.tables where table_schema in "
        f"({', '.join('?' for _ in schemas)}) order by 1, 2",
        list(schemas),
    ).fetchall()
    return [(s, t, con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]) for s, t in relations]


def _api_defects_caught(con, defect: dict) -> bool | None:
    """An API payload is re-landed per interval, so find the defective version by its primary key."""
    from community_dw.contracts import get_contract

    contract = get_contract(defect["source"])
    records = _api_payload(defect["file"])
    record = records[defect["row"] - 1]
    keys = contract.primary_key
    where = " and ".join(f"{k} = ?" for k in keys)
    values = [record[k] for k in keys]
    landed = con.execute(f"select count(*) from raw.{contract.name} where {where}", values).fetchone()[0]
    held = con.execute(
        f"select _reasons from raw.{contract.name}_quarantine where {where}", values
    ).fetchall()
    if not landed and not held:
        return None  # that version was not pulled in the intervals run so far
    return any(defect["expected_reason"] in reasons for (reasons,) in held)


@cache
def _api_payload(relative: str) -> list[dict]:
    return json.loads((paths.sources_dir() / relative).read_text(encoding="utf-8"))


def defects_caught(con, sidecar: Path | None = None) -> list[tuple[str, str, str, int, int]]:
    """Per injected defect kind: expected reason, injected count, and how many were quarantined for it.

    Only defects in extracts that were ingested count as injected.
    """
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
    loaded_files = {f for (f,) in con.execute("select distinct file from audit.batch_ledger").fetchall() if f}
    injected: Counter = Counter()
    found: Counter = Counter()
    for defect in defects:
        key = (defect["source"], defect["defect"], defect["expected_reason"])
        if defect["file"].endswith(".json"):
            hit = _api_defects_caught(con, defect)
        else:
            # Landing records a file by name (file drops) or by its partition path (object storage).
            file = next((f for f in loaded_files if defect["file"].endswith(f)), None)
            hit = (
                None
                if file is None
                else (defect["source"], file, defect["row"], defect["expected_reason"]) in caught
            )
        if hit is None:
            continue
        injected[key] += 1
        found[key] += bool(hit)
    return [(s, d, r, injected[(s, d, r)], found[(s, d, r)]) for s, d, r in sorted(injected)]


def rejected_deliveries(con) -> list[tuple]:
    """Every rejected delivery in the ledger: batch, rule, file, rows received."""
    return con.execute(
        "select batch_id, rejection_rule, file, received_rows from audit.batch_ledger"
        " where status = 'rejected' order by recorded_at"
    ).fetchall()


def latest_release(con) -> list[tuple]:
    """The newest release audit, one row per relation (empty before the first build)."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'audit'"
        " and table_name = 'release_audits'"
    ).fetchone()[0]
    if not exists:
        return []
    return con.execute(
        "select relation, cells, cells_suppressed, min_interval_width, min_k, rows_published, rows_withheld,"
        " generalization, verdict, release_id from audit.release_audits"
        " where release_id = (select release_id from audit.release_audits order by audited_at desc limit 1)"
        " order by relation = '(release)', relation"
    ).fetchall()


def print_summary(
    states: dict[str, str],
    published: dict[str, int] | None = None,
    elapsed: float | None = None,
    postgres=None,
) -> None:
    """`postgres`: the PostgreSQL demo (community_dw_tools.pg_demo.PgDemo), read as its owner; the
    summary then also shows what each person may read, asked as them."""
    url = postgres.owner_url if postgres else None
    # DuckDB: the same configuration as dbt's open connection in this process
    with warehouse.connection(url, role=None) as con:
        ledger = ledger_by_source(con)
        relations = relation_counts(con)
        defects = defects_caught(con)
        rejected = rejected_deliveries(con)
        purges = retention.purge_summary(con)
        release = latest_release(con)
        expiries = retention.next_expiries(con)
    unexpected = {
        n: s for n, s in states.items() if s != "success" and not s.startswith(REJECTED_AS_INTENDED)
    }
    if unexpected:
        print("\n== DAG runs that did not succeed ==")
        for name, state in unexpected.items():
            print(f"  {name:<56} {state}")
    print("\n== Ledger per source (latest record per batch): received = loaded + quarantined ==")
    print(
        f"  {'source':<26} {'batches':>7} {'rejected':>8} {'received':>10} {'loaded':>10} {'quarant.':>9}  balanced"
    )
    for source, batches, rejected, received, loaded, quarantined, unbalanced in ledger:
        ok = "yes" if unbalanced == 0 and received == loaded + quarantined else f"NO ({unbalanced} batches)"
        print(
            f"  {source:<26} {batches:>7} {rejected:>8} {received:>10,} {loaded:>10,} {quarantined:>9,}  {ok}"
        )
    if defects:
        print("\n== Injected defects caught by the gate (from the generator's defects.json) ==")
        print(f"  {'source':<26} {'defect':<24} {'reason':<24} {'injected':>8} {'caught':>7}")
        for source, defect, reason, injected, found in defects:
            print(f"  {source:<26} {defect:<24} {reason:<24} {injected:>8} {found:>7}")
    if rejected:
        print("\n== Rejected deliveries (audit.batch_ledger; the auditor's view shows the full message) ==")
        for batch_id, rule, file, rows in rejected:
            print(f"  {batch_id:<40} {rule:<24} {file or '-'} ({rows or 0:,} rows received)")
    print("\n== Retention: purges logged in audit.purge_log ==")
    if purges:
        print(f"  {'source':<26} {'rule':<14} {'purges':>6} {'rows':>10} {'files':>6} {'bytes':>13}  last")
        for rule, source, count, rows, files, size, last in purges:
            print(
                f"  {source:<26} {rule:<14} {count:>6} {rows or 0:>10,} {files or 0:>6,} {size or 0:>13,}"
                f"  {last:%Y-%m-%d %H:%M}"
            )
    else:
        print("  nothing was past its window yet")
    for source, rule, days, when in expiries:
        print(
            f"  held: {source:<26} {rule:<14} window {days:>3} days, oldest purged from {when:%Y-%m-%d %H:%M}"
        )
    print("\n== Models built (analyst- and grid-worker-facing) ==")
    for schema, table, rows in relations:
        print(f"  {schema + '.' + table:<48} {rows:>9,} rows")
    if release:
        print(f"\n== Analyst release {release[-1][-1]}: {release[-1][-2]} (audit.release_audits) ==")
        print(
            f"  {'relation':<40} {'cells':>6} {'withheld':>8} {'min width':>9} {'min k':>6}  generalization"
        )
        for relation, cells, withheld, width, min_k, _, rows_withheld, generalization, verdict, _ in release:
            if relation == "(release)":
                continue
            shown_width = "-" if width is None else f"{width:g}"
            detail = generalization or ""
            if rows_withheld:
                detail += f" ({rows_withheld} rows withheld)"
            print(
                f"  {relation:<40} {cells or 0:>6,} {withheld or 0:>8,} {shown_width:>9} {min_k or '-':>6}"
                f"  {detail}{'' if verdict == 'pass' else '  FAILED'}"
            )
    if published:
        print(f"\n== Analyst file: {len(published)} relations (marts and analyst views only) ==")
    if postgres:
        _print_audiences(postgres)
    print("\n== Where to look ==")
    if postgres:
        from community_dw_tools.pg_demo import redacted

        print(f"  warehouse (PostgreSQL) {redacted(postgres.owner_url)}")
        for login, login_url in postgres.urls.items():
            print(f"  psql as {login:<18} psql '{login_url}'")
    else:
        print(f"  warehouse (DuckDB)   {paths.warehouse_path()}")
    if published:
        from community_dw.publish import analyst_file_path

        print(f"  analyst file         {analyst_file_path()}")
    print(f"  delivered extracts   {paths.sources_dir()}")
    print(f"  landed batches       {paths.landing_dir()}")
    print(f"  dbt docs (analysts)  {paths.DBT_PROJECT_DIR / 'target' / 'index.html'}")
    print(f"  GX Data Docs (audit) {data_docs.site_dir() / 'index.html'}")
    print(f"  Airflow home         {paths.PROJECT_ROOT / '.airflow'}  (make airflow for the UI)")
    if elapsed is not None:
        print(f"\nDone in {elapsed:.0f} s.")


def _print_audiences(postgres) -> None:
    """What an analyst and a grid worker may read, asked by PostgreSQL as each of them."""
    from community_dw_tools.pg_demo import LOGINS, audiences

    print("\n== Who sees what (asked as each login; 'denied': permission denied) ==")
    seen = audiences(postgres)
    print(f"  {'relation':<40}" + "".join(f" {f'{login} ({LOGINS[login][0]})':>30}" for login in seen))
    relations = next(iter(seen.values()))
    for relation in relations:
        cells = "".join(
            f" {'denied' if seen[login][relation] is None else f'{seen[login][relation]:,} rows':>30}"
            for login in seen
        )
        print(f"  {relation:<40}{cells}")
