"""derivations: what an ID number encodes, and display-masked names, computed before pseudonymization."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from community_dw import derivations

from support.identity import id_number


def test_id_number_derivations_agree_with_an_independent_construction():
    ids = pa.array([id_number(dt.date(1949, 12, 31), "2"), id_number(dt.date(2001, 2, 3), "1"), None, "123"])
    assert derivations.derive("id_birth_date", ids).to_pylist() == [
        dt.date(1949, 12, 31),
        dt.date(2001, 2, 3),
        None,
        None,
    ]
    assert derivations.derive("id_sex", ids).to_pylist() == ["2", "1", None, None]
    assert derivations.derive("id_checksum_valid", ids).to_pylist() == [True, True, None, False]
    assert derivations.derive("id_region_code", ids).to_pylist()[:2] == ["110105", "110105"]


def test_a_wrong_check_digit_is_invalid():
    good = id_number(dt.date(1980, 5, 6))
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert derivations.derive("id_checksum_valid", pa.array([good, bad])).to_pylist() == [True, False]


def test_masked_names_keep_the_surname_only():
    names = pa.array(["张三丰", "李四", "欧", None])
    assert derivations.mask_name(names).to_pylist() == ["张**", "李*", "欧", None]


def test_an_unknown_rule_names_the_known_ones():
    with pytest.raises(KeyError, match="mask_name"):
        derivations.derive("no_such_rule", pa.array(["x"]))
