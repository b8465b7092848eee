"""Every key of a contract is read by something, and the parser refuses the ones nothing reads."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
import yaml

from community_dw import normalize, paths, validation
from community_dw.contracts import (
    COLUMN_META,
    NORMALIZATIONS,
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
    STRUCTURED_FIELDS,
    TRANSPORT_OPTIONS,
    VALIDATIONS,
    ContractError,
    Plausibility,
    parse_contract,
)

from support.contracts import write_contract

PACKAGE = Path(normalize.__file__).parent


def _contract(tmp_path: Path, contract: dict | None = None, column_meta: dict | None = None) -> Path:
    """A minimal valid file-drop contract, with `contract` and `column_meta` merged in."""
    column = {
        "name": "case_id",
        "data_type": "varchar",
        "description": "Case number.",
        "meta": {"privacy": "none", "required": True, **(column_meta or {})},
    }
    return write_contract(tmp_path / "cases.yml", [column], **(contract or {}))


def _raw_contract_files() -> list[tuple[str, dict]]:
    return [
        (p.name, yaml.safe_load(p.read_text(encoding="utf-8"))["sources"][0])
        for p in sorted(paths.CONTRACTS_DIR.glob("*.yml"))
    ]


def test_the_minimal_contract_parses(tmp_path):
    contract = parse_contract(_contract(tmp_path))
    assert contract.schema_contract.data_type == "quarantine"
    assert contract.options == {"file_pattern": "cases_{ds_nodash}.csv"}


@pytest.mark.parametrize("key", ["cadence", "load_strategy", "cursor_field", "page_size"])
def test_a_field_nothing_reads_is_refused_naming_file_and_field(tmp_path, key):
    # cadence and load_strategy were read by nothing; page_size is an http_api option, not file_drop's.
    with pytest.raises(ContractError, match=rf"cases.yml source 'cases' meta.contract.*unknown field.*{key}"):
        parse_contract(_contract(tmp_path, {key: "x"}))


def test_an_unknown_column_meta_key_is_refused(tmp_path):
    with pytest.raises(ContractError, match=r"cases.yml.*column 'case_id' meta.*unknown field.*normalise"):
        parse_contract(_contract(tmp_path, column_meta={"normalise": "identifier"}))


@pytest.mark.parametrize(
    ("schema_contract", "message"),
    [
        (
            {"columns": "evolve", "data_type": "quarantine"},
            r"schema_contract.columns 'evolve' is not one of freeze",
        ),
        ({"columns": "freeze", "data_type": "discard"}, r"schema_contract.data_type 'discard' is not one of"),
        ({"columns": "freeze"}, r"schema_contract.data_type is missing"),
        ({"columns": "freeze", "data_type": "freeze", "tables": "freeze"}, r"unknown field.*tables"),
        (None, r"missing required field 'schema_contract'"),
    ],
)
def test_schema_contract_modes_are_explicit_and_known(tmp_path, schema_contract, message):
    with pytest.raises(ContractError, match=rf"cases.yml.*{message}"):
        parse_contract(_contract(tmp_path, {"schema_contract": schema_contract}))


@pytest.mark.parametrize(
    ("column_meta", "message"),
    [
        ({"normalize": "phone"}, r"normalize 'phone' is not one of identifier, id_number"),
        ({"validate": "iban"}, r"validate 'iban' is not one of id_number"),
        ({"plausible": {"max_age_years": 120}}, r"plausible applies to a date column or to an ID number"),
        (
            {"validate": "id_number", "plausible": {"max_age_years": 0}},
            r"plausible.max_age_years must be a whole number >= 1",
        ),
        ({"validate": "id_number", "plausible": {"younger_than": 3}}, r"unknown field.*younger_than"),
    ],
)
def test_column_rules_are_checked(tmp_path, column_meta, message):
    with pytest.raises(ContractError, match=rf"cases.yml.*column 'case_id'.*{message}"):
        parse_contract(_contract(tmp_path, column_meta=column_meta))


@pytest.mark.parametrize(("name", "source"), _raw_contract_files())
def test_every_key_in_every_contract_file_is_one_something_reads(name, source):
    meta = source["meta"]["contract"]
    transport = meta["transport"]
    known = {*REQUIRED_FIELDS, *STRUCTURED_FIELDS, *OPTIONAL_FIELDS, *TRANSPORT_OPTIONS[transport]}
    assert set(meta) <= known, f"{name}: {set(meta) - known}"
    for column in source["tables"][0]["columns"]:
        assert set(column.get("meta") or {}) <= set(COLUMN_META), f"{name} {column['name']}"
    # The transport options present are read by the transport's module, by name.
    module = (PACKAGE / "transports" / f"{transport}.py").read_text(encoding="utf-8")
    for option in set(meta) & set(TRANSPORT_OPTIONS[transport]):
        assert f'"{option}"' in module, f"{name}: {option} is not read by transports/{transport}.py"


@pytest.mark.parametrize("transport", sorted(TRANSPORT_OPTIONS))
def test_every_declared_transport_option_is_read_by_its_module(transport):
    module = (PACKAGE / "transports" / f"{transport}.py").read_text(encoding="utf-8")
    unread = [o for o in TRANSPORT_OPTIONS[transport] if f'"{o}"' not in module]
    assert unread == []


def test_the_contract_vocabulary_matches_the_implementations():
    assert set(NORMALIZATIONS) == set(normalize.NORMALIZERS)
    assert set(VALIDATIONS) == set(validation.DOOR_CHECKS)


@pytest.mark.parametrize(
    ("as_of", "earliest"),
    [
        (dt.date(2026, 11, 25), dt.date(1905, 11, 26)),  # born 1905-11-25: 121 today, one too many
        (dt.date(2028, 2, 29), dt.date(1907, 3, 1)),  # born 1907-02-28: 121 on 29 February 2028
    ],
)
def test_the_age_bound_counts_completed_years(as_of, earliest):
    assert Plausibility(max_age_years=120).earliest(as_of) == earliest


@pytest.mark.parametrize("mode", ["quarantine", "freeze"])
def test_data_type_mode_decides_between_quarantine_and_rejection(tmp_path, mode):
    from community_dw.contracts import SchemaContract, get_contract
    from community_dw.errors import BatchRejected
    from community_dw.parsing import parse_batch

    civil = dataclasses.replace(
        get_contract("civil_affairs_assistance"), schema_contract=SchemaContract("freeze", mode)
    )
    header = ",".join(c.header for c in civil.delivered_columns)
    good = "C1,11010519491231002X,senior_allowance,active,2026-01-01,,300.00,330106001001,2026-11-25 08:00:00"
    bad = good.replace("C1", "C2").replace("300.00", "3oo.00")
    path = tmp_path / "civil.csv"
    path.write_text(f"{header}\n{good}\n{bad}\n", encoding="utf-8")
    if mode == "quarantine":
        parsed = parse_batch(path, civil, "civil_affairs_assistance/2026-11-25")
        assert [(p.row, p.column, p.reason) for p in parsed.problems] == [
            (2, "monthly_amount", "UNPARSEABLE_VALUE")
        ]
        return
    with pytest.raises(BatchRejected) as caught:
        parse_batch(path, civil, "civil_affairs_assistance/2026-11-25")
    rejection = caught.value
    assert (rejection.rule, rejection.row, rejection.column) == ("UNPARSEABLE_VALUE", 2, "monthly_amount")
    assert "3oo.00" not in str(rejection) and "freeze" in str(rejection)
