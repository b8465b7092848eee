"""Landing checks the manifest; parsing maps headers and types and reports every bad cell by row and column."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from community_dw.contracts import get_contract
from community_dw.errors import BatchRejected
from community_dw.parsing import parse_batch
from community_dw.transports.file_drop import FileDrop

from support.deliveries import ASSISTANCE_ROW, delivered, register_row

POP = get_contract("population_registry")


def land_file_drop(contract, day, root):
    return FileDrop(root).land(contract, day)


DAY = dt.date(2026, 11, 25)


def _row(**overrides) -> list[str]:
    return delivered(POP, register_row(**overrides))


def write_drop(
    root: Path,
    rows: list[list[str]],
    header: list[str] | None = None,
    encoding: str = "gbk",
    manifest_rows: int | None = None,
    bom: bool = False,
    corrupt_after_manifest: bool = False,
) -> Path:
    folder = root / "file_drop" / POP.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"population_registry_{DAY:%Y%m%d}.csv"
    header = header or [c.header for c in POP.delivered_columns]
    text = "\r\n".join(",".join(r) for r in [header, *rows]) + "\r\n"
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)
    path.write_bytes(data)
    manifest = {
        "file": path.name,
        "rows": len(rows) if manifest_rows is None else manifest_rows,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    path.with_name(path.name + ".ok").write_text(json.dumps(manifest), encoding="utf-8")
    if corrupt_after_manifest:
        path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture
def drop(tmp_path, monkeypatch):
    monkeypatch.setenv("CDW_LANDING_DIR", str(tmp_path / "landing"))
    return tmp_path / "sources"


def test_lands_an_immutable_copy_and_reuses_it_on_rerun(drop):
    write_drop(drop, [_row()])
    first = land_file_drop(POP, DAY, drop)
    again = land_file_drop(POP, DAY, drop)
    assert first.landed_path == again.landed_path and first.sha256 == again.sha256
    assert Path(first.landed_path).read_bytes() == (drop / "file_drop" / POP.name / first.file).read_bytes()
    assert first.batch_id == "population_registry/2026-11-25"


def test_truncated_file_is_rejected_by_its_manifest(drop):
    write_drop(drop, [_row()] * 10, corrupt_after_manifest=True)
    with pytest.raises(BatchRejected) as caught:
        land_file_drop(POP, DAY, drop)
    assert caught.value.rule == "MANIFEST_SHA256"
    assert "population_registry_20261125.csv" in str(caught.value)


def test_replay_with_other_content_is_rejected(drop):
    write_drop(drop, [_row()])
    land_file_drop(POP, DAY, drop)
    write_drop(drop, [_row(), _row(resident_id="110105194912310021")])
    with pytest.raises(BatchRejected, match="REPLAY_CONTENT_CHANGED"):
        land_file_drop(POP, DAY, drop)


def test_gbk_headers_and_values_are_decoded(drop):
    landed = land_file_drop(POP, DAY, write_drop(drop, [_row(), _row(name="欧阳娜娜")]).parents[2])
    parsed = parse_batch(Path(landed.landed_path), POP, landed.batch_id)
    assert parsed.table.column("name").to_pylist() == ["张三", "欧阳娜娜"]
    assert parsed.table.column("birth_date").to_pylist() == [dt.date(1949, 12, 31)] * 2
    assert parsed.problems == []


def test_utf8_bom_is_tolerated(tmp_path):
    civil = get_contract("civil_affairs_assistance")
    path = tmp_path / "civil.csv"
    header = [c.header for c in civil.delivered_columns]
    row = delivered(civil, ASSISTANCE_ROW)
    path.write_bytes(b"\xef\xbb\xbf" + (",".join(header) + "\n" + ",".join(row) + "\n").encode())
    parsed = parse_batch(path, civil, "civil_affairs_assistance/2026-11-25")
    assert parsed.table.column("case_id").to_pylist() == ["C1"]


def test_renamed_column_is_schema_drift_naming_both_columns(drop):
    header = [c.header for c in POP.delivered_columns]
    header[header.index("社区代码")] = "社区编码"
    landed = land_file_drop(POP, DAY, write_drop(drop, [_row()], header=header).parents[2])
    with pytest.raises(BatchRejected) as caught:
        parse_batch(Path(landed.landed_path), POP, landed.batch_id)
    assert caught.value.rule == "SCHEMA_DRIFT"
    assert "missing columns: 社区代码" in str(caught.value) and "unexpected columns: 社区编码" in str(
        caught.value
    )


def test_unparseable_cells_are_reported_by_row_and_column(drop):
    rows = [_row(), _row(birth_date="19490230"), _row(updated_at="yesterday")]
    landed = land_file_drop(POP, DAY, write_drop(drop, rows).parents[2])
    parsed = parse_batch(Path(landed.landed_path), POP, landed.batch_id)
    assert [(p.row, p.column, p.reason) for p in parsed.problems] == [
        (2, "birth_date", "UNPARSEABLE_VALUE"),
        (3, "updated_at", "UNPARSEABLE_VALUE"),
    ]
    assert parsed.table.column("_source_row").to_pylist() == [1, 2, 3]
