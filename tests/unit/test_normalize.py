"""One spelling per identifier, at the door: one person has one pseudonym, one case one key."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest
from stdnum.cn import ric

from community_dw.contracts import get_contract
from community_dw.normalize import id_number, identifier
from community_dw.parsing import parse_batch
from community_dw.pseudonymize import Pseudonymizer
from community_dw.validation import run_gate

from support.deliveries import ASSISTANCE_ROW, REGISTER_ROW, delivered, register_row

AS_OF = dt.date(2026, 11, 25)
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
ID = REGISTER_ROW["resident_id"]  # a valid GB 11643 number (check letter X)


def test_full_width_digits_and_letters_become_ascii():
    assert identifier(pa.array(["３３０１０６００１", "ＡＢ－１２", "330106001"])).to_pylist() == [
        "330106001",
        "AB-12",
        "330106001",
    ]


@pytest.mark.parametrize("mark", ZERO_WIDTH)
def test_zero_width_characters_are_removed_wherever_they_are(mark):
    values = pa.array([f"{mark}C-1", f"C-1{mark}", f"C{mark}-1"])
    assert identifier(values).to_pylist() == ["C-1"] * 3


def test_surrounding_whitespace_goes_and_inner_text_stays():
    values = pa.array(["  C-1 ", "\tC-1\r\n", "\u3000C-1", "C 1", None, ""])
    assert identifier(values).to_pylist() == ["C-1", "C-1", "C-1", "C 1", None, ""]


def test_id_numbers_get_an_upper_case_check_letter():
    variants = [ID, ID.lower(), f" {ID.lower()} ", "１１０１０５１９４９１２３１００２ｘ", ID + "\u200b"]
    assert id_number(pa.array(variants)).to_pylist() == [ID] * len(variants)


def test_identifier_keeps_case():
    # Carrier hashes are lower-case hex: upper-casing them would re-key every device.
    assert identifier(pa.array(["ab12ef"])).to_pylist() == ["ab12ef"]


def test_chunked_and_all_ascii_columns_come_back_as_one_array():
    chunked = pa.chunked_array([["a ", " b"], ["c"]])
    assert identifier(chunked).to_pylist() == ["a", "b", "c"]


POP = get_contract("population_registry")


def _population_csv(path, rows: list[dict[str, str]]):
    lines = [",".join(c.header for c in POP.delivered_columns)]
    for overrides in rows:
        values = register_row(**overrides)
        lines.append(",".join(values[c.name] for c in POP.delivered_columns))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk", errors="strict"))
    return path


def test_one_household_one_pseudonym_and_a_padded_valid_id_is_accepted(tmp_path):
    # GBK cannot carry a zero-width space; full-width digits and padding it can.
    path = _population_csv(
        tmp_path / "population_registry_20261125.csv",
        [
            {
                "household_id": "330106001",
                "resident_id": f"  {ID.lower()} ",
                "phone": "１３８００００００００",
            },
        ],
    )
    parsed = parse_batch(path, POP, "population_registry/2026-11-25", as_of=AS_OF)
    assert parsed.problems == []  # the padded, lower-case ID used to be a bad check digit
    assert parsed.table.column("resident_id").to_pylist() == [ID]
    assert parsed.table.column("phone").to_pylist() == ["13800000000"]
    full_width = _population_csv(tmp_path / "fw.csv", [{"household_id": "３３０１０６００１"}])
    again = parse_batch(full_width, POP, "population_registry/2026-11-25", as_of=AS_OF)
    pseudonymizer = Pseudonymizer.from_environment()
    assert pseudonymizer.pseudonymize(
        "household", parsed.table.column("household_id").combine_chunks()
    ).equals(pseudonymizer.pseudonymize("household", again.table.column("household_id").combine_chunks()))


def test_an_id_number_encoding_an_age_of_150_is_quarantined_at_the_door(tmp_path):
    body = "110105187605010012"[:17]
    old = body + ric.calc_check_digit(body + "?")
    path = _population_csv(
        tmp_path / "p.csv", [{}, {"resident_id": old, "sex": "1", "birth_date": "18760501"}]
    )
    parsed = parse_batch(path, POP, "population_registry/2026-11-25", as_of=AS_OF)
    assert [(p.row, p.column, p.reason) for p in parsed.problems] == [(2, "resident_id", "IMPLAUSIBLE_AGE")]


def test_a_case_repeated_with_a_zero_width_space_is_a_duplicate_key(tmp_path):
    civil = get_contract("civil_affairs_assistance")
    header = [c.header for c in civil.delivered_columns]
    row = delivered(civil, ASSISTANCE_ROW)
    repeated = ["C1\u200b", *row[1:]]
    path = tmp_path / "civil_affairs_assistance_20261125.csv"
    path.write_text("\n".join(",".join(r) for r in (header, row, repeated)) + "\n", encoding="utf-8")
    parsed = parse_batch(path, civil, "civil_affairs_assistance/2026-11-25", as_of=AS_OF)
    assert parsed.table.column("case_id").to_pylist() == ["C1", "C1"]
    gate = run_gate(parsed.table, civil, as_of=AS_OF)
    assert sorted((p.row, p.reason) for p in gate.row_problems) == [
        (1, "DUPLICATE_KEY"),
        (2, "DUPLICATE_KEY"),
    ]


def test_one_appeals_reporter_has_one_pseudonym_and_a_bad_check_digit_is_quarantined(tmp_path):
    appeals = get_contract("appeals")
    base = {
        "ticket_id": "T1",
        "channel": "hotline_12345",
        "category_code": "ENV",
        "description": None,
        "community_code": "330106001001",
        "grid_code": None,
        "reporter_phone": "13800000000",
        "reporter_id": ID,
        "received_at": "2026-11-25 08:00:00",
        "dispatched_at": None,
        "responded_at": None,
        "resolved_at": None,
        "status": "received",
        "satisfaction": None,
        "updated_at": "2026-11-25 08:00:00",
    }
    reporters = [ID, ID + "\u200b", "１１０１０５１９４９１２３１００２Ｘ", ID.lower(), ID[:17] + "1"]
    lines = [
        json.dumps({**base, "ticket_id": f"T{i}", "reporter_id": r}, ensure_ascii=False)
        for i, r in enumerate(reporters, start=1)
    ]
    path = tmp_path / "appeals.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parsed = parse_batch(path, appeals, "appeals/2026-11-25T08:00", as_of=AS_OF)
    assert [(p.row, p.column, p.reason) for p in parsed.problems] == [(5, "reporter_id", "ID_CHECKSUM")]
    pseudonyms = Pseudonymizer.from_environment().pseudonymize(
        "resident", parsed.table.column("reporter_id").combine_chunks()
    )
    assert len(set(pseudonyms.to_pylist()[:4])) == 1
