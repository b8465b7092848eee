"""What every transport shares: the landed batch it hands on, and the one way of landing immutably.

Landing never overwrites. Each delivered file is written beside its final name as `.partial` and
renamed when complete, read-only; a rerun that receives the same bytes reuses the landed copy, and one
that receives other bytes for the same batch is refused (`ReplayChanged`): a producer that silently
rewrites history must be talked to, not trusted. The refused bytes are kept beside the landed copy as
`<name>.replay-<UTC stamp>.rejected`, so the conversation with the producer has both versions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from community_dw.clock import utc_stamp
from community_dw.handoff import Handoff


@dataclass(frozen=True)
class LandedBatch(Handoff):
    """What the next task needs to know about a received batch (small, JSON-serializable for XCom)."""

    source: str
    batch_id: str
    interval_date: str
    file: str
    landed_path: str
    sha256: str
    manifest_rows: int
    received_at: str


class ReplayChanged(Exception):
    """A batch landed before arrived again with other bytes; `kept` holds the refused bytes."""

    def __init__(self, landed: Path, landed_sha256: str, sha256: str, kept: Path) -> None:
        super().__init__(f"{landed} was landed before with other content")
        self.landed, self.landed_sha256, self.sha256, self.kept = landed, landed_sha256, sha256, kept


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def keep_immutably(target: Path, write: Callable[[Path], None]) -> tuple[str, bool]:
    """Land a file at `target` with `write(partial_path)`; return (sha256, whether it was new).

    Raises ReplayChanged when `target` exists with other bytes; the new bytes are kept beside it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)  # a leftover of an interrupted run
    write(partial)
    sha = sha256_of(partial)
    if not target.exists():
        partial.chmod(0o440)
        partial.replace(target)
        return sha, True
    landed_sha = sha256_of(target)
    if landed_sha == sha:
        partial.unlink()
        return sha, False
    kept = keep_rejected(partial, target.name, "replay")
    raise ReplayChanged(target, landed_sha, sha, kept)


def keep_rejected(file: Path, name: str, why: str) -> Path:
    """Move (or copy, for a file outside landing) a refused delivery into landing beside its batch.

    `file` inside the batch folder is renamed; the kept copy is read-only and named
    `<name>.<why>-<UTC stamp>.rejected`, which no reader or replay check ever picks up.
    """
    kept = file.with_name(f"{name}.{why}-{utc_stamp().replace(':', '')}.rejected")
    file.chmod(0o440)
    file.replace(kept)
    return kept


def write_bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def copy_from(source) -> Callable[[Path], None]:
    """A writer that streams `source` (a Path or an ObjectStoragePath) into the partial file."""

    def write(path: Path) -> None:
        with source.open("rb") as reader, path.open("wb") as sink:
            while block := reader.read(1 << 20):
                sink.write(block)

    return write
