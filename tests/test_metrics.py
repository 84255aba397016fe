"""The evaluation JSON's scores on hand-made tag sequences."""

from __future__ import annotations

import pytest

from trainer.metrics import score

GOLD = [["B-Symptom", "I-Symptom", "O", "B-Medicine", "O", "B-Age"], ["B-Medicine", "O"]]
PRED = [["O", "B-Symptom", "O", "B-Medicine", "B-Dosage", "B-Symptom"], ["O", "O"]]


def test_strict_scores_count_only_exact_entities():
    result = score(GOLD, PRED)
    assert result["strict_micro_f1"] == 0.25  # 1 of 4 gold, 1 of 4 predicted
    assert result["per_class"]["Medicine"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert result["n_samples"] == 2


def test_error_breakdown_tells_boundary_from_type_and_missed():
    result = score(GOLD, PRED)
    assert result["errors"] == {
        "Age": {"exact": 0, "boundary": 0, "wrong_type": 1, "missed": 0, "spurious": 0},
        "Dosage": {"exact": 0, "boundary": 0, "wrong_type": 0, "missed": 0, "spurious": 1},
        "Medicine": {"exact": 1, "boundary": 0, "wrong_type": 0, "missed": 1, "spurious": 0},
        "Symptom": {"exact": 0, "boundary": 1, "wrong_type": 0, "missed": 0, "spurious": 0},
    }
    assert result["overlap_micro_f1"] == 0.5  # the boundary error counts as found


def test_perfect_prediction_and_bad_input():
    result = score(GOLD, GOLD)
    assert result["strict_micro_f1"] == result["overlap_micro_f1"] == 1.0
    assert all(v["exact"] and not (v["boundary"] or v["missed"]) for v in result["errors"].values())
    with pytest.raises(ValueError, match="2 gold sequences but 1 predicted"):
        score(GOLD, PRED[:1])
    with pytest.raises(ValueError, match="no entities"):
        score([["O"]], [["B-Age"]])


def test_strict_f1_interval_contains_the_score_and_narrows_with_more_documents():
    few = score(GOLD, PRED)
    low, high = few["strict_micro_f1_ci95"]
    assert 0.0 <= low <= few["strict_micro_f1"] <= high <= 1.0
    many = score(GOLD * 200, PRED * 200)
    assert many["strict_micro_f1"] == few["strict_micro_f1"]
    m_low, m_high = many["strict_micro_f1_ci95"]
    assert m_low <= many["strict_micro_f1"] <= m_high
    assert m_high - m_low < (high - low) / 3
    assert score(GOLD, GOLD)["strict_micro_f1_ci95"] == [1.0, 1.0]
