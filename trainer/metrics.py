"""Strict exact-boundary scores with seqeval (IOB2), plus seqeval's default mode."""

from __future__ import annotations

from seqeval.metrics import classification_report, f1_score
from seqeval.scheme import IOB2


def score(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    """The evaluation JSON: strict micro/macro F1, lenient micro F1, per class, n_samples."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sequences but {len(predicted)} predicted")
    pairs = [(g, p) for g, p in zip(gold, predicted) if g]
    gold = [g for g, _ in pairs]
    predicted = [p for _, p in pairs]
    if not any(t != "O" for seq in gold for t in seq):
        raise ValueError("the evaluation data has no entities")
    strict = {"mode": "strict", "scheme": IOB2}
    report = classification_report(gold, predicted, output_dict=True, zero_division=0, **strict)
    per_class = {
        k: {"precision": round(float(v["precision"]), 4), "recall": round(float(v["recall"]), 4),
            "f1": round(float(v["f1-score"]), 4), "support": int(v["support"])}
        for k, v in report.items() if not k.endswith(" avg")
    }
    return {
        "strict_micro_f1": round(float(f1_score(gold, predicted, average="micro", zero_division=0, **strict)), 4),
        "strict_macro_f1": round(float(f1_score(gold, predicted, average="macro", zero_division=0, **strict)), 4),
        "lenient_micro_f1": round(float(f1_score(gold, predicted, average="micro", zero_division=0)), 4),
        "per_class": per_class,
        "n_samples": len(gold),
    }
