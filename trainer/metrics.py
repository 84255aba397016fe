"""Entity scores in the project's own code: strict IOB2 (exact boundaries), and lenient as the app reads tags.

Strict F1 counts an entity found with one word too many as both a miss and a
false alarm. :func:`error_breakdown` says how often that is what happened, so
boundary disagreements can be told apart from entities the model did not see.

The figures equal seqeval's (``mode="strict", scheme=IOB2``, and its default mode for lenient) to the last
bit, which tests/test_strict_metrics.py checks; seqeval itself would pull scipy and scikit-learn into the bundle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.review_effort import KINDS as ERROR_KINDS
from engine.review_effort import ReviewEffort, review_effort
from engine.spans import Entity, parse_tag, tags_to_entities
from engine.text import Word


def strict_entities(tags: list[str]) -> list[Entity]:
    """Entities over word indices, strict IOB2: ``B-X`` then ``I-X``s; an ``I-`` that continues nothing is no entity."""
    entities: list[Entity] = []
    start, label = -1, None
    for i, tag in enumerate(tags):
        prefix, kind = parse_tag(tag)
        if prefix == "I" and kind == label:
            continue
        if label is not None:
            entities.append(Entity(start, i, label))
        start, label = (i, kind) if prefix == "B" else (-1, None)
    if label is not None:
        entities.append(Entity(start, len(tags), label))
    return entities


def word_entities(tags: list[str]) -> list[Entity]:
    """Entities over word indices as the app reads them (a stray ``I-X`` opens one); ``[start, end)`` counts words."""
    return tags_to_entities([Word("", i, i + 1) for i in range(len(tags))], tags)


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 (0 where undefined), and the number of gold entities."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Report:
    """Per entity type (every type found in gold or predicted), micro and macro averages; unrounded."""

    per_class: dict[str, Scores]
    micro: Scores
    macro: Scores


def _prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    # the same operations, in the same order, as seqeval's: equal to the last bit
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def classification_report(gold: list[list[str]], predicted: list[list[str]], *, strict: bool = True) -> Report:
    """Entity-level scores: strict IOB2 (``strict=True``) or lenient, where a stray ``I-X`` opens an entity."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sequences but {len(predicted)} predicted")
    read = strict_entities if strict else word_entities
    counts: dict[str, list[int]] = {}  # type -> [exact matches, predicted, gold]
    for n, (g_tags, p_tags) in enumerate(zip(gold, predicted)):
        if len(g_tags) != len(p_tags):
            raise ValueError(f"sequence {n}: {len(g_tags)} gold tags but {len(p_tags)} predicted")
        g, p = set(read(g_tags)), set(read(p_tags))
        for e in g & p:
            counts.setdefault(e.label, [0, 0, 0])[0] += 1
        for e in p:
            counts.setdefault(e.label, [0, 0, 0])[1] += 1
        for e in g:
            counts.setdefault(e.label, [0, 0, 0])[2] += 1
    per_class = {label: Scores(*_prf(*c), support=c[2]) for label, c in sorted(counts.items())}
    tp, n_pred, n_gold = (sum(c[k] for c in counts.values()) for k in range(3))
    rows = list(per_class.values())
    # numpy's mean, like seqeval's: its pairwise sum rounds differently from a plain sum from 8 types up
    macro = Scores(*(float(np.mean([getattr(r, f) for r in rows])) if rows else 0.0
                     for f in ("precision", "recall", "f1")), support=n_gold)
    return Report(per_class, Scores(*_prf(tp, n_pred, n_gold), support=n_gold), macro)


def score(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    """The evaluation JSON: strict micro/macro F1, lenient micro F1, per class (strict), n_samples."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sequences but {len(predicted)} predicted")
    pairs = [(g, p) for g, p in zip(gold, predicted) if g]
    gold = [g for g, _ in pairs]
    predicted = [p for _, p in pairs]
    if not any(t != "O" for seq in gold for t in seq):
        raise ValueError("the evaluation data has no entities")
    strict = classification_report(gold, predicted)
    per_class = {
        k: {"precision": round(v.precision, 4), "recall": round(v.recall, 4), "f1": round(v.f1, 4),
            "support": v.support}
        for k, v in strict.per_class.items()
    }
    return {
        "strict_micro_f1": round(strict.micro.f1, 4),
        "strict_macro_f1": round(strict.macro.f1, 4),
        "lenient_micro_f1": round(classification_report(gold, predicted, strict=False).micro.f1, 4),
        "per_class": per_class,
        "n_samples": len(gold),
        **error_breakdown(gold, predicted),
    }


def error_breakdown(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    """How each gold entity was predicted, per type; the overlap F1; an interval for strict F1.

    Per type: ``exact``; ``boundary`` (a predicted entity of the same type
    overlaps it, with other boundaries); ``wrong_type`` (only entities of other
    types overlap it); ``missed`` (nothing overlaps it); and ``spurious``
    predictions of that type that overlap no gold entity.
    ``overlap_micro_f1`` counts a gold entity as found, and a predicted one as
    right, when an entity of the same type overlaps it.
    ``corrections_per_100``: boundary + wrong type + missed + spurious per 100 gold entities.
    ``review_effort_per_100``: the app's actions (keys, clicks, drags) a reviewer needs to turn the
    predictions into the gold entities, per 100 gold entities, with ``review_actions_per_100`` per error kind
    and ``missed_share`` (missed / gold); how each kind is counted: :mod:`engine.review_effort`.
    ``strict_micro_f1_ci95``: a 95 % interval for strict micro-F1 from resampling
    the documents (a small test set's F1 moves by points from chance alone).
    """
    errors: dict[str, dict[str, int]] = {}

    def row(label: str) -> dict[str, int]:
        return errors.setdefault(label, dict.fromkeys(ERROR_KINDS, 0))

    found = n_gold = right = n_pred = 0
    effort = ReviewEffort()
    for g_tags, p_tags in zip(gold, predicted):
        g, p = word_entities(g_tags), word_entities(p_tags)
        effort.add(review_effort(g, p))
        exact = set(p)
        for e in g:
            same = [q for q in p if q.overlaps(e) and q.label == e.label]
            kind = ("exact" if e in exact else "boundary" if same
                    else "wrong_type" if any(q.overlaps(e) for q in p) else "missed")
            row(e.label)[kind] += 1
            found += bool(same)
        for q in p:
            right += any(e.overlaps(q) and e.label == q.label for e in g)
            if not any(e.overlaps(q) for e in g):
                row(q.label)["spurious"] += 1
        n_gold += len(g)
        n_pred += len(p)
    precision, recall = right / max(n_pred, 1), found / max(n_gold, 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"overlap_micro_f1": round(f1, 4), "strict_micro_f1_ci95": bootstrap_ci(document_counts(gold, predicted)),
            "corrections_per_100": corrections_per_100(errors), **effort.as_dict(),
            "errors": dict(sorted(errors.items()))}


def corrections_per_100(errors: dict[str, dict[str, int]]) -> float:
    """Edits a reviewer makes per 100 gold entities: every error kind but ``exact`` counts one.

    ``errors``: :func:`error_breakdown`'s per-type counts (a spurious prediction is one deletion).
    """
    gold = sum(row[k] for row in errors.values() for k in ("exact", "boundary", "wrong_type", "missed"))
    fixes = sum(row[k] for row in errors.values() for k in ERROR_KINDS if k != "exact")
    return round(100 * fixes / max(gold, 1), 1)


def document_counts(gold: list[list[str]], predicted: list[list[str]]) -> np.ndarray:
    """(documents, 3): exact matches, predicted entities, gold entities of each document (strict IOB2)."""
    rows = []
    for g_tags, p_tags in zip(gold, predicted, strict=True):
        g, p = set(strict_entities(g_tags)), strict_entities(p_tags)
        rows.append((len(g.intersection(p)), len(p), len(g)))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def paired_bootstrap(counts_a: np.ndarray, counts_b: np.ndarray, *, resamples: int = 2000,
                     seed: int = 0) -> dict:
    """Strict micro-F1 of A minus B on the same documents, with a 95 % interval from resampling documents.

    Both models are scored on each resample's same documents, so the interval is that of the difference
    (much narrower than comparing two separate intervals). ``counts_*``: :func:`document_counts`.
    """
    if counts_a.shape != counts_b.shape or counts_a.ndim != 2 or counts_a.shape[1] != 3:
        raise ValueError(f"counts must both have shape (documents, 3), got {counts_a.shape} and {counts_b.shape}")

    def f1(total: np.ndarray) -> np.ndarray:
        return 2 * total[..., 0] / np.maximum(total[..., 1] + total[..., 2], 1)

    rng = np.random.default_rng(seed)
    diffs = []
    for start in range(0, resamples, 100):
        drawn = rng.integers(0, len(counts_a), (min(100, resamples - start), len(counts_a)))
        diffs.append(f1(counts_a[drawn].sum(axis=1)) - f1(counts_b[drawn].sum(axis=1)))
    low, high = np.percentile(np.concatenate(diffs), [2.5, 97.5])
    diff = float(f1(counts_a.sum(axis=0)) - f1(counts_b.sum(axis=0)))
    return {"difference": round(diff, 4), "ci95": [round(float(low), 4), round(float(high), 4)]}


def bootstrap_ci(counts: np.ndarray, *, resamples: int = 2000, seed: int = 0) -> list[float]:
    """95 % percentile interval of micro-F1 over documents drawn with replacement.

    ``counts``: (documents, 3) integers — exact matches, predicted, gold.
    """
    if counts.ndim != 2 or counts.shape[1] != 3 or len(counts) == 0:
        raise ValueError(f"counts must have shape (documents, 3), got {counts.shape}")
    rng = np.random.default_rng(seed)
    scores = []
    for start in range(0, resamples, 100):  # 100 resamples at a time bounds the memory
        drawn = counts[rng.integers(0, len(counts), (min(100, resamples - start), len(counts)))].sum(axis=1)
        scores.append(2 * drawn[:, 0] / np.maximum(drawn[:, 1] + drawn[:, 2], 1))
    low, high = np.percentile(np.concatenate(scores), [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]
