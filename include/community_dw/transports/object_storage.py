"""Object storage: one hourly partition, received once its `_SUCCESS` marker is there.

The carriers write `dt=<date>/hour=<HH>/part-*.parquet` and then `_SUCCESS` under a prefix. The prefix
is a URL read through Airflow's `ObjectStoragePath`, so `file://` (the default, a local folder) and
`s3://bucket/prefix` (production, credentials from an Airflow connection) run the same code:

    CDW_TELECOM_STORE_URL      default file://<sources dir>/object_store/telecom_stays
    CDW_TELECOM_STORE_CONN_ID  Airflow connection for the store (e.g. aws_default); unset for file://

The partition's parts are copied unchanged into `landing/<source>/<date>T<HH>/`; the batch id is
`telecom_stays/<date>T<HH>`. Carriers send no manifest, so landing writes one (`_MANIFEST.json`: the
parts, their combined sha256 and the rows their footers declare), once, immutably like the parts. A part
whose footer cannot be read is still landed (so the auditor can see it); the reader rejects it as
CORRUPT_FILE, naming the part.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

from community_dw import paths
from community_dw.clock import utc_stamp
from community_dw.contracts import Contract
from community_dw.errors import BatchRejected, SourceNotReady
from community_dw.transports import ScheduledInterval
from community_dw.transports.base import LandedBatch, ReplayChanged, copy_from, keep_immutably, write_bytes


def store_root(contract: Contract):
    from airflow.sdk import ObjectStoragePath

    default = f"file://{paths.sources_dir() / 'object_store' / contract.name}"
    url = os.environ.get("CDW_TELECOM_STORE_URL", default)
    return ObjectStoragePath(url, conn_id=os.environ.get("CDW_TELECOM_STORE_CONN_ID") or None)


def partition_name(contract: Contract, hour_start: datetime) -> str:
    return contract.options["partition_pattern"].format(
        ds=hour_start.date().isoformat(), hour=f"{hour_start.hour:02d}"
    )


def _footer_rows(part: Path) -> int | None:
    """Rows a Parquet part's footer declares, or None when the footer cannot be read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(part).metadata.num_rows
    except (pa.ArrowException, OSError):
        return None


class ObjectStorage(ScheduledInterval):
    name = "object_storage"
    needs_sensor = True

    def batch_id(self, contract: Contract, start: datetime) -> str:
        return f"{contract.name}/{start:%Y-%m-%dT%H}"

    def partition(self, contract: Contract, hour_start: datetime):
        return store_root(contract) / partition_name(contract, hour_start)

    def is_ready(self, contract: Contract, start: datetime, end: datetime | None = None) -> bool:
        marker = contract.options.get("success_marker", "_SUCCESS")
        return (self.partition(contract, start) / marker).exists()

    def land(self, contract: Contract, start: datetime, end: datetime | None = None) -> LandedBatch:
        """Copy a completed hourly partition into landing, verifying a rerun receives the same bytes."""
        partition = self.partition(contract, start)
        batch_id = self.batch_id(contract, start)
        if not self.is_ready(contract, start):
            raise SourceNotReady(f"{contract.name}: partition {partition} has no _SUCCESS marker yet")
        parts = sorted((p for p in partition.iterdir() if p.name.endswith(".parquet")), key=lambda p: p.name)
        landed_dir = paths.landing_dir() / contract.name / f"{start:%Y-%m-%dT%H}"
        landed_dir.mkdir(parents=True, exist_ok=True)
        digests, rows, unreadable = [], 0, []
        for part in parts:
            try:
                digest, _ = keep_immutably(landed_dir / part.name, copy_from(part))
            except ReplayChanged as replay:
                raise BatchRejected(
                    contract.name,
                    batch_id,
                    "REPLAY_CONTENT_CHANGED",
                    f"partition file {part.name} was received before with other content; a carrier must "
                    f"not rewrite a delivered hour. The new file is kept in landing as {replay.kept.name}.",
                    file=part.name,
                ) from None
            digests.append(digest)
            footer = _footer_rows(landed_dir / part.name)
            if footer is None:
                unreadable.append(part.name)
            rows += footer or 0
        manifest = {
            "partition": partition_name(contract, start),
            "files": [p.name for p in parts],
            "rows": rows,
            "unreadable_footers": unreadable,
            "sha256": hashlib.sha256("".join(digests).encode()).hexdigest(),
        }
        with contextlib.suppress(ReplayChanged):  # parts equal, so only a format change can differ
            keep_immutably(
                landed_dir / "_MANIFEST.json", write_bytes(json.dumps(manifest, indent=2).encode("utf-8"))
            )
        return LandedBatch(
            source=contract.name,
            batch_id=batch_id,
            interval_date=start.date().isoformat(),
            file=partition_name(contract, start) + ("/" + parts[0].name if len(parts) == 1 else "/"),
            landed_path=str(landed_dir),
            sha256=manifest["sha256"],
            manifest_rows=rows,
            received_at=utc_stamp(),
        )
