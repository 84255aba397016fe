"""The promotion rule, branch by branch, and the verdict it gives in the users' words."""

from __future__ import annotations

import pytest

from engine.trainer_contract import (
    MIN_HELD_OUT_DOCUMENTS,
    MIN_HELD_OUT_ENTITIES,
    Comparison,
    Counts,
    Evidence,
    RetrainReport,
    Score,
    decide,
    holdout_size,
    more_reviewed_needed,
)

ENOUGH = Evidence(reviewed=230, documents=23, entities=120)
NEW = Score(23, 120, exact=88, predicted=109, f1=0.727, f1_ci95=(0.65, 0.80))
CURRENT = Score(23, 120, exact=83, predicted=108, f1=0.701, f1_ci95=(0.62, 0.78))
NO_ENTITIES = "the evaluation data has no entities"


def report(new: Score, active: Score, evidence: Evidence) -> RetrainReport:
    return RetrainReport("20261201-101500", "bundled", "quick", Counts(evidence.reviewed, evidence.documents),
                         Comparison(new, active), decide(new=new, active=active, held_out=evidence))


def test_a_better_model_is_promoted_and_the_verdict_counts_first():
    decision = decide(new=NEW, active=CURRENT, held_out=ENOUGH)
    assert decision.promoted and decision.judged and decision.within_chance
    text = report(NEW, CURRENT, ENOUGH).verdict()
    assert text.startswith("On 23 of your reviewed documents with 120 entities, the new model found 88 exactly and "
                           "made 21 wrong suggestions; the current one found 83 and made 25. It is now active; you "
                           "can go back in Model › Versions.")
    counts, scores = text.split("\n\n")
    assert "F1" not in counts  # counts first, F1 second
    assert scores == ("Strict F1 on these documents: new model 0.727 (95 % interval 0.650–0.800), current model "
                      "0.701. The difference is within chance: on so few documents it says little.")


def test_an_equal_model_is_promoted_and_a_clear_difference_is_not_called_chance():
    equal = decide(new=CURRENT, active=CURRENT, held_out=ENOUGH)
    assert equal.promoted and equal.within_chance is None  # "not worse"; no difference to call chance
    assert "chance" not in report(CURRENT, CURRENT, ENOUGH).verdict()
    sure = Score(23, 120, exact=110, predicted=115, f1=0.93, f1_ci95=(0.88, 0.97))
    decision = decide(new=sure, active=CURRENT, held_out=ENOUGH)
    assert decision.promoted and decision.within_chance is False
    assert "within chance" not in report(sure, CURRENT, ENOUGH).verdict()


def test_a_worse_model_is_kept_as_a_version_and_the_current_one_stays():
    decision = decide(new=CURRENT, active=NEW, held_out=ENOUGH)
    assert not decision.promoted and decision.judged
    assert "below the current one's 0.727" in decision.reasons[0]
    text = report(CURRENT, NEW, ENOUGH).verdict()
    assert "The current model stays active because it did better" in text
    assert "version 20261201-101500; you can still activate it in Model › Versions" in text


@pytest.mark.parametrize("evidence, more", [
    (Evidence(reviewed=30, documents=7, entities=14), 10),  # 40 reviewed set 10 documents with 20 entities aside
    (Evidence(reviewed=50, documents=12, entities=19), 2),  # enough documents, one entity short: 52 set 13 aside
    (Evidence(reviewed=10, documents=2, entities=2), 70),  # one entity a document: 20 documents, so 80 reviewed
])
def test_too_little_evidence_is_never_a_promotion(evidence, more):
    decision = decide(new=NEW, active=CURRENT, held_out=evidence)  # even with the better score
    assert not decision.promoted and not decision.judged
    assert decision.more_reviewed == more
    text = report(NEW, CURRENT, evidence).verdict()
    assert "The app did not switch models: " in text
    assert f"About {more} more reviewed documents would let the next retraining judge." in text
    assert "activate by hand in Model › Versions" in text and "now active" not in text


def test_the_number_of_more_documents_is_the_smallest_that_meets_the_bar():
    for reviewed in range(10, 120, 7):
        for per_document in (0.5, 1.0, 2.0, 5.0):
            held = holdout_size(reviewed)
            evidence = Evidence(reviewed, held, round(held * per_document))
            more = more_reviewed_needed(evidence)
            rate = evidence.entities / held

            def meets(n: int, rate: float = rate) -> bool:
                return holdout_size(n) >= MIN_HELD_OUT_DOCUMENTS and holdout_size(n) * rate >= MIN_HELD_OUT_ENTITIES

            assert meets(reviewed + more) and (more == 0 or not meets(reviewed + more - 1))


def test_no_entities_to_check_on_is_not_a_tie_at_zero():
    """Reproduction of the issue: 30 reviewed notes without entities used to promote on "0.000 vs 0.000"."""
    evidence = Evidence(reviewed=30, documents=7, entities=0)
    failed = Score(7, 0, error=NO_ENTITIES)
    decision = decide(new=failed, active=failed, held_out=evidence)
    assert not decision.promoted and not decision.judged and decision.more_reviewed is None
    assert decision.reasons == ("7 documents with 0 entities were set aside for the check; it needs at least 10 "
                                "documents with 20 entities",)
    text = report(failed, failed, evidence).verdict()
    assert "0.000" not in text and "Review more documents that contain entities" in text


@pytest.mark.parametrize("which", ["new", "current"])
def test_a_model_that_could_not_be_scored_is_never_promoted(which):
    broken = Score(23, 120, error="model version 2026 is damaged: model.onnx does not match its manifest")
    new, active = (broken, CURRENT) if which == "new" else (NEW, broken)
    decision = decide(new=new, active=active, held_out=ENOUGH)
    assert not decision.promoted and not decision.judged and decision.more_reviewed is None
    assert decision.reasons == (f"the {which} model could not be checked ({broken.error})",)
    assert "could not be checked" in report(new, active, ENOUGH).verdict()
    assert broken.f1 is None and not broken.ok  # no 0.0 stands in for a failed score
