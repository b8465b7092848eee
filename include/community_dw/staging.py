"""Hand a batch from one ingestion task to the next through a store every worker reaches.

The tasks of one batch (protect_identities, validate_batch, load_batch) may run on different Celery
workers, so what one stages for the next lives in a shared store, never a worker's own folder: an
`ObjectStoragePath` named by `CDW_STAGING_URL` (`s3://bucket/cdw-work`, `gs://…`, any fsspec store;
credentials from the Airflow connection `CDW_STAGING_CONN_ID`), by default `file://<data dir>/work`
(`paths.work_dir()`), which is shared when the data folder is (one machine, a mounted volume).

Tables travel as uncompressed Arrow IPC files (Parquet spent seconds compressing pseudonyms that do
not compress), through the store's file objects, or on a local store through Arrow's own files and
memory-mapped back. Only the vault file (pseudonym -> original) holds plaintext identifiers: on a local store
it is created owner-only (a remote store's objects are as private as its bucket policy makes them).
A batch's folder is removed once the batch is loaded or rejected, the vault file first (`discard`); the
retention DAG purges what a crash left behind in a local store (`community_dw.retention`, `work_files`).
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.feather as feather

from community_dw import paths

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

STAGING_URL_ENV = "CDW_STAGING_URL"
STAGING_CONN_ENV = "CDW_STAGING_CONN_ID"
VAULT_FILE = "vault.arrow"


def _path(url: str) -> ObjectStoragePath:
    from airflow.sdk import ObjectStoragePath

    if "://" not in url:  # a plain folder (a batch staged before the store had a URL)
        url = paths.work_dir().joinpath(url).as_uri()
    conn_id = os.environ.get(STAGING_CONN_ENV) or None
    _attach_fsspec_store(url.split("://", 1)[0], conn_id)
    return ObjectStoragePath(url, conn_id=conn_id)


@cache
def _attach_fsspec_store(scheme: str, conn_id: str | None) -> None:
    """Airflow knows the schemes its providers register (file, s3 with the Amazon provider, ...); any
    other fsspec store (memory://, an fsspec plugin's) is attached as fsspec itself builds it."""
    import fsspec
    from airflow.sdk.io import attach, has_fs

    if not has_fs(scheme):
        attach(scheme, conn_id, fs=fsspec.filesystem(scheme))


def store_url() -> str:
    """The staging store's root: CDW_STAGING_URL, else the local work folder as a file:// URL."""
    return os.environ.get(STAGING_URL_ENV) or paths.work_dir().as_uri()


def work_folder(batch_id: str) -> ObjectStoragePath:
    """The batch's folder in the staging store (created where a store has folders)."""
    folder = _path(store_url()) / batch_id
    if _is_local(folder):
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def folder_at(url: str) -> ObjectStoragePath:
    """The folder a batch description names (`ProtectedBatch.work_dir`, a URL), on whichever worker."""
    return _path(url)


def _is_local(path: ObjectStoragePath) -> bool:
    return path.protocol in ("file", "local")


def stage(table: pa.Table, path: ObjectStoragePath, private: bool = False) -> None:
    """Write `table` as an Arrow IPC file at `path`; `private` (the vault pairs): owner-only locally.

    A local store is written through Arrow's own file (`pa.OSFile`), as it is read back (memory-mapped):
    the store's file object wraps every write in Airflow's hook-lineage tracking, whose first call loads
    every Airflow plugin (Cosmos, OpenLineage, the example plugins), 1.4 s of an idle process and 2-8 s
    on a loaded machine, about half of a small source's pipeline. A remote store is written through its
    file object.
    """
    if _is_local(path):
        if private:
            path.unlink(missing_ok=True)
            os.close(os.open(path.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        sink = pa.OSFile(path.path, "wb")  # truncates: an owner-only file keeps its mode
    else:
        sink = path.open("wb")
    with sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def staged(path: ObjectStoragePath) -> pa.Table:
    """Read a staged table back: memory-mapped from a local store, read through the file object else."""
    if _is_local(path):
        return feather.read_table(path.path, memory_map=True)
    with path.open("rb") as source:
        return pa.ipc.open_file(pa.py_buffer(source.read())).read_all()


def discard(folder: ObjectStoragePath) -> None:
    """Remove a batch's staged files once it is loaded or rejected: the vault file (originals) first."""
    (folder / VAULT_FILE).unlink(missing_ok=True)
    if folder.exists():
        folder.rmdir(recursive=True)
