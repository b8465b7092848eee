"""Write extracts the way each producer delivers them, byte-for-byte reproducibly.

File drops: the data file plus a `<file>.ok` manifest (JSON: file, rows, sha256, source, produced_at)
written after it, so a consumer that sees the manifest knows the file is complete. Object storage:
one Parquet part per hour partition plus an empty `_SUCCESS` marker. The appeals API: one JSON array.
Large files are streamed in chunks (hashing as they go) so a district snapshot never sits in memory
twice. Nothing here reads the clock, so the same seed gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

MANIFEST_SUFFIX = ".ok"
SUCCESS_MARKER = "_SUCCESS"
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Written:
    path: Path
    rows: int
    sha256: str


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_bytes(file_name: str, rows: int, sha256: str, source: str, produced_at: str) -> bytes:
    document = {
        "file": file_name,
        "rows": rows,
        "sha256": sha256,
        "source": source,
        "produced_at": produced_at,
    }
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def write_chunks(path: Path, chunks: Iterable[bytes]) -> tuple[int, str]:
    """Stream chunks to `path`; returns (bytes written, sha256) without holding the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def write_manifest(path: Path, rows: int, sha256: str, source: str, produced_at: str) -> Path:
    """`<file>.ok` next to `path`, stating whatever rows and sha256 it is given."""
    manifest = path.with_name(path.name + MANIFEST_SUFFIX)
    manifest.write_bytes(manifest_bytes(path.name, rows, sha256, source, produced_at))
    return manifest


def write_with_manifest(
    path: Path, data: bytes | Iterable[bytes], rows: int, source: str, produced_at: str
) -> Written:
    """Write the data file, then its manifest (rows and sha256 describe the bytes written exactly)."""
    _, digest = write_chunks(path, [data] if isinstance(data, bytes) else data)
    write_manifest(path, rows, digest, source, produced_at)
    return Written(path, rows, digest)


def csv_chunks(
    table: pa.Table, header: list[str], encoding: str, chunk_rows: int = 100_000
) -> Iterator[bytes]:
    """Header line plus unquoted rows, `\\n` line ends, nulls as empty fields, in `encoding`, in chunks.

    Values never contain separators; pyarrow raises if one ever does (quoting_style none).
    """
    yield (",".join(header) + "\n").encode(encoding)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    for batch in table.to_batches(max_chunksize=chunk_rows):
        if batch.num_rows:
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, write_options=options)
            yield buffer.getvalue().decode("utf-8").encode(encoding)


def write_csv(
    path: Path, table: pa.Table, header: list[str], encoding: str, source: str, produced_at: str
) -> Written:
    return write_with_manifest(path, csv_chunks(table, header, encoding), table.num_rows, source, produced_at)


def jsonl_bytes(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records).encode()


def write_jsonl(path: Path, records: list[dict], source: str, produced_at: str) -> Written:
    return write_with_manifest(path, jsonl_bytes(records), len(records), source, produced_at)


def write_parquet_partition(folder: Path, table: pa.Table) -> Written:
    """`part-0.parquet` then the empty `_SUCCESS` marker that tells readers the hour is complete."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-0.parquet"
    pq.write_table(table, path, compression="zstd", row_group_size=256 * 1024)
    (folder / SUCCESS_MARKER).write_bytes(b"")
    return Written(path, table.num_rows, "")


def write_json(path: Path, document: object, indent: int | None = 2) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=indent) + "\n", encoding="utf-8")
    return path
