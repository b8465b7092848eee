"""Timestamps delivered as text with a zone become local wall-clock time, never shifted or quarantined."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from community_dw.arrowtypes import convert
from community_dw.contracts import get_contract
from community_dw.parsing import parse_batch

TEN_LOCAL = dt.datetime(2026, 11, 25, 10, 0)  # 02:00 UTC in UTC+8


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-25T02:00:00+00:00",
        "2026-11-25T02:00:00Z",
        "2026-11-25 02:00:00z",
        "2026-11-25T10:00:00+08:00",
        "2026-11-25T10:00:00+0800",
        "2026-11-25T10:00:00+08",
        "2026-11-24T21:00:00-05:00",
        "2026-11-25T07:30:00+05:30",
        "2026-11-25 10:00:00",  # naive text is local already
    ],
)
def test_zone_aware_text_is_converted_to_local_time(text):
    assert convert(pa.array([text]), "timestamp", "%Y-%m-%d %H:%M:%S").to_pylist() == [TEN_LOCAL]


def test_fractions_survive_and_a_day_boundary_moves_the_date():
    values = pa.array(["2026-11-25T02:00:00.25Z", "2026-11-24T23:30:00+00:00"])
    assert convert(values, "timestamp").to_pylist() == [
        dt.datetime(2026, 11, 25, 10, 0, 0, 250000),
        dt.datetime(2026, 11, 25, 7, 30),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30T02:00:00Z",  # no such day
        "2026-11-25T24:00:00Z",  # no such hour
        "2026-11-25T02:00:00+25:00",  # no such offset
        "2026-11-25T02:00:00+08:75",
        "2026-11-25T02:00:00 UTC",  # a zone name, not an offset
        "2026-11-25T10:00:00",  # naive but not in the declared format
    ],
)
def test_what_is_not_a_real_moment_stays_unparseable(text):
    assert convert(pa.array([text]), "timestamp", "%Y-%m-%d %H:%M:%S").to_pylist() == [None]


def test_a_parsed_batch_loads_zone_aware_api_times_as_local(tmp_path):
    appeals = get_contract("appeals")
    record = {c.header: None for c in appeals.delivered_columns} | {
        "ticket_id": "T1",
        "channel": "hotline_12345",
        "category_code": "ENV",
        "community_code": "330106001001",
        "status": "received",
        "received_at": "2026-11-25T02:00:00Z",
        "updated_at": "2026-11-25T02:00:00+00:00",
    }
    path = tmp_path / "appeals.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    parsed = parse_batch(path, appeals, "appeals/2026-11-25T10:00")
    assert parsed.problems == []
    assert parsed.table.column("received_at").to_pylist() == [TEN_LOCAL]
    assert parsed.table.column("updated_at").to_pylist() == [TEN_LOCAL]


def test_a_parquet_text_column_with_zones_is_converted_too(tmp_path):
    telecom = get_contract("telecom_stays")
    part = tmp_path / "hour"
    part.mkdir()
    pq.write_table(
        pa.table(
            {
                "msisdn_hash": ["ab12"],
                "grid_code": ["330106001001001"],
                "stay_start": ["2026-11-25T02:00:00Z"],
                "stay_end": ["2026-11-25T02:30:00Z"],
                "user_type": ["resident"],
                "carrier": ["CMCC"],
            }
        ),
        part / "part-0.parquet",
    )
    parsed = parse_batch(part, telecom, "telecom_stays/2026-11-25T10")
    assert parsed.problems == []
    assert parsed.table.column("stay_start").to_pylist() == [TEN_LOCAL]
