"""The assertion classifier a model folder ships (``assertion.json``): present unless the evidence is strong.

Rules alone did not carry over to real text (docs/assertion-guidelines.md, tests/data/assertion_real/), so a
small log-linear model learns from labelled real mentions which cues matter where. Its inputs are the rules'
own findings (:class:`engine.assertion.MentionContext`: every trigger of ``assertion_rules.json`` in the
finding's sentence, its side, distance and whether the rules' scope reaches) and the words around the
finding; the language knowledge stays editable data in the rules file, and the classifier weighs it.

The policy is precision-first: a finding is "present" unless the most probable other class passes its own
threshold (chosen on dev by cross-validation, ``trainer/assertion_fit.py``); a class with no threshold in the
file is never shown, because on dev it could not be told reliably. A present finding struck through costs the
clinician more than an absent one left plain.

The file is plain JSON (no unpickling); the model folder's manifest covers it like the CRF.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.assertion import MentionContext
from engine.errors import ModelError
from engine.spans import ASSERTIONS, PRESENT

FORMAT = "bangla-meder assertion classifier 1"
WINDOW = 5  # words each side of the finding that count as its context


def _bucket(distance: int) -> str:
    return str(distance) if distance < 3 else "3-5" if distance < 6 else "6+"


def _suffixes(word: str) -> list[str]:
    return [word[-n:] for n in (2, 3) if len(word) > n]


def mention_features(ctx: MentionContext) -> list[str]:
    """The named features of one finding (order and duplicates don't matter)."""
    s, a, b = ctx.sentence, ctx.first, ctx.last
    out = ["bias", f"type={ctx.label}", f"script={'latin' if ctx.latin else 'bangla'}", f"rule={ctx.rule}",
           f"rule={ctx.rule}|{ctx.label}", f"sentence={min(ctx.sentence_number, 3)}",
           f"later_half={2 * ctx.sentence_number >= ctx.sentence_count}"]
    if s and s[-1] == "?":
        out.append("question")
    for cue in ctx.cues:
        key = f"cue={cue.assertion}|{cue.side}"
        out += [key, f"{key}|{_bucket(cue.distance)}", f"{key}|{'near' if cue.same_clause else 'far'}",
                f"cue_words={'_'.join(cue.words)}|{cue.side}", f"{key}|{ctx.label}"]
        if cue.reaches:
            out += [f"reach={cue.assertion}", f"reach={cue.assertion}|{ctx.label}"]
    for w in s[a:b]:
        out.append(f"in={w}")
    if b > a:
        out += [f"in_last={s[b - 1]}"] + [f"in_last_suffix={x}" for x in _suffixes(s[b - 1])]
    for k in range(1, WINDOW + 1):
        if a - k >= 0:
            out.append(f"left={s[a - k]}")
            if k <= 2:
                out += [f"left{k}={s[a - k]}"] + [f"left{k}_suffix={x}" for x in _suffixes(s[a - k])]
        if b + k - 1 < len(s):
            out.append(f"right={s[b + k - 1]}")
            if k <= 3:
                out += [f"right{k}={s[b + k - 1]}"] + [f"right{k}_suffix={x}" for x in _suffixes(s[b + k - 1])]
    out += [f"sentence_word={w}" for w in set(s[:a] + s[b:])]
    if a == 0:
        out.append("starts_sentence")
    if b >= len(s) - 1:
        out.append("ends_sentence")
    return out


def shown_class(p: np.ndarray, classes: Sequence[str], thresholds: dict[str, float]) -> str | None:
    """The precision-first policy: the most probable class that may be shown, if it passes its threshold.

    ``p``: (num_classes,) probabilities in the order of ``classes``; None means present.
    """
    shown = [(p[i], c) for i, c in enumerate(classes) if c in thresholds]
    if not shown:
        return None
    best_p, best = max(shown)
    return best if best_p >= thresholds[best] else None


@dataclass
class AssertionModel:
    """Weights over named features for each class, and the thresholds of the classes it may show."""

    classes: tuple[str, ...]
    features: dict[str, int]  # feature name -> row of ``weights``
    weights: np.ndarray  # (num_features, num_classes)
    bias: np.ndarray  # (num_classes,)
    thresholds: dict[str, float]  # class -> least probability shown; a class absent here is never shown
    about: dict

    def __post_init__(self) -> None:
        if self.weights.shape != (len(self.features), len(self.classes)) or self.bias.shape != (len(self.classes),):
            raise ModelError(f"assertion classifier: weights {self.weights.shape} / bias {self.bias.shape} do not "
                             f"fit {len(self.features)} features and {len(self.classes)} classes")
        if PRESENT not in self.classes or any(c not in ASSERTIONS for c in self.classes):
            raise ModelError(f"assertion classifier: classes must be among {ASSERTIONS} and include present; "
                             f"got {self.classes}")
        bad = {c: t for c, t in self.thresholds.items() if c not in self.classes or c == PRESENT or not 0 <= t <= 1}
        if bad:
            raise ModelError(f"assertion classifier: bad thresholds {bad}")

    def probabilities(self, contexts: Sequence[MentionContext]) -> np.ndarray:
        """(len(contexts), num_classes) class probabilities."""
        return self.feature_probabilities([mention_features(c) for c in contexts])

    def feature_probabilities(self, features: Sequence[Sequence[str]]) -> np.ndarray:
        """(len(features), num_classes) class probabilities of examples given as feature lists."""
        scores = np.tile(self.bias, (len(features), 1))
        for i, names in enumerate(features):
            rows = sorted({self.features[f] for f in names if f in self.features})
            if rows:
                scores[i] += self.weights[rows].sum(axis=0)
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        return p / p.sum(axis=1, keepdims=True)

    def decide_with_confidence(self, contexts: Sequence[MentionContext | None]) -> list[tuple[str, float]]:
        """Each finding's assertion and the classifier's probability of it; (present, 1.0) for None."""
        known = [c for c in contexts if c is not None]
        probs = iter(self.probabilities(known)) if known else iter(())
        present = self.classes.index(PRESENT)
        out = []
        for ctx in contexts:
            if ctx is None:
                out.append((PRESENT, 1.0))
                continue
            p = next(probs)
            shown = shown_class(p, self.classes, self.thresholds)
            out.append((PRESENT, float(p[present])) if shown is None else (shown, float(p[self.classes.index(shown)])))
        return out

    def decide(self, contexts: Sequence[MentionContext | None]) -> list[str]:
        return [a for a, _ in self.decide_with_confidence(contexts)]

    def to_json(self) -> dict:
        names = sorted(self.features, key=self.features.__getitem__)
        return {"format": FORMAT, "about": self.about, "classes": list(self.classes),
                "thresholds": self.thresholds, "bias": [round(float(x), 6) for x in self.bias],
                "weights": {n: [round(float(x), 6) for x in self.weights[self.features[n]]] for n in names}}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, data: object, *, source: str = "assertion classifier") -> AssertionModel:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelError(f"{source}: not an assertion classifier file (expected format {FORMAT!r})")
        try:
            classes = tuple(data["classes"])
            weights = data["weights"]
            names = list(weights)
            matrix = np.array([weights[n] for n in names], dtype=np.float32).reshape(len(names), len(classes))
            return cls(classes=classes, features={n: i for i, n in enumerate(names)}, weights=matrix,
                       bias=np.array(data["bias"], dtype=np.float32),
                       thresholds={str(k): float(v) for k, v in data["thresholds"].items()},
                       about=dict(data.get("about", {})))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"{source}: damaged assertion classifier ({exc})") from None

    @classmethod
    def load(cls, path: str | Path) -> AssertionModel:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path}: cannot read the assertion classifier ({exc})") from None
        return cls.from_json(data, source=str(path))
