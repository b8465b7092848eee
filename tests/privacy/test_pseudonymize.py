from __future__ import annotations

import pyarrow as pa
import pytest

from community_dw import pseudonymize
from community_dw.pseudonymize import Pseudonymizer


def test_same_value_same_domain_same_pseudonym_across_calls():
    p = Pseudonymizer(b"k1")
    first = p.pseudonymize("resident", pa.array(["11010519491231002X", None]))
    again = p.pseudonymize("resident", pa.array([" 11010519491231002x "]))
    assert first[0] == again[0]
    assert first[1].as_py() is None
    assert len(first[0].as_py()) == 64


def test_domains_and_keys_separate_pseudonyms():
    p, other_key = Pseudonymizer(b"k1"), Pseudonymizer(b"k2")
    value = pa.array(["13800000000"])
    assert p.pseudonymize("phone", value)[0] != p.pseudonymize("telecom", value)[0]
    assert p.pseudonymize("phone", value)[0] != other_key.pseudonymize("phone", value)[0]


def test_pseudonym_is_hmac_not_plain_hash():
    import hashlib

    value = "11010519491231002X"
    pseudonym = Pseudonymizer(b"k1").pseudonym("resident", value)
    assert pseudonym != hashlib.sha256(value.encode()).hexdigest()


def test_column_pseudonyms_are_rfc2104_hmac_sha256():
    import hashlib
    import hmac

    p = Pseudonymizer(b"master key")
    values = ["11010519491231002X", "张三", "13800000000", "11010519491231002X", "X" * 200]
    expected = [hmac.new(p.domain_key("resident"), v.encode(), hashlib.sha256).hexdigest() for v in values]
    assert p.pseudonymize("resident", pa.array(values)).to_pylist() == expected
    assert p.pseudonym("resident", values[1]) == expected[1]


def test_missing_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv(pseudonymize.KEY_ENV, raising=False)
    monkeypatch.delenv(pseudonymize.ALLOW_LOCAL_KEY_ENV, raising=False)
    with pytest.raises(pseudonymize.MissingKeyError, match="CDW_PSEUDONYMIZATION_KEY"):
        pseudonymize.master_key()


def test_demo_key_is_generated_once(monkeypatch, tmp_path):
    monkeypatch.delenv(pseudonymize.KEY_ENV, raising=False)
    monkeypatch.setenv(pseudonymize.ALLOW_LOCAL_KEY_ENV, "1")
    monkeypatch.setenv("CDW_LOCAL_KEY_FILE", str(tmp_path / "keys" / "pseudonymization.key"))
    assert pseudonymize.master_key() == pseudonymize.master_key()
    assert (tmp_path / "keys" / "pseudonymization.key").stat().st_mode & 0o077 == 0


def test_a_column_of_nulls_stays_null():
    assert Pseudonymizer(b"k1").pseudonymize("resident", pa.array([None, None], pa.string())).to_pylist() == [
        None,
        None,
    ]
