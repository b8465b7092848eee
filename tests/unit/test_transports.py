"""The transport registry and the immutable landing every transport uses."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from community_dw import paths
from community_dw.contracts import get_contract, load_contracts
from community_dw.errors import BatchRejected, SourceNotReady
from community_dw.transports import transport_for, transport_names
from community_dw.transports.base import ReplayChanged, keep_immutably, write_bytes


def test_every_contract_names_a_registered_transport_and_each_answers_the_protocol():
    for contract in load_contracts().values():
        transport = transport_for(contract)
        assert contract.transport in transport_names()
        for member in ("needs_sensor", "interval_for_run", "is_ready", "batch_id", "land"):
            assert hasattr(transport, member), f"{contract.transport} lacks {member}"
        assert transport.batch_id(contract, dt.datetime(2026, 11, 25, 10)).startswith(f"{contract.name}/")


def test_only_the_api_runs_without_a_sensor():
    needs = {c.transport: transport_for(c).needs_sensor for c in load_contracts().values()}
    assert needs == {"file_drop": True, "object_storage": True, "http_api": False}


def test_an_unknown_transport_lists_the_known_ones():
    from dataclasses import replace

    with pytest.raises(KeyError, match="file_drop"):
        transport_for(replace(get_contract("appeals"), transport="carrier_pigeon"))


def test_landing_is_immutable_and_a_changed_replay_keeps_both_versions(tmp_path):
    target = tmp_path / "batch" / "file.csv"
    sha, new = keep_immutably(target, write_bytes(b"a,b\n1,2\n"))
    assert new and target.read_bytes() == b"a,b\n1,2\n" and oct(target.stat().st_mode)[-3:] == "440"
    assert keep_immutably(target, write_bytes(b"a,b\n1,2\n")) == (sha, False)
    with pytest.raises(ReplayChanged) as replay:
        keep_immutably(target, write_bytes(b"a,b\n1,3\n"))
    assert target.read_bytes() == b"a,b\n1,2\n", "the first version stays"
    assert replay.value.kept.read_bytes() == b"a,b\n1,3\n" and replay.value.kept.name.endswith(".rejected")
    assert not list(target.parent.glob("*.partial"))


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("CDW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CDW_TELECOM_STORE_URL", raising=False)
    return paths.sources_dir() / "object_store" / "telecom_stays"


def _write_hour(store, hour: dt.datetime, parts: dict[str, pa.Table], marker: bool = True):
    folder = store / f"dt={hour.date().isoformat()}" / f"hour={hour.hour:02d}"
    folder.mkdir(parents=True)
    for name, table in parts.items():
        pq.write_table(table, folder / name)
    if marker:
        (folder / "_SUCCESS").touch()
    return folder


def _stays(n: int) -> pa.Table:
    start = dt.datetime(2026, 11, 25, 10)
    return pa.table(
        {
            "msisdn_hash": [f"{i:064x}" for i in range(n)],
            "grid_code": ["330106001001001"] * n,
            "stay_start": pa.array([start] * n, pa.timestamp("us")),
            "stay_end": pa.array([start + dt.timedelta(minutes=30)] * n, pa.timestamp("us")),
            "user_type": ["resident"] * n,
            "carrier": ["CMCC"] * n,
        }
    )


def test_object_storage_waits_for_the_marker_and_lands_every_part_with_one_manifest(store):
    contract = get_contract("telecom_stays")
    transport = transport_for(contract)
    hour = dt.datetime(2026, 11, 25, 10)
    folder = _write_hour(
        store, hour, {"part-0.parquet": _stays(3), "part-1.parquet": _stays(2)}, marker=False
    )
    assert not transport.is_ready(contract, hour, hour)
    with pytest.raises(SourceNotReady):
        transport.land(contract, hour, hour)
    (folder / "_SUCCESS").touch()
    landed = transport.land(contract, hour, hour)
    assert landed.manifest_rows == 5 and landed.batch_id == "telecom_stays/2026-11-25T10"
    manifest = json.loads(
        (paths.landing_dir() / "telecom_stays" / "2026-11-25T10" / "_MANIFEST.json").read_text()
    )
    assert manifest["files"] == ["part-0.parquet", "part-1.parquet"] and manifest["sha256"] == landed.sha256
    assert transport.land(contract, hour, hour).sha256 == landed.sha256, "a rerun receives the same bytes"
    pq.write_table(_stays(4), folder / "part-1.parquet")  # the carrier rewrites a delivered hour
    with pytest.raises(BatchRejected, match="REPLAY_CONTENT_CHANGED"):
        transport.land(contract, hour, hour)


def test_a_file_drop_rejected_at_the_door_is_kept_in_landing(tmp_path, monkeypatch):
    from community_dw.transports.file_drop import FileDrop, expected_file

    monkeypatch.setenv("CDW_DATA_DIR", str(tmp_path / "data"))
    contract = get_contract("civil_affairs_assistance")
    day = dt.date(2026, 11, 25)
    path = expected_file(contract, day)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"case_id\nA\nB\n")
    path.with_name(path.name + ".ok").write_text("{not json", encoding="utf-8")
    with pytest.raises(BatchRejected) as rejected:
        FileDrop().land(contract, day)
    assert rejected.value.rule == "MANIFEST_INVALID" and rejected.value.received_rows == 2
    kept = list((paths.landing_dir() / contract.name / day.isoformat()).glob("*.rejected"))
    assert [k.read_bytes() for k in kept] == [b"case_id\nA\nB\n"]
