"""Recall and precision of free-text redaction per kind, on the generated and the adversarial set.

    .venv/bin/python -m tests.privacy.redaction.evaluate                 # today's redactor
    .venv/bin/python -m tests.privacy.redaction.evaluate --no-jieba      # without jieba's person-name tags
    .venv/bin/python -m tests.privacy.redaction.evaluate --git a58562b   # the redactor of an older commit

The redactor is run through its public column API (`redact_free_text`) and judged on its output
only: input and output are aligned (difflib), and every input character inside a replaced stretch
whose output holds a token counts as masked. A planted value is recalled when every one of its
characters is masked (by any token). Precision is per character: masked characters that belong to
some planted value over all masked characters; per kind it is attributed to the kind of the planted
value the masked character falls in, and masked characters outside every planted value count against
the overall figure and against the kind whose token masked them.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
import types
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import yaml

from tests.privacy.redaction.generate import Case, generated_cases

KINDS = ("name", "phone", "id", "card", "email", "plate", "address")
STRUCTURED = ("phone", "id", "card", "email", "plate", "address")
TARGETS = {**dict.fromkeys(STRUCTURED, 0.99), "name": 0.95}
PRECISION_TARGET = 0.95
ADVERSARIAL = Path(__file__).with_name("adversarial.yaml")
_TOKEN = re.compile(r"\[(EMAIL|ID|CARD|PHONE|PLATE|ADDRESS|NAME)\]")
_TOKEN_KIND = {"EMAIL": "email", "ID": "id", "CARD": "card", "PHONE": "phone", "PLATE": "plate",
               "ADDRESS": "address", "NAME": "name"}  # fmt: skip
_FOLD = str.maketrans("０１２３４５６７８９", "0123456789")


def adversarial_cases(path: Path = ADVERSARIAL) -> list[Case]:
    """The hand-written set, with each labelled value located in its text."""
    cases = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8")):
        text, spans = item["text"], []
        for label in item["pii"]:
            kind, value, nth = label[0], label[1], label[2] if len(label) > 2 else 1
            assert kind in KINDS, (kind, text)
            start = -1
            for _ in range(nth):
                start = text.find(value, start + 1)
            assert start >= 0, f"{value!r} is not in {text!r}"
            spans.append((kind, start, start + len(value)))
        cases.append(Case(text, tuple(spans)))
    return cases


def masked_characters(original: str, redacted: str) -> dict[int, str]:
    """Input positions masked in `redacted`, each with the kind of the token that masked it.

    A redactor may only replace stretches by tokens (and, the old one, turn full-width digits into ASCII):
    the literal text between tokens is found in the input in order, each literal at its first place
    after the previous token's stretch (the last one at the end), and what lies between is masked.
    """
    a, b = original.translate(_FOLD), redacted.translate(_FOLD)
    parts = _TOKEN.split(b)  # literal, kind, literal, kind, …, literal
    literals, kinds = parts[0::2], [_TOKEN_KIND[k] for k in parts[1::2]]
    if not a.startswith(literals[0]):
        raise ValueError(f"the redactor changed text outside its tokens: {original!r} -> {redacted!r}")
    masked: dict[int, str] = {}
    pos = len(literals[0])
    for n, (kind, literal) in enumerate(zip(kinds, literals[1:], strict=True)):
        if n == len(kinds) - 1:
            end = len(a) - len(literal)
            ok = a.endswith(literal) and end > pos
        else:
            end = a.find(literal, pos + 1) if literal else pos + 1
            ok = end > pos
        if not ok:
            raise ValueError(f"the redactor changed text outside its tokens: {original!r} -> {redacted!r}")
        masked.update(dict.fromkeys(range(pos, end), kind))
        pos = end + len(literal)
    return masked


@dataclass
class Scores:
    planted: Counter = field(default_factory=Counter)
    recalled: Counter = field(default_factory=Counter)
    masked: Counter = field(default_factory=Counter)  # masked characters, by token kind
    true_masked: Counter = field(default_factory=Counter)  # of those, inside a planted value (by its kind)
    false_masked: Counter = field(default_factory=Counter)  # outside every planted value (by token kind)
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, value, redacted text)
    false_alarms: list[tuple[str, str]] = field(default_factory=list)  # (masked text, redacted text)

    def recall(self, kind: str) -> float:
        return self.recalled[kind] / self.planted[kind] if self.planted[kind] else 1.0

    def precision(self, kind: str | None = None) -> float:
        if kind is None:
            total = sum(self.true_masked.values()) + sum(self.false_masked.values())
            return sum(self.true_masked.values()) / total if total else 1.0
        total = self.true_masked[kind] + self.false_masked[kind]
        return self.true_masked[kind] / total if total else 1.0


def score(cases: list[Case], redact: Callable[[pa.Array], pa.Array]) -> Scores:
    out = redact(pa.array([c.text for c in cases], pa.string())).to_pylist()
    scores = Scores()
    for case, redacted in zip(cases, out, strict=True):
        masked = masked_characters(case.text, redacted)
        owner: dict[int, str] = {}
        for kind, start, end in case.spans:
            scores.planted[kind] += 1
            owner.update(dict.fromkeys(range(start, end), kind))
            if all(i in masked for i in range(start, end)):
                scores.recalled[kind] += 1
            else:
                scores.misses.append((kind, case.text[start:end], redacted))
        wrong = []
        for i, token_kind in masked.items():
            scores.masked[token_kind] += 1
            if i in owner:
                scores.true_masked[owner[i]] += 1
            else:
                scores.false_masked[token_kind] += 1
                wrong.append(i)
        if wrong:
            scores.false_alarms.append(("".join(case.text[i] for i in sorted(wrong)), redacted))
    return scores


def report(title: str, scores: Scores, show: int = 8) -> str:
    lines = [f"{title}", f"  {'kind':8} {'planted':>7} {'recall':>7} {'precision':>9}"]
    for kind in KINDS:
        lines.append(
            f"  {kind:8} {scores.planted[kind]:7d} {scores.recall(kind):7.3f} {scores.precision(kind):9.3f}"
        )
    lines.append(f"  {'all':8} {sum(scores.planted.values()):7d} {'':7} {scores.precision():9.3f}")
    for kind, value, redacted in scores.misses[:show]:
        lines.append(f"  missed {kind}: {value!r} in {redacted!r}")
    for wrong, redacted in scores.false_alarms[:show]:
        lines.append(f"  masked but not planted: {wrong!r} in {redacted!r}")
    return "\n".join(lines)


def failures(scores: Scores) -> list[str]:
    """The targets this result misses, as sentences."""
    out = [
        f"{kind} recall {scores.recall(kind):.3f} < {target}"
        for kind, target in TARGETS.items()
        if scores.recall(kind) < target
    ]
    if scores.precision() < PRECISION_TARGET:
        out.append(f"precision {scores.precision():.3f} < {PRECISION_TARGET}")
    return out


def redactor_from_git(commit: str) -> Callable[[pa.Array], pa.Array]:
    """`redact_free_text` as it was at `commit` (to measure before and after)."""
    source = subprocess.run(
        ["git", "show", f"{commit}:include/community_dw/redact.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType(f"redact_{commit}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"redact@{commit}", "exec"), module.__dict__)
    return module.redact_free_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git", help="evaluate the redactor of this commit instead of the working tree")
    parser.add_argument("--no-jieba", action="store_true", help="names from cue phrases and titles only")
    parser.add_argument("--no-names", action="store_true", help="no name finder at all")
    parser.add_argument("--jieba-only", action="store_true", help="names from jieba's tags only")
    parser.add_argument("-n", type=int, default=2000, help="generated cases")
    parser.add_argument("--show", type=int, default=8, help="misses and false alarms to print per set")
    args = parser.parse_args(argv)
    if args.git:
        redact = redactor_from_git(args.git)
    else:
        from community_dw.redact import redact_free_text

        options = {
            "names": not args.no_names,
            "use_jieba": not args.no_jieba,
            "use_cues": not args.jieba_only,
        }

        def redact(values: pa.Array) -> pa.Array:
            return redact_free_text(values, **options)

    redact(pa.array(["我是李勇利，电话13812345678"]))  # load jieba's dictionary before timing
    failed = False
    for title, cases in (("generated", generated_cases(args.n)), ("adversarial", adversarial_cases())):
        started = time.perf_counter()
        scores = score(cases, redact)
        elapsed = time.perf_counter() - started
        print(report(f"{title}: {len(cases)} texts, scored in {elapsed:.2f} s", scores, args.show))
        missed = failures(scores)
        print("  targets: " + ("met" if not missed else "MISSED: " + "; ".join(missed)) + "\n")
        failed |= bool(missed)
    for line in rates(redact, generated_cases(args.n, seed=9), reset=None if args.git else _reset_caches):
        print(line)
    return 1 if failed else 0


def _reset_caches() -> None:
    from community_dw import redact

    redact._tagged.cache_clear()


def rates(
    redact: Callable[[pa.Array], pa.Array], cases: list[Case], reset: Callable[[], None] | None
) -> list[str]:
    """Descriptions per second on texts not seen before: as a batch, and one by one with no cache at all."""
    texts = [c.text for c in cases]
    if reset:
        reset()
    started = time.perf_counter()
    redact(pa.array(texts, pa.string()))
    batch = len(texts) / (time.perf_counter() - started)
    lines = [f"rate: {batch:,.0f} descriptions/s ({len(texts)} new generated texts, one batch, cold caches)"]
    if reset:
        sample = texts[:300]
        started = time.perf_counter()
        for text in sample:
            reset()
            redact(pa.array([text], pa.string()))
        single = len(sample) / (time.perf_counter() - started)
        lines.append(
            f"rate: {single:,.0f} descriptions/s (each text alone with the sentence cache emptied first)"
        )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
