"""The project's entity scores equal seqeval's exactly (seqeval is a test-only dependency), strict and lenient."""

from __future__ import annotations

import random

import pytest

seqeval_metrics = pytest.importorskip("seqeval.metrics")
from seqeval.scheme import IOB2  # noqa: E402

from trainer.metrics import classification_report, document_counts, paired_bootstrap, score  # noqa: E402

TYPES = ["Age", "Dosage", "Health Condition", "Medicine", "Symptom", "Test", "Specialist", "Body Part", "Route"]


def _seqeval(gold: list[list[str]], predicted: list[list[str]], *, strict: bool) -> dict:
    mode = {"mode": "strict", "scheme": IOB2} if strict else {}
    report = seqeval_metrics.classification_report(gold, predicted, output_dict=True, zero_division=0, **mode)
    # the report's micro row is the micro f1_score; checked directly once, as score() uses it
    assert report["micro avg"]["f1-score"] == seqeval_metrics.f1_score(
        gold, predicted, average="micro", zero_division=0, **mode)
    return report


def _assert_equal(gold: list[list[str]], predicted: list[list[str]], *, strict: bool) -> None:
    expected = _seqeval(gold, predicted, strict=strict)
    ours = classification_report(gold, predicted, strict=strict)
    rows = {**ours.per_class, "micro avg": ours.micro, "macro avg": ours.macro}
    got = {k: {"precision": v.precision, "recall": v.recall, "f1-score": v.f1, "support": v.support}
           for k, v in rows.items()}
    expected = {k: {m: (int(x) if m == "support" else float(x)) for m, x in v.items()}
                for k, v in expected.items() if k != "weighted avg"}
    assert got == expected  # floats compared bit for bit, not approximately


def _random_tags(rng: random.Random, length: int, types: list[str], *, valid: bool) -> list[str]:
    tags: list[str] = []
    for _ in range(length):
        r = rng.random()
        if r < 0.45:
            tags.append("O")
        elif valid and (not tags or tags[-1] == "O" or r < 0.65):
            tags.append("B-" + rng.choice(types))
        elif valid:
            tags.append("I-" + tags[-1][2:])
        else:  # anything: stray I-, I- of another type after B-
            tags.append(rng.choice("BI") + "-" + rng.choice(types))
    return tags


def _perturb(rng: random.Random, tags: list[str], types: list[str]) -> list[str]:
    """A prediction near the gold: some tags changed, so exact, boundary and type errors all occur."""
    out = list(tags)
    for i in range(len(out)):
        if rng.random() < 0.2:
            out[i] = rng.choice(["O", "B-" + rng.choice(types), "I-" + rng.choice(types)])
    return out


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.parametrize("strict", [True, False])
def test_random_sequences_score_as_seqeval(seed: int, strict: bool) -> None:
    rng = random.Random(seed)
    types = TYPES[: rng.randint(1, len(TYPES))]  # 8+ types exercise numpy's pairwise mean
    valid = seed % 3 != 0
    gold = [_random_tags(rng, rng.randint(0, 25), types, valid=valid) for _ in range(rng.randint(1, 30))]
    gold.append(["B-" + types[0], "I-" + types[0]])  # at least one gold entity
    if seed % 2:
        predicted = [_perturb(rng, g, types) for g in gold]
    else:
        predicted = [_random_tags(rng, len(g), types, valid=not valid) for g in gold]
    _assert_equal(gold, predicted, strict=strict)


REAL = [
    # (gold, predicted): a boundary error, a stray I- after O, I- of another type after B-, an entity at the end
    ([["B-Symptom", "I-Symptom", "O", "B-Medicine", "O", "B-Age"], ["B-Medicine", "O"]],
     [["O", "B-Symptom", "O", "B-Medicine", "B-Dosage", "B-Symptom"], ["O", "O"]]),
    ([["O", "B-Health Condition", "I-Health Condition", "O"], ["B-Dosage", "I-Dosage", "I-Dosage"]],
     [["O", "I-Health Condition", "I-Health Condition", "O"], ["B-Dosage", "I-Medicine", "I-Dosage"]]),
    ([["B-Test", "B-Test", "I-Test", "O", "I-Age"]], [["B-Test", "I-Test", "I-Test", "O", "B-Age"]]),
]


@pytest.mark.parametrize(("gold", "predicted"), REAL)
@pytest.mark.parametrize("strict", [True, False])
def test_hand_made_sequences_score_as_seqeval(gold: list[list[str]], predicted: list[list[str]],
                                              strict: bool) -> None:
    _assert_equal(gold, predicted, strict=strict)


def test_stray_inside_tags_are_no_entity_when_strict_and_one_when_lenient() -> None:
    gold, predicted = [["O", "B-Age", "I-Age"]], [["O", "I-Age", "I-Age"]]
    assert classification_report(gold, predicted).micro.f1 == 0.0
    assert classification_report(gold, predicted, strict=False).micro.f1 == 1.0
    result = score(gold, predicted)
    assert (result["strict_micro_f1"], result["lenient_micro_f1"]) == (0.0, 1.0)
    assert result["strict_micro_f1_ci95"] == [0.0, 0.0]  # the interval is of the strict figure too


def test_score_and_paired_difference_equal_seqeval_rounded() -> None:
    gold, predicted = REAL[1]
    result = score(gold, predicted)
    strict = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    assert result["strict_micro_f1"] == round(seqeval_metrics.f1_score(gold, predicted, **strict), 4)
    assert result["strict_macro_f1"] == round(seqeval_metrics.f1_score(gold, predicted, average="macro", **strict), 4)
    assert result["lenient_micro_f1"] == round(seqeval_metrics.f1_score(gold, predicted, zero_division=0), 4)
    assert result["per_class"]["Dosage"]["support"] == 1
    diff = paired_bootstrap(document_counts(gold, gold), document_counts(gold, predicted))["difference"]
    assert diff == round(1.0 - seqeval_metrics.f1_score(gold, predicted, **strict), 4)


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="sequence 0: 2 gold tags but 1 predicted"):
        classification_report([["O", "B-Age"]], [["O"]])
