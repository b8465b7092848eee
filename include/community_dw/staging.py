"""Hand a batch from one ingestion task to the next, as files in the batch's work folder.

Tables travel as uncompressed Arrow IPC files: written at disk speed and memory-mapped back, where
Parquet spent seconds compressing pseudonyms that do not compress. Only the vault file (pseudonym ->
original) holds plaintext identifiers; it is created owner-only and removed once loaded. The retention
DAG purges what is left (`community_dw.retention`, rule `work_files`).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather

from community_dw import paths


def work_folder(batch_id: str) -> Path:
    folder = paths.work_dir() / batch_id
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stage(table: pa.Table, path: Path, private: bool = False) -> None:
    if private:
        path.unlink(missing_ok=True)
        path.touch(mode=0o600)
    feather.write_feather(table, path, compression="uncompressed")


def staged(path: Path) -> pa.Table:
    return feather.read_table(path, memory_map=True)
