"""The gate's generic rules come from the contract and run in real Great Expectations.

A small contract and a suite file holding only a source-specific rule: the not-null, key-uniqueness and
plausibility rules still run, each failure names its `_source_row`, column and reason code, and nothing
of a delivered value reaches the GX result.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest
from stdnum.cn import ric

from community_dw import paths, validation
from community_dw.clock import local_now
from community_dw.contracts import SOURCE_ROW, Contract, parse_contract
from community_dw.validation import door_problems, load_suite, run_gate

from support.contracts import write_contract

AS_OF = dt.date(2026, 11, 25)


@pytest.fixture
def contract(tmp_path, monkeypatch) -> Contract:
    """Contract `cases` (key case_id + updated_at, a plausible birth date) and its suite file."""
    column = {"privacy": "none"}
    columns = [
        {"name": "case_id", "data_type": "varchar", "description": "x", "meta": {**column, "required": True}},
        {
            "name": "updated_at",
            "data_type": "timestamp",
            "description": "x",
            "meta": {**column, "required": True},
        },
        {
            "name": "birth_date",
            "data_type": "date",
            "description": "x",
            "meta": {**column, "plausible": {"not_future": True, "max_age_years": 120}},
        },
        {
            "name": "reporter_id",
            "data_type": "varchar",
            "description": "x",
            "meta": {
                "privacy": "direct",
                "pseudonym_domain": "resident",
                "normalize": "id_number",
                "validate": "id_number",
                "plausible": {"not_future": True, "max_age_years": 120},
            },
        },
        {"name": "amount", "data_type": "integer", "description": "x", "meta": column},
    ]
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    path = write_contract(contracts / "cases.yml", columns, primary_key=["case_id", "updated_at"])
    suites = tmp_path / "expectations"
    suites.mkdir()
    (suites / "cases.json").write_text(
        json.dumps(
            {
                "name": "cases",
                "expectations": [
                    {
                        "type": "expect_column_values_to_be_between",
                        "kwargs": {"column": "amount", "min_value": 0},
                        "meta": {"severity": "row", "reason_code": "NEGATIVE_AMOUNT"},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(paths, "EXPECTATIONS_DIR", suites)
    return parse_contract(path)


def _batch(rows: list[tuple]) -> pa.Table:
    """Rows of (case_id, updated_at, birth_date, amount), numbered from 1 as `_source_row`."""
    case_id, updated_at, birth_date, amount = (list(c) for c in zip(*rows, strict=True))
    return pa.table(
        {
            "case_id": pa.array(case_id, pa.string()),
            "updated_at": pa.array(updated_at, pa.timestamp("us")),
            "birth_date": pa.array(birth_date, pa.date32()),
            "reporter_id": pa.array([None] * len(rows), pa.string()),
            "amount": pa.array(amount, pa.int32()),
            SOURCE_ROW: pa.array(range(1, len(rows) + 1), pa.int32()),
        }
    )


T = dt.datetime(2026, 11, 25, 8)


def _problems(gate) -> list[tuple[int, str, str]]:
    return sorted((p.row, p.column, p.reason) for p in gate.row_problems)


def test_a_suite_file_without_generic_rules_still_gets_them(contract):
    suite_file = json.loads((paths.EXPECTATIONS_DIR / "cases.json").read_text(encoding="utf-8"))
    assert [e["type"] for e in suite_file["expectations"]] == ["expect_column_values_to_be_between"]
    rules = {(e["type"], e["meta"]["reason_code"]) for e in load_suite("cases", contract)["expectations"]}
    assert rules == {
        ("expect_column_values_to_not_be_null", "MISSING_REQUIRED"),
        ("expect_compound_columns_to_be_unique", "DUPLICATE_KEY"),
        ("expect_column_values_to_be_between", "IMPLAUSIBLE_DATE"),
        ("expect_column_values_to_be_between", "IMPLAUSIBLE_AGE"),
        ("expect_column_values_to_be_between", "NEGATIVE_AMOUNT"),
    }


def test_generated_rules_quarantine_each_row_with_its_reason(contract):
    oldest_plausible = dt.date(1905, 11, 26)  # 120 on AS_OF; a day earlier is 121
    batch = _batch(
        [
            ("C1", T, dt.date(1980, 1, 1), 10),  # clean
            (None, T, dt.date(1980, 1, 1), 10),  # required key column missing
            ("C3", T, dt.date(1980, 1, 1), 10),  # C3 twice at the same version time: both held back
            ("C3", T, dt.date(1981, 1, 1), 10),
            ("C3", T + dt.timedelta(hours=1), dt.date(1980, 1, 1), 10),  # a later version of C3: fine
            ("C6", T, AS_OF + dt.timedelta(days=1), 10),  # born tomorrow
            ("C7", T, dt.date(1876, 5, 1), 10),  # 150 years old
            ("C8", T, oldest_plausible, 10),  # exactly 120
            ("C9", T, oldest_plausible - dt.timedelta(days=1), 10),  # 121
            ("C10", T, AS_OF, 10),  # born on the batch's day
            ("C11", None, None, -5),  # no version time, no birth date (not required), negative amount
        ]
    )
    gate = run_gate(batch, contract, as_of=AS_OF)
    assert _problems(gate) == [
        (2, "case_id", "MISSING_REQUIRED"),
        (3, "case_id,updated_at", "DUPLICATE_KEY"),
        (4, "case_id,updated_at", "DUPLICATE_KEY"),
        (6, "birth_date", "IMPLAUSIBLE_DATE"),
        (7, "birth_date", "IMPLAUSIBLE_AGE"),
        (9, "birth_date", "IMPLAUSIBLE_AGE"),
        (11, "amount", "NEGATIVE_AMOUNT"),
        (11, "updated_at", "MISSING_REQUIRED"),
    ]
    assert not gate.critical_failures
    by_reason = {(o.column, o.reason_code): o.unexpected_count for o in gate.outcomes if not o.success}
    assert by_reason[("birth_date", "IMPLAUSIBLE_AGE")] == 2


def test_without_a_batch_date_the_bound_is_today(contract):
    today = local_now().date()
    batch = _batch([("C1", T, today, 1), ("C2", T, today + dt.timedelta(days=1), 1)])
    assert _problems(run_gate(batch, contract)) == [(2, "birth_date", "IMPLAUSIBLE_DATE")]


def test_no_delivered_value_reaches_the_gx_result(contract):
    secret = "CASE-4242-SECRET"
    batch = _batch([(secret, T, dt.date(1876, 5, 1), -1), (secret, T, dt.date(2999, 1, 1), -1)])
    gate = run_gate(batch, contract, as_of=AS_OF)
    assert {p.reason for p in gate.row_problems} >= {"DUPLICATE_KEY", "IMPLAUSIBLE_AGE", "IMPLAUSIBLE_DATE"}
    text = json.dumps(gate.validation_result.to_json_dict(), default=str)
    for value in (secret, "1876-05-01", "2999-01-01"):
        assert value not in text
    assert secret not in repr(gate.row_problems) + repr(gate.outcomes)


def test_a_suite_file_restating_a_generic_rule_is_refused(contract):
    path = paths.EXPECTATIONS_DIR / "cases.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    suite["expectations"].append(
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "case_id"},
            "meta": {"severity": "row", "reason_code": "MISSING_REQUIRED"},
        }
    )
    path.write_text(json.dumps(suite), encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"cases.json expectation #1 .*case_id.* restates a rule the contract"
    ):
        load_suite("cases", contract)


def _id(born: dt.date, serial: str = "123") -> str:
    body = f"330106{born:%Y%m%d}{serial}"
    return body + ric.calc_check_digit(body + "?")


def test_id_numbers_are_checked_at_the_door_with_their_encoded_birth_date(contract):
    valid = _id(dt.date(1980, 5, 17))
    wrong_check = valid[:17] + ("0" if valid[17] != "0" else "1")
    ids = [
        valid,
        None,  # optional: absent is fine
        wrong_check,
        "12345",
        _id(dt.date(1876, 5, 1)),  # valid check digit, 150 years old
        _id(AS_OF + dt.timedelta(days=2)),  # valid check digit, born after the batch's date
        "330106198002301231"[:17] + ric.calc_check_digit("33010619800230123?"),  # 30 February
    ]
    table = pa.table(
        {"reporter_id": pa.array(ids, pa.string()), SOURCE_ROW: pa.array(range(1, len(ids) + 1), pa.int32())}
    )
    problems = door_problems(table, contract, as_of=AS_OF)
    assert sorted((p.row, p.column, p.reason) for p in problems) == [
        (3, "reporter_id", "ID_CHECKSUM"),
        (4, "reporter_id", "ID_CHECKSUM"),
        (5, "reporter_id", "IMPLAUSIBLE_AGE"),
        (6, "reporter_id", "IMPLAUSIBLE_DATE"),
        (7, "reporter_id", "IMPLAUSIBLE_DATE"),
    ]
    assert not any(valid in p.rule or wrong_check in p.rule for p in problems)


@pytest.mark.parametrize(
    "source", ["population_registry", "civil_affairs_assistance", "health_services", "appeals"]
)
def test_every_id_number_column_is_validated(source):
    from community_dw.contracts import get_contract

    contract = get_contract(source)
    domains = {c.name for c in contract.columns if c.pseudonym_domain == "resident"}
    assert domains and all(contract.column(name).validate == "id_number" for name in domains)
    assert validation.DOOR_CHECKS["id_number"]


def test_the_real_suites_load_with_their_generated_rules():
    from community_dw.contracts import load_contracts

    for name, contract in load_contracts().items():
        suite = load_suite(name)
        generated = [e for e in suite["expectations"] if e["meta"].get("generated_from") == "contract"]
        assert len(generated) == len(validation.contract_expectations(contract))
        assert sum(e["meta"]["reason_code"] == "DUPLICATE_KEY" for e in generated) == 1
