from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from community_dw.arrowtypes import arrow_type, convert


def test_dates_must_exist_and_match_the_format():
    values = pa.array(["20230228", "20230230", "20231301", "2023-02-28", None])
    assert convert(values, "date", "%Y%m%d").to_pylist() == [dt.date(2023, 2, 28), None, None, None, None]


def test_timestamps_are_strict():
    values = pa.array(["2026-11-25 08:00:01", "2026-11-25 24:00:00", "2026-11-25T08:00:01"])
    assert convert(values, "timestamp", "%Y-%m-%d %H:%M:%S").to_pylist() == [
        dt.datetime(2026, 11, 25, 8, 0, 1),
        None,
        None,
    ]


def test_numbers():
    assert convert(pa.array(["12.5", "-3", "1e5", "1.234"]), "numeric(12,2)").to_pylist() == [
        Decimal("12.50"),
        Decimal("-3.00"),
        None,
        None,
    ]
    assert convert(pa.array(["7", "x", "-1"]), "integer").to_pylist() == [7, None, -1]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("varchar", pa.string()),
        ("numeric(12,2)", pa.decimal128(12, 2)),
        ("timestamp", pa.timestamp("us")),
        ("boolean", pa.bool_()),
    ],
)
def test_contract_types_map_to_arrow(name, expected):
    assert arrow_type(name) == expected


def test_unknown_type_is_an_error():
    with pytest.raises(ValueError, match="unsupported"):
        arrow_type("geometry")
