"""Fit the assertion classifier (:mod:`engine.assertion_model`) on the real-text set's dev part.

Settings (L2 strength, rare-feature cut) are chosen by 5-fold cross-validation on dev, folds by document;
the thresholds of the precision-first policy are chosen on the out-of-fold probabilities: for each class the
threshold that maximises ``right marks - COST_WRONG * wrong marks`` with out-of-fold precision at least the
class's floor; a class that reaches no such threshold with at least MIN_MARKS marks is not shown. The test part
is not read here.

Plain numpy (softmax regression, full-batch Adam): no torch, so it runs anywhere the trainer does.

Run: ``python -m trainer.assertion_fit [--out FOLDER/assertion.json] [--data DIR]``
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.assertion import mention_contexts, per_class_scores
from engine.assertion_model import AssertionModel, mention_features, shown_class
from engine.assertion_set import DATA_DIR, AssertionDocument, load_assertion_set
from engine.spans import ASSERTIONS, PRESENT

FOLDS = 5
COST_WRONG = 2.0  # a wrong mark (a present finding struck through, say) costs twice a right one's gain
PRECISION_FLOOR = {"absent": 0.85}  # the bar for a strike-through; others below
DEFAULT_FLOOR = 0.6
MIN_MARKS = 5  # out-of-fold marks a class needs on dev before it may be shown
GRID = {"l2": (3.0, 10.0, 30.0), "min_count": (2, 3)}


def examples(docs: Sequence[AssertionDocument]) -> tuple[list[list[str]], list[str], list[str]]:
    """Feature lists, gold labels and document keys of the labelled mentions."""
    feats, gold, groups = [], [], []
    for doc in docs:
        contexts = mention_contexts(doc.document.text, doc.document.entities)
        for m in doc.mentions:
            ctx = contexts[m.entity]
            if ctx is None:
                raise ValueError(f"{m.id}: a {doc.document.entities[m.entity].label} carries no assertion")
            feats.append(mention_features(ctx))
            gold.append(m.gold)
            groups.append(doc.key)
    return feats, gold, groups


def fit(feats: Sequence[Sequence[str]], gold: Sequence[str], *, l2: float, min_count: int,
        steps: int = 400) -> AssertionModel:
    """Softmax regression over binary features seen in at least ``min_count`` examples; no thresholds yet."""
    classes = tuple(c for c in ASSERTIONS if c in set(gold) or c == PRESENT)
    counts = Counter(f for fs in feats for f in set(fs))
    names = sorted(f for f, n in counts.items() if n >= min_count)
    index = {f: i for i, f in enumerate(names)}
    # sparse rows (each example's feature indices): a few dozen of thousands, so no dense matrix
    rows = [sorted({index[f] for f in fs if f in index}) for fs in feats]
    cols = np.array([j for r in rows for j in r], dtype=np.int64)
    owner = np.array([i for i, r in enumerate(rows) for _ in r], dtype=np.int64)
    if any(not r for r in rows):
        raise ValueError("every example needs at least one known feature (the bias)")
    row_starts = np.cumsum([0] + [len(r) for r in rows[:-1]])
    by_col = np.argsort(cols, kind="stable")
    used, col_starts = np.unique(cols[by_col], return_index=True)
    y = np.zeros((len(gold), len(classes)), dtype=np.float32)
    y[np.arange(len(gold)), [classes.index(g) for g in gold]] = 1.0
    w = np.zeros((len(names), len(classes)), dtype=np.float32)
    b = np.log(y.mean(axis=0) + 1e-3).astype(np.float32)
    params, moments = [w, b], [[np.zeros_like(w), np.zeros_like(w)], [np.zeros_like(b), np.zeros_like(b)]]
    n = len(gold)
    for step in range(1, steps + 1):
        scores = np.add.reduceat(w[cols], row_starts, axis=0) + b
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=1, keepdims=True)
        delta = (p - y) / n
        grad_w = (l2 / n) * w
        grad_w[used] += np.add.reduceat(delta[owner[by_col]], col_starts, axis=0)
        grads = [grad_w, delta.sum(axis=0)]
        for param, grad, (m1, m2) in zip(params, grads, moments):
            m1 *= 0.9
            m1 += 0.1 * grad
            m2 *= 0.999
            m2 += 0.001 * grad * grad
            param -= 0.05 * (m1 / (1 - 0.9 ** step)) / (np.sqrt(m2 / (1 - 0.999 ** step)) + 1e-8)
    return AssertionModel(classes=classes, features=index, weights=w, bias=b, thresholds={}, about={})


def folds_of(groups: Sequence[str]) -> np.ndarray:
    """Fold number of each example: by a hash of its document, so a document's mentions stay together."""
    return np.array([int(hashlib.sha256(g.encode()).hexdigest(), 16) % FOLDS for g in groups])


def out_of_fold(feats: list[list[str]], gold: list[str], groups: list[str], *, l2: float,
                min_count: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """(n, num_classes) probabilities of each example from the model fitted without its fold."""
    fold = folds_of(groups)
    classes = tuple(c for c in ASSERTIONS if c in set(gold) or c == PRESENT)
    probs = np.zeros((len(gold), len(classes)), dtype=np.float32)
    for k in range(FOLDS):
        train = [i for i in range(len(gold)) if fold[i] != k]
        held = [i for i in range(len(gold)) if fold[i] == k]
        model = fit([feats[i] for i in train], [gold[i] for i in train], l2=l2, min_count=min_count)
        p = model.feature_probabilities([feats[i] for i in held])
        for j, c in enumerate(model.classes):
            probs[held, classes.index(c)] = p[:, j]
    return probs, classes


def decide(probs: np.ndarray, classes: Sequence[str], thresholds: dict[str, float]) -> list[str]:
    """The precision-first policy (engine.assertion_model.shown_class) on each row of ``probs``."""
    return [shown_class(p, classes, thresholds) or PRESENT for p in probs]


def choose_thresholds(probs: np.ndarray, gold: Sequence[str], classes: Sequence[str]) -> dict[str, float]:
    """Per class, greedily in turn, the threshold with the best gain under its precision floor (see module)."""
    thresholds: dict[str, float] = {}
    grid = [round(t, 2) for t in np.arange(0.3, 0.96, 0.05)]
    for c in [c for c in classes if c != PRESENT]:
        best, best_gain = None, 0.0
        for t in grid:
            trial = decide(probs, classes, thresholds | {c: t})
            marks = [(g, p) for g, p in zip(gold, trial) if p == c]
            right = sum(g == c for g, _ in marks)
            if len(marks) < MIN_MARKS or right / len(marks) < PRECISION_FLOOR.get(c, DEFAULT_FLOOR):
                continue
            gain = right - COST_WRONG * (len(marks) - right)
            if gain > best_gain:
                best, best_gain = t, gain
        if best is not None:
            thresholds[c] = best
    return thresholds


def summary(predicted: Sequence[str], gold: Sequence[str]) -> dict:
    return {"accuracy": round(sum(g == p for g, p in zip(gold, predicted)) / len(gold), 4),
            "all_present": round(sum(g == PRESENT for g in gold) / len(gold), 4),
            "per_class": per_class_scores(Counter(zip(gold, predicted)))}


def build(docs: Sequence[AssertionDocument], *, log=print) -> AssertionModel:
    """Choose settings and thresholds by cross-validation on ``docs`` (dev), then fit on all of them."""
    feats, gold, groups = examples(docs)
    results = []
    for l2 in GRID["l2"]:
        for min_count in GRID["min_count"]:
            probs, classes = out_of_fold(feats, gold, groups, l2=l2, min_count=min_count)
            thresholds = choose_thresholds(probs, gold, classes)
            s = summary(decide(probs, classes, thresholds), gold)
            log(f"  l2={l2:<4} min_count={min_count}: out-of-fold accuracy {s['accuracy']:.4f} "
                f"(all present {s['all_present']:.4f}), shown {thresholds}")
            results.append((s["accuracy"], l2, min_count, thresholds, s))
    accuracy, l2, min_count, thresholds, s = max(results, key=lambda r: r[0])
    model = fit(feats, gold, l2=l2, min_count=min_count)
    model.thresholds = thresholds
    model.about = {
        "trained_on": "tests/data/assertion_real dev part (real patients' questions and doctors' answers, "
                      f"{len(gold)} labelled mentions)",
        "settings": {"l2": l2, "min_count": min_count, "cost_wrong": COST_WRONG,
                     "precision_floor": PRECISION_FLOOR | {"other": DEFAULT_FLOOR}, "min_marks": MIN_MARKS},
        "cross_validation": {"folds": FOLDS, **s},
        "made_by": "python -m trainer.assertion_fit",
    }
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.assertion_fit", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="where to write assertion.json (default: print figures only)")
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="Bangla-HealthNER folder (the texts)")
    args = parser.parse_args(argv)
    docs = load_assertion_set(data_dir=args.data, split="dev")
    model = build(docs)
    cv = model.about["cross_validation"]
    print(f"chosen {model.about['settings']}: out-of-fold accuracy {cv['accuracy']} vs all present "
          f"{cv['all_present']}; classes shown: {model.thresholds}")
    for c, v in cv["per_class"].items():
        print(f"  {c:<13} precision {v['precision']} recall {v['recall']} ({v['predicted']} marked, "
              f"{v['support']} gold)")
    if args.out:
        model.save(args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
