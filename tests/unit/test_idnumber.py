"""The vectorized ID checks agree with python-stdnum, the reference implementation, value by value."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
from stdnum.cn import ric

from community_dw import idnumber


def _random_ids(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    ids = []
    for _ in range(n):
        born = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(0, 33000))
        body = f"{rng.choice(['330106', '110105', '440304'])}{born:%Y%m%d}{rng.randrange(0, 1000):03d}"
        check = ric.calc_check_digit(body + "?")  # stdnum ignores the last character it is given
        if rng.random() < 0.3:  # a wrong check digit
            check = rng.choice([c for c in "0123456789X" if c != check])
        ids.append(body + check)
    return ids


def test_checksum_agrees_with_stdnum():
    ids = [*_random_ids(3000), "11010519491231002X", "110105194912310021", "", "12345", "11010519490230002X"]
    ours = idnumber.checksum_valid(pa.array(ids)).to_pylist()
    reference = [ric.is_valid(i) if i else False for i in ids]
    # stdnum also rejects impossible birth dates; the checksum rule alone does not.
    for value, mine, theirs in zip(ids, ours, reference, strict=True):
        if len(value) == 18 and ric.calc_check_digit(value) == value[17].upper():
            assert mine is True, value
        else:
            assert mine is (theirs or False), value


def test_birth_date_and_sex_agree_with_stdnum():
    ids = _random_ids(2000)
    births = idnumber.birth_date(pa.array(ids)).to_pylist()
    sexes = idnumber.sex(pa.array(ids)).to_pylist()
    for value, born, sex in zip(ids, births, sexes, strict=True):
        assert born == ric.get_birth_date(value[:17] + ric.calc_check_digit(value))
        assert sex == ("1" if int(value[16]) % 2 else "2")


def test_impossible_birth_dates_are_null_not_normalized():
    assert idnumber.birth_date(pa.array(["11010519490230002X"])).to_pylist() == [None]


def test_nulls_and_malformed_values():
    values = pa.array([None, "abc", "11010519491231002x"])
    assert idnumber.checksum_valid(values).to_pylist() == [None, False, True]
    assert idnumber.region_code(values).to_pylist() == [None, None, "110105"]
