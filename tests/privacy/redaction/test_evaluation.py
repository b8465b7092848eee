"""Redaction meets its targets on both labelled sets, and the evaluator that says so can fail."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from community_dw.redact import redact_free_text
from community_dw_tools.synthetic import appeals
from community_dw_tools.synthetic.names import NamePool
from tests.privacy.redaction.evaluate import (
    KINDS,
    PRECISION_TARGET,
    TARGETS,
    adversarial_cases,
    failures,
    masked_characters,
    score,
)
from tests.privacy.redaction.generate import generated_cases


@pytest.fixture(scope="module")
def sets():
    return {"generated": generated_cases(2000), "adversarial": adversarial_cases()}


@pytest.mark.parametrize("name", ["generated", "adversarial"])
def test_targets(sets, name):
    scores = score(sets[name], redact_free_text)
    assert all(scores.planted[kind] > 0 for kind in KINDS), scores.planted
    assert not failures(scores), (failures(scores), scores.misses[:10], scores.false_alarms[:10])
    for kind in KINDS:  # stricter than the overall figure: every token kind on its own
        assert scores.precision(kind) >= PRECISION_TARGET, (kind, scores.false_alarms[:10])


def test_adversarial_set_is_big_and_has_negatives():
    cases = adversarial_cases()
    assert len(cases) >= 80
    assert sum(1 for c in cases if not c.spans) >= 30
    assert {kind for c in cases for kind, _, _ in c.spans} == set(KINDS)


def test_masked_characters_follow_the_tokens():
    assert masked_characters("电话13812345678。", "电话[PHONE]。") == dict.fromkeys(range(2, 13), "phone")
    assert masked_characters("我是王伟，13812345678", "我是[NAME]，[PHONE]") == {
        **dict.fromkeys(range(2, 4), "name"),
        **dict.fromkeys(range(5, 16), "phone"),
    }
    with pytest.raises(ValueError, match="outside its tokens"):
        masked_characters("电话13812345678。", "电话[PHONE]!")


def test_the_evaluator_fails_a_redactor_that_misses_or_overreaches(sets):
    cases = sets["adversarial"]
    nothing = score(cases, lambda values: values)
    assert all(nothing.recall(kind) == 0 for kind in KINDS)
    assert set(failures(nothing)) >= {f"{kind} recall 0.000 < {target}" for kind, target in TARGETS.items()}

    def everything(values: pa.Array) -> pa.Array:
        return pa.array(["[NAME]" if v else v for v in values.to_pylist()], pa.string())

    greedy = score(cases, everything)
    assert all(greedy.recall(kind) == 1 for kind in KINDS)
    assert greedy.precision() < 0.5 and any(f.startswith("precision") for f in failures(greedy))


def test_planting_keeps_the_citys_other_draws():
    """Everything the extra kinds and forms need comes from the side generator, not the city's."""
    pool = NamePool.from_faker(__import__("faker").Faker("zh_CN"), np.random.default_rng(1), size=200)
    reporter = appeals._Reporter("李勇利", "13812345678", "330106198503124413")
    states = []
    for side_seed in (1, 2):
        rng = np.random.default_rng(5)
        for _ in range(200):
            appeals._describe(rng, "TRAF", "文一路", "3幢", pool, reporter, np.random.default_rng(side_seed))
        states.append(rng.integers(0, 2**62))
    assert states[0] == states[1]


def test_planted_spans_and_labels():
    cases = generated_cases(300, seed=3)
    for case in cases:
        for kind, start, end in case.spans:
            assert 0 <= start < end <= len(case.text) and kind in KINDS
    forms = {f for c in cases for f in c.forms}
    assert {"phone:numerals", "id:old15", "email:wide_at", "plate:new_energy", "address:full"} <= forms
    assert appeals.Planted("id", "plain", 0, 18).label == "id_number"
    assert appeals.Planted("id", "old15", 0, 15).label == "id_number:old15"
    assert appeals.Planted("phone", "numerals", 0, 11).label == "phone:numerals"
