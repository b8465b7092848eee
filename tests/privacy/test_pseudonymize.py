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


def test_pseudonyms_of_a_fixed_key_never_change():
    """Pinned: a change here would break every join with pseudonyms already in a warehouse."""
    p = Pseudonymizer(b"a fixed test key, never used for real data")
    values = pa.array(["11010519491231002X", " 13800000000 ", "张三", "abc", "", None])
    assert p.pseudonymize("resident", values).to_pylist() == [
        "d4d9860b106640e54caaa3caa41bfbb17eda2c5eb25a616d7cc9d7056ebeea1a",
        "37a45797c346cb3b9f1170f7b9db48395ca5b1d4faa2e152015534df56f73033",
        "2b5d3802b1da54f37f74a2762a5b8325437bef52040955bf8dc4fc4feb34849f",
        "2e04a35ca2252168ca07b3076ef0b32e14d162929de0158cb5340279efaf6c8f",
        "f95e5ee8a6bd9f2351e33d33c280cc765a19c342a3ac5712a48241beb4b23927",
        None,
    ]
    assert p.pseudonym("telecom", "abc") == "454f59626654f3016a5c9b3e733db160cf3cb01328b92d254dfcdd702d89dff7"


def _expected_hmacs(key: bytes, values: list[bytes | None]) -> list[str | None]:
    import hashlib
    import hmac

    return [None if v is None else hmac.new(key, v, hashlib.sha256).hexdigest() for v in values]


_ODD_VALUES = [
    b"",
    b"a",
    None,
    "张三".encode(),
    b"\x00\xff" * 40,
    b"x" * 55,
    b"x" * 56,
    b"x" * 63,
    b"y" * 64,
    b"z" * 65,
    b"q" * 1000,
]
_ODD_KEYS = [
    b"",
    b"k",
    b"k" * 32,
    b"k" * 64,
    b"k" * 65,
    bytes(range(200)),
]  # RFC 2104: > 64 bytes is hashed first


@pytest.mark.parametrize("path", ["batch", "loop"])
def test_both_hmac_paths_are_rfc2104_on_odd_keys_values_slices_and_nulls(monkeypatch, path):
    """The batch extension and the portable loop give `hmac.new`'s digests, nulls kept, on sliced arrays
    (whose offsets start past zero) and empty ones."""
    if path == "loop":
        monkeypatch.setattr(pseudonymize, "_batch", None)
    for key in _ODD_KEYS:
        array = pa.array(_ODD_VALUES * 3, pa.binary())
        assert pseudonymize.hmac_sha256_hex(key, array).to_pylist() == _expected_hmacs(key, _ODD_VALUES * 3)
        sliced = array.slice(5, 13)
        assert pseudonymize.hmac_sha256_hex(key, sliced).to_pylist() == _expected_hmacs(
            key, sliced.to_pylist()
        )
        assert pseudonymize.hmac_sha256_hex(key, array.slice(4, 0)).to_pylist() == []
    assert pseudonymize.hmac_sha256_hex(b"k", pa.array([], pa.string())).to_pylist() == []


def test_the_batch_hmac_is_built_by_the_install():
    """`make` builds community_dw._hmac_sha256 (pyproject.toml); without it pseudonymization silently
    costs about 2.5x the CPU time, so this install must have it."""
    assert pseudonymize._batch is not None


def test_the_batch_hmac_refuses_offsets_outside_its_buffer():
    import numpy as np

    from community_dw import _hmac_sha256

    with pytest.raises(ValueError, match="outside the data buffer"):
        _hmac_sha256.hmac_sha256_hex(b"k", b"abc", np.array([0, 2, 9], np.int32).tobytes())
    with pytest.raises(ValueError, match="outside the data buffer"):
        _hmac_sha256.hmac_sha256_hex(b"k", b"abc", np.array([2, 1], np.int32).tobytes())
    with pytest.raises(ValueError, match="n \\+ 1 int32"):
        _hmac_sha256.hmac_sha256_hex(b"k", b"abc", b"\x00\x00")
