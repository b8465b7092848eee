"""Receive a delivered file: check its manifest, and keep an immutable copy in landing.

The producer writes `<file>` and then `<file>.ok` (JSON: file, rows, sha256). A batch is the file for
one data interval; its id is `<source>/<interval date>`. Landing never overwrites: a rerun with the same
bytes reuses the copy, and a replay with other bytes is rejected, because a producer that silently
rewrites history must be talked to, not trusted.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from community_dw import paths
from community_dw.contracts import Contract
from community_dw.errors import BatchRejected, SourceNotReady


@dataclass(frozen=True)
class LandedBatch:
    """What the next task needs to know about a received batch (small, JSON-serializable for XCom)."""

    source: str
    batch_id: str
    interval_date: str
    file: str
    landed_path: str
    sha256: str
    manifest_rows: int
    received_at: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LandedBatch:
        return cls(**data)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def drop_folder(contract: Contract, root: Path | None = None) -> Path:
    """The producer's drop folder for a file-drop source."""
    return (root or paths.sources_dir()) / "file_drop" / contract.name


def expected_file(contract: Contract, interval_date: date, root: Path | None = None) -> Path:
    name = contract.options["file_pattern"].format(
        ds=interval_date.isoformat(), ds_nodash=interval_date.strftime("%Y%m%d")
    )
    return drop_folder(contract, root) / name


def batch_id_for(contract: Contract, interval_date: date) -> str:
    return f"{contract.name}/{interval_date.isoformat()}"


def delivery_ready(contract: Contract, interval_date: date, root: Path | None = None) -> bool:
    """True once both the file and its manifest are present (the manifest is written last)."""
    path = expected_file(contract, interval_date, root)
    manifest = path.with_name(path.name + contract.options.get("manifest_suffix", ".ok"))
    return path.exists() and manifest.exists()


def land_file_drop(contract: Contract, interval_date: date, root: Path | None = None) -> LandedBatch:
    """Verify the delivery against its manifest and copy it, unchanged, into landing."""
    source_file = expected_file(contract, interval_date, root)
    manifest_file = source_file.with_name(source_file.name + contract.options.get("manifest_suffix", ".ok"))
    batch_id = batch_id_for(contract, interval_date)
    if not delivery_ready(contract, interval_date, root):
        raise SourceNotReady(
            f"{contract.name}: no delivery for {interval_date} yet (expected {source_file} and "
            f"{manifest_file.name})"
        )

    def reject(rule: str, detail: str) -> BatchRejected:
        return BatchRejected(contract.name, batch_id, rule, detail, file=source_file.name)

    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        manifest_rows, manifest_sha = int(manifest["rows"]), str(manifest["sha256"]).lower()
    except (ValueError, KeyError, TypeError) as exc:
        raise reject("MANIFEST_INVALID", f"manifest {manifest_file.name} is unreadable ({exc}).") from exc
    actual_sha = sha256_of(source_file)
    if actual_sha != manifest_sha:
        raise reject(
            "MANIFEST_SHA256",
            f"sha256 of the file is {actual_sha[:16]}… but the manifest says {manifest_sha[:16]}…; "
            "the file is truncated or was changed after the manifest was written.",
        )

    landed_dir = paths.landing_dir() / contract.name / interval_date.isoformat()
    landed = landed_dir / source_file.name
    if landed.exists():
        if sha256_of(landed) != actual_sha:
            raise reject(
                "REPLAY_CONTENT_CHANGED",
                f"batch {batch_id} was received before with other content (landed copy {landed}); "
                "a producer must not rewrite a delivered batch. Ask for a correction batch.",
            )
    else:
        landed_dir.mkdir(parents=True, exist_ok=True)
        partial = landed.with_name(landed.name + ".partial")
        shutil.copyfile(source_file, partial)
        partial.replace(landed)
        shutil.copyfile(manifest_file, landed_dir / manifest_file.name)
        landed.chmod(0o440)
    return LandedBatch(
        source=contract.name,
        batch_id=batch_id,
        interval_date=interval_date.isoformat(),
        file=source_file.name,
        landed_path=str(landed),
        sha256=actual_sha,
        manifest_rows=manifest_rows,
        received_at=datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
    )
