"""File drop: the producer writes `<file>` and then `<file>.ok` (JSON: file, rows, sha256) in a folder.

A batch is the file for one data interval (a day); its id is `<source>/<interval date>`. The manifest is
written last, so both present means the delivery is complete. The file must match the manifest's
sha256; it is then copied, unchanged, into `landing/<source>/<date>/` (see `transports.base` for what a
replay with other bytes does). A delivery refused here (manifest unreadable, sha256 mismatch) is still
kept in landing, as `<file>.<rule>-<stamp>.rejected`, with its row count in the ledger where it can be
read, so an auditor can see what was sent.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from datetime import date, datetime
from pathlib import Path

from community_dw import paths
from community_dw.clock import utc_stamp
from community_dw.contracts import Contract
from community_dw.errors import BatchRejected, SourceNotReady
from community_dw.transports import ScheduledInterval
from community_dw.transports.base import (
    LandedBatch,
    ReplayChanged,
    copy_from,
    keep_immutably,
    keep_rejected,
    sha256_of,
)


def drop_folder(contract: Contract, root: Path | None = None) -> Path:
    """The producer's drop folder for a file-drop source."""
    return (root or paths.sources_dir()) / "file_drop" / contract.name


def expected_file(contract: Contract, interval_date: date, root: Path | None = None) -> Path:
    name = contract.options["file_pattern"].format(
        ds=interval_date.isoformat(), ds_nodash=interval_date.strftime("%Y%m%d")
    )
    return drop_folder(contract, root) / name


def manifest_of(contract: Contract, file: Path) -> Path:
    return file.with_name(file.name + contract.options.get("manifest_suffix", ".ok"))


class FileDrop(ScheduledInterval):
    name = "file_drop"
    needs_sensor = True

    def __init__(self, root: Path | None = None) -> None:
        self.root = root  # the producers' folder; None: the configured sources dir

    def batch_id(self, contract: Contract, start: datetime | date) -> str:
        day = start.date() if isinstance(start, datetime) else start
        return f"{contract.name}/{day.isoformat()}"

    def is_ready(self, contract: Contract, start: datetime, end: datetime | None = None) -> bool:
        path = expected_file(contract, _day(start), self.root)
        return path.exists() and manifest_of(contract, path).exists()

    def land(self, contract: Contract, start: datetime, end: datetime | None = None) -> LandedBatch:
        """Verify the delivery against its manifest and copy it, unchanged, into landing."""
        day = _day(start)
        source_file = expected_file(contract, day, self.root)
        manifest_file = manifest_of(contract, source_file)
        batch_id = self.batch_id(contract, day)
        if not self.is_ready(contract, start):
            raise SourceNotReady(
                f"{contract.name}: no delivery for {day} yet (expected {source_file} and {manifest_file.name})"
            )
        landed_dir = paths.landing_dir() / contract.name / day.isoformat()

        def reject(rule: str, detail: str, **more) -> BatchRejected:
            """Refuse the delivery, keeping a copy of it in landing with its row count."""
            from community_dw.readers import count_rows

            landed_dir.mkdir(parents=True, exist_ok=True)
            staged = landed_dir / f"{source_file.name}.incoming"
            shutil.copyfile(source_file, staged)
            kept = keep_rejected(staged, source_file.name, rule.lower())
            return BatchRejected(
                contract.name,
                batch_id,
                rule,
                f"{detail} The delivered file is kept in landing as {kept.name}.",
                file=source_file.name,
                received_rows=more.pop("received_rows", count_rows(kept, contract)),
                **more,
            )

        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
            manifest_rows, manifest_sha = int(manifest["rows"]), str(manifest["sha256"]).lower()
        except (ValueError, KeyError, TypeError) as exc:
            raise reject(
                "MANIFEST_INVALID",
                f"manifest {manifest_file.name} is unreadable ({type(exc).__name__}); it must be JSON with "
                "`rows` and `sha256`.",
            ) from None
        actual_sha = sha256_of(source_file)
        if actual_sha != manifest_sha:
            raise reject(
                "MANIFEST_SHA256",
                f"sha256 of the file is {actual_sha[:16]}… but the manifest says {manifest_sha[:16]}…; "
                "the file is truncated or was changed after the manifest was written.",
            )
        try:
            keep_immutably(landed_dir / source_file.name, copy_from(source_file))
        except ReplayChanged as replay:
            raise BatchRejected(
                contract.name,
                batch_id,
                "REPLAY_CONTENT_CHANGED",
                f"batch {batch_id} was received before with other content (sha256 "
                f"{replay.landed_sha256[:16]}…, now {replay.sha256[:16]}…); a producer must not rewrite a "
                f"delivered batch. The new file is kept in landing as {replay.kept.name}; ask for a "
                "correction batch.",
                file=source_file.name,
                received_rows=manifest_rows,
            ) from None
        with contextlib.suppress(ReplayChanged):  # same file, other manifest: the file is what counts
            keep_immutably(landed_dir / manifest_file.name, copy_from(manifest_file))
        return LandedBatch(
            source=contract.name,
            batch_id=batch_id,
            interval_date=day.isoformat(),
            file=source_file.name,
            landed_path=str(landed_dir / source_file.name),
            sha256=actual_sha,
            manifest_rows=manifest_rows,
            received_at=utc_stamp(),
        )


def _day(start: datetime | date) -> date:
    return start.date() if isinstance(start, datetime) else start
