"""Receive one hourly partition from object storage once its `_SUCCESS` marker is there.

The carriers write `dt=<date>/hour=<HH>/part-*.parquet` and then `_SUCCESS` under a prefix. The prefix
is a URL read through Airflow's `ObjectStoragePath`, so `file://` (the default, a local folder) and
`s3://bucket/prefix` (production, credentials from an Airflow connection) run the same code:

    CDW_TELECOM_STORE_URL      default file://<sources dir>/object_store/telecom_stays
    CDW_TELECOM_STORE_CONN_ID  Airflow connection for the store (e.g. aws_default); unset for file://

The partition's files are copied unchanged into landing; the batch id is `telecom_stays/<date>T<HH>`.
Carriers send no manifest, so the landing manifest is computed here (rows from the Parquet footers).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from community_dw import paths
from community_dw.contracts import Contract
from community_dw.errors import BatchRejected, SourceNotReady
from community_dw.landing import LandedBatch, sha256_of


def store_root(contract: Contract):
    from airflow.sdk import ObjectStoragePath

    default = f"file://{paths.sources_dir() / 'object_store' / contract.name}"
    url = os.environ.get("CDW_TELECOM_STORE_URL", default)
    return ObjectStoragePath(url, conn_id=os.environ.get("CDW_TELECOM_STORE_CONN_ID") or None)


def partition_of(contract: Contract, hour_start: datetime):
    pattern = contract.options["partition_pattern"]
    return store_root(contract) / pattern.format(
        ds=hour_start.date().isoformat(), hour=f"{hour_start.hour:02d}"
    )


def partition_ready(contract: Contract, hour_start: datetime) -> bool:
    marker = contract.options.get("success_marker", "_SUCCESS")
    return (partition_of(contract, hour_start) / marker).exists()


def batch_id_for(contract: Contract, hour_start: datetime) -> str:
    return f"{contract.name}/{hour_start:%Y-%m-%dT%H}"


def land_object_storage(contract: Contract, hour_start: datetime) -> LandedBatch:
    """Copy a completed hourly partition into landing, verifying a rerun receives the same bytes."""
    import pyarrow.parquet as pq

    partition = partition_of(contract, hour_start)
    batch_id = batch_id_for(contract, hour_start)
    if not partition_ready(contract, hour_start):
        raise SourceNotReady(f"{contract.name}: partition {partition} has no _SUCCESS marker yet")
    parts = sorted((p for p in partition.iterdir() if p.name.endswith(".parquet")), key=lambda p: p.name)
    landed_dir = paths.landing_dir() / contract.name / f"{hour_start:%Y-%m-%dT%H}"
    landed_dir.mkdir(parents=True, exist_ok=True)
    digests, rows = [], 0
    for part in parts:
        target = landed_dir / part.name
        staged = landed_dir / (part.name + ".partial")
        with part.open("rb") as source, staged.open("wb") as sink:
            while block := source.read(1 << 20):
                sink.write(block)
        digest = sha256_of(staged)
        if target.exists():
            staged.unlink()
            if sha256_of(target) != digest:
                raise BatchRejected(
                    contract.name,
                    batch_id,
                    "REPLAY_CONTENT_CHANGED",
                    f"partition file {part.name} was received before with other content; "
                    "a carrier must not rewrite a delivered hour.",
                    file=part.name,
                )
        else:
            staged.replace(target)
            target.chmod(0o440)
        digests.append(digest)
        rows += pq.ParquetFile(target).metadata.num_rows
    combined = hashlib.sha256("".join(digests).encode()).hexdigest()
    received_at = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    manifest = {
        "partition": str(partition),
        "files": [p.name for p in parts],
        "rows": rows,
        "sha256": combined,
    }
    (landed_dir / "_MANIFEST.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return LandedBatch(
        source=contract.name,
        batch_id=batch_id,
        interval_date=hour_start.date().isoformat(),
        file="/".join(
            [
                contract.options["partition_pattern"].format(
                    ds=hour_start.date().isoformat(), hour=f"{hour_start.hour:02d}"
                ),
                parts[0].name if len(parts) == 1 else "",
            ]
        ),
        landed_path=str(landed_dir),
        sha256=combined,
        manifest_rows=rows,
        received_at=received_at,
    )


def landed_parts(landed_path: Path) -> list[Path]:
    return sorted(landed_path.glob("*.parquet"))
