"""The contracts are complete and consistent, and malformed ones are refused with a clear message."""

from __future__ import annotations

import json

import pytest

from community_dw import paths
from community_dw.contracts import PRIVACY_CLASSES, ContractError, load_contracts, parse_contract
from community_dw.validation import load_suite

SOURCES = {"population_registry", "telecom_stays", "civil_affairs_assistance", "health_services", "appeals"}


def test_all_five_sources_have_contracts():
    assert set(load_contracts()) == SOURCES


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_contract_declares_everything_ingestion_needs(source):
    contract = load_contracts()[source]
    assert contract.transport in {"file_drop", "object_storage", "http_api"}
    assert contract.format in {"csv", "jsonl", "parquet", "json"}
    assert contract.encoding and contract.schedule
    assert contract.schema_contract.columns == "freeze"
    assert contract.primary_key
    for column in contract.columns:
        assert column.privacy in PRIVACY_CLASSES
        assert column.description
        if column.privacy == "direct":
            assert column.pseudonym_domain, f"{source}.{column.name} is direct but has no pseudonym domain"


def test_resident_ids_share_one_domain_and_telecom_has_its_own():
    domains = {
        (name, col.name): col.pseudonym_domain
        for name, contract in load_contracts().items()
        for col in contract.direct_columns
    }
    assert domains[("population_registry", "resident_id")] == "resident"
    assert domains[("civil_affairs_assistance", "resident_id")] == "resident"
    assert domains[("health_services", "resident_id")] == "resident"
    assert domains[("telecom_stays", "msisdn_hash")] == "telecom"
    assert "telecom" not in {d for (s, _), d in domains.items() if s != "telecom_stays"}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_the_gate_has_a_not_null_rule_per_required_column_that_the_suite_file_does_not_restate(source):
    contract = load_contracts()[source]
    not_null = {
        e["kwargs"]["column"]: e["meta"]["reason_code"]
        for e in load_suite(source)["expectations"]
        if e["type"] == "expect_column_values_to_not_be_null"
    }
    assert not_null == {c.name: "MISSING_REQUIRED" for c in contract.columns if c.required}
    suite_file = json.loads((paths.EXPECTATIONS_DIR / f"{source}.json").read_text(encoding="utf-8"))
    assert not [e for e in suite_file["expectations"] if e["type"] == "expect_column_values_to_not_be_null"]


def test_malformed_contract_names_file_and_field(tmp_path):
    bad = tmp_path / "broken.yml"
    bad.write_text(
        "version: 2\nsources:\n  - name: broken\n    meta: {contract: {primary_key: [a]}}\n    tables:\n"
        "      - name: broken\n        columns:\n          - name: a\n            data_type: varchar\n"
        "            description: x\n            meta: {privacy: secret}\n",
        encoding="utf-8",
    )
    with pytest.raises(ContractError, match=r"broken.yml.*privacy 'secret'"):
        parse_contract(bad)
