"""Lineage for auditors: from any warehouse relation back to the source batches (ids, files, sha256).

    trace("marts.crowd_alerts")   ->  crowd_alerts <- int_grid_presence_hourly <- stg_telecom_stays
                                      <- source telecom_stays: raw.telecom_stays, batch by batch, with
                                      the ledger's file, sha256, rows and the run that loaded it

Two records meet here. The dbt manifest says which models and sources a relation is built from (a
published relation, `marts.x` / `analyst.x`, is the release's copy of the candidate model `x`); the
raw tables say which batches are in them now (`_batch_id`) and `audit.batch_ledger` says what each
batch was (file, sha256, counts, run). The OpenLineage events every task emits (the Airflow provider,
file transport: `events_file()`) are counted per run, so each step can be checked against the
events of the run that did it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from community_dw import paths

if TYPE_CHECKING:
    from community_dw.audit_view.store import AuditStore

TRANSPORT_ENV = "AIRFLOW__OPENLINEAGE__TRANSPORT"


def events_file() -> Path:
    """Where the OpenLineage file transport writes: its configured path, else data/lineage/."""
    transport = json.loads(os.environ.get(TRANSPORT_ENV) or "{}")
    if transport.get("type") == "file" and transport.get("log_file_path"):
        return Path(transport["log_file_path"])
    return paths.data_dir() / "lineage" / "openlineage.jsonl"


def lineage_events(path: Path | None = None) -> list[dict[str, Any]]:
    """Every OpenLineage event written so far (a line that is not JSON, e.g. cut by a crash, is skipped)."""
    path = path or events_file()
    if not path.is_file():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def airflow_run_id(event: dict[str, Any]) -> str | None:
    dag_run = event.get("run", {}).get("facets", {}).get("airflow", {}).get("dagRun", {})
    return dag_run.get("run_id")


def task_events(events: list[dict[str, Any]], dag_id: str, run_id: str) -> dict[str, Counter]:
    """Per task of one DAG run, how many events of each type (START, COMPLETE, FAIL) it emitted."""
    per_task: dict[str, Counter] = {}
    for event in events:
        name = event.get("job", {}).get("name", "")
        if name.startswith(f"{dag_id}.") and airflow_run_id(event) == run_id:
            per_task.setdefault(name[len(dag_id) + 1 :], Counter())[event["eventType"]] += 1
    return per_task


@dataclass(frozen=True)
class Batch:
    batch_id: str
    rows_in_raw: int | None  # None where the reader may not read raw
    file: str | None
    sha256: str | None
    received_at: Any
    loaded_rows: int | None
    quarantined_rows: int | None
    run_id: str | None
    lineage_events: int  # OpenLineage events of the ingestion run that loaded it


@dataclass(frozen=True)
class SourceTrace:
    source: str
    raw_table: str
    batches: list[Batch] = field(default_factory=list)


@dataclass(frozen=True)
class Trace:
    relation: str
    model: str
    path: list[str]  # the dbt nodes it is built from, nearest first
    sources: list[SourceTrace]
    seeds: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        out = [
            f"{self.relation} (dbt model {self.model})",
            "  built from: " + " <- ".join(self.path or ["-"]),
        ]
        out += [f"  seed: {seed}" for seed in self.seeds]
        for source in self.sources:
            out.append(f"  source {source.source} ({source.raw_table}): {len(source.batches)} batches")
            for b in source.batches:
                out.append(
                    f"    {b.batch_id}  {b.rows_in_raw} rows  file {b.file}  sha256 {b.sha256}  "
                    f"run {b.run_id}  ({b.lineage_events} lineage events)"
                )
        return out


def _manifest(manifest_path: Path | None) -> dict[str, Any]:
    from community_dw.dbt_runner import MANIFEST_PATH

    return json.loads((manifest_path or MANIFEST_PATH).read_text(encoding="utf-8"))


def _node_for(manifest: dict[str, Any], relation: str) -> str:
    name = relation.split(".")[-1]
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] in ("model", "snapshot", "seed") and node["name"] == name:
            return unique_id
    raise LookupError(f"no dbt model, snapshot or seed named {name!r} (from {relation!r})")


def upstream(manifest: dict[str, Any], unique_id: str) -> list[str]:
    """Every node and source `unique_id` is built from, nearest first (breadth first, each once)."""
    seen: list[str] = []
    frontier = [unique_id]
    while frontier:
        following = []
        for node in frontier:
            for parent in manifest["parent_map"].get(node, []):
                if parent not in seen:
                    seen.append(parent)
                    following.append(parent)
        frontier = following
    return seen


def _batches(store: AuditStore, source: str, raw_table: str, events: list[dict[str, Any]]) -> list[Batch]:
    in_raw = store.try_rows(
        f"select _batch_id as batch_id, count(*) as n from {raw_table} group by _batch_id"
    )
    ledger = {
        row["batch_id"]: row
        for row in store.rows(
            "select batch_id, file, sha256, received_at, loaded_rows, quarantined_rows, run_id, recorded_at "
            "from audit.batch_ledger where source = ? and status = 'loaded' order by recorded_at",
            [source],
        )
    }  # the latest loaded record per batch is the version in raw
    per_run = Counter(
        airflow_run_id(e) for e in events if e.get("job", {}).get("name", "").startswith(f"ingest_{source}.")
    )
    if in_raw is None:  # a role that may not read raw (the auditor on PostgreSQL): the ledger's batches
        in_raw = [{"batch_id": batch_id, "n": None} for batch_id in ledger]
    batches = []
    for row in sorted(in_raw, key=lambda r: r["batch_id"]):
        record = ledger.get(row["batch_id"], {})
        batches.append(
            Batch(
                batch_id=row["batch_id"],
                rows_in_raw=None if row["n"] is None else int(row["n"]),
                file=record.get("file"),
                sha256=record.get("sha256"),
                received_at=record.get("received_at"),
                loaded_rows=record.get("loaded_rows"),
                quarantined_rows=record.get("quarantined_rows"),
                run_id=record.get("run_id"),
                lineage_events=per_run.get(record.get("run_id"), 0),
            )
        )
    return batches


def trace(relation: str, store: AuditStore | None = None, manifest_path: Path | None = None) -> Trace:
    """The relation's dbt lineage down to its sources, and the batches of each source it was fed."""
    manifest = _manifest(manifest_path)
    unique_id = _node_for(manifest, relation)
    parents = upstream(manifest, unique_id)
    sources = [p for p in parents if p.startswith("source.")]
    nodes = [p for p in parents if not p.startswith("source.")]
    events = lineage_events()

    def build(store: AuditStore) -> list[SourceTrace]:
        traced = []
        for source_id in sources:
            source = manifest["sources"][source_id]
            raw_table = f"{source['schema']}.{source['name']}"
            found = store.has_table(raw_table) or store.has_table("audit.batch_ledger")
            batches = _batches(store, source["source_name"], raw_table, events) if found else []
            traced.append(SourceTrace(source["source_name"], raw_table, batches))
        return traced

    if store is None:
        from community_dw.audit_view.store import open_store

        with open_store() as opened:
            traced = build(opened)
    else:
        traced = build(store)
    return Trace(
        relation=relation,
        model=unique_id,
        path=[manifest["nodes"][n]["name"] for n in nodes if manifest["nodes"][n]["resource_type"] != "seed"]
        + [s.split(".", 2)[2] for s in sources],
        sources=traced,
        seeds=[
            manifest["nodes"][n]["name"] for n in nodes if manifest["nodes"][n]["resource_type"] == "seed"
        ],
    )
