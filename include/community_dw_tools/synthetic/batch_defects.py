"""Whole-batch defects: variant deliveries of the first day's files that a gate must reject (or accept).

Each variant lives in its own folder tree, `batch_defects/<kind>/file_drop/<source>/<file>` (+ `.ok`),
mirroring the normal layout so a test can point the pipeline's file drop at it. Variants are built from
the clean first-day rows (no row defects), so the batch-level problem is the only one:

- truncated          population file cut mid-row at ~60%; manifest still has the full rows and sha256
                     -> MANIFEST_SHA256
- renamed_column     header 社区代码 renamed 社区编码 (population) / community_code renamed
                     community_no (civil affairs); manifest consistent -> SCHEMA_DRIFT
- empty              header only, manifest rows 0 -> EMPTY_BATCH
- manifest_mismatch  manifest rows one more than the file has, sha256 correct -> MANIFEST_ROWS
- utf8_bom           civil-affairs file starting with a UTF-8 byte order mark, otherwise valid -> ok
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from community_dw_tools.synthetic.defects import DefectLog
from community_dw_tools.synthetic.writers import (
    MANIFEST_SUFFIX,
    UTF8_BOM,
    csv_chunks,
    write_chunks,
    write_manifest,
)

FOLDER = "batch_defects"


def _variant(out_dir: Path, kind: str, source: str, name: str) -> tuple[Path, Path]:
    relative = Path(FOLDER) / kind / "file_drop" / source / name
    return out_dir / relative, relative


def _record(
    log: DefectLog, source: str, kind: str, relative: Path, expected_rule: str, description: str
) -> None:
    log.batch_defects.append(
        {
            "source": source,
            "kind": kind,
            "file": relative.as_posix(),
            "manifest": relative.as_posix() + MANIFEST_SUFFIX,
            "expected_rule": expected_rule,
            "description": description,
        }
    )


def population_variants(
    out_dir: Path,
    name: str,
    table: pa.Table,
    header: list[str],
    encoding: str,
    produced_at: str,
    log: DefectLog,
) -> None:
    source = "population_registry"
    rows = table.num_rows

    path, relative = _variant(out_dir, "manifest_mismatch", source, name)
    size, sha = write_chunks(path, csv_chunks(table, header, encoding))
    write_manifest(path, rows + 1, sha, source, produced_at)
    _record(
        log,
        source,
        "manifest_mismatch",
        relative,
        "MANIFEST_ROWS",
        "manifest rows one more than the file's data rows; sha256 correct",
    )

    # the same bytes cut inside a row at ~60%, just after an ASCII comma (GBK trail bytes are never
    # commas, so the cut never splits a character); the manifest still describes the whole file
    with path.open("rb") as handle:
        head = handle.read(int(size * 0.6))
        head += handle.read(4096).split(b",", 1)[0] + b","
    path, relative = _variant(out_dir, "truncated", source, name)
    write_chunks(path, [head])
    write_manifest(path, rows, sha, source, produced_at)
    _record(
        log,
        source,
        "truncated",
        relative,
        "MANIFEST_SHA256",
        "file cut mid-row at ~60%; manifest states the original rows and sha256",
    )
    del head

    _renamed_column(
        out_dir, name, source, table, header, ("社区代码", "社区编码"), encoding, produced_at, log
    )

    path, relative = _variant(out_dir, "empty", source, name)
    _, empty_sha = write_chunks(path, csv_chunks(table.slice(0, 0), header, encoding))
    write_manifest(path, 0, empty_sha, source, produced_at)
    _record(log, source, "empty", relative, "EMPTY_BATCH", "header only; manifest rows 0")


def _renamed_column(
    out_dir: Path,
    name: str,
    source: str,
    table: pa.Table,
    header: list[str],
    rename: tuple[str, str],
    encoding: str,
    produced_at: str,
    log: DefectLog,
) -> None:
    """The file with one header renamed and a manifest consistent with it: schema drift."""
    old, new = rename
    path, relative = _variant(out_dir, "renamed_column", source, name)
    _, sha = write_chunks(path, csv_chunks(table, [new if h == old else h for h in header], encoding))
    write_manifest(path, table.num_rows, sha, source, produced_at)
    _record(
        log,
        source,
        "renamed_column",
        relative,
        "SCHEMA_DRIFT",
        f"header {old} renamed to {new}; manifest consistent",
    )


def civil_affairs_variants(
    out_dir: Path, name: str, table: pa.Table, header: list[str], produced_at: str, log: DefectLog
) -> None:
    source = "civil_affairs_assistance"
    rows = table.num_rows

    _renamed_column(
        out_dir, name, source, table, header, ("community_code", "community_no"), "utf-8", produced_at, log
    )

    path, relative = _variant(out_dir, "utf8_bom", source, name)
    _, sha = write_chunks(path, [UTF8_BOM, *csv_chunks(table, header, "utf-8")])
    write_manifest(path, rows, sha, source, produced_at)
    _record(
        log,
        source,
        "utf8_bom",
        relative,
        "ok",
        "valid file that starts with a UTF-8 byte order mark; must be accepted",
    )
