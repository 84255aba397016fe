"""The real-text assertion set: labelled mentions of Bangla-HealthNER documents, read with their texts.

``tests/data/assertion_real/`` holds where each mention is (file, document, token range), how it was drawn
(stratum, inclusion probability, dev or test) and its label; the texts stay in the data folder (their licence
is CC BY-NC-SA). :func:`load_assertion_set` joins them: each document comes with **all** its gold entities
(a trigger word inside another finding is part of that finding, so the context needs them) and the labelled
mentions among them. See ``tests/data/assertion_real/README.md``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.assertion import per_class_scores
from engine.spans import ASSERTIONS, PRESENT, Document, Entity

SET_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "assertion_real"
DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "bangla-healthner"
SPLITS = ("dev", "test")


@dataclass(frozen=True)
class LabelledMention:
    id: str
    entity: int  # index into the document's entities
    gold: str
    split: str
    stratum: str  # "cue/bangla", "no-cue/latin"...
    probability: float  # of being drawn: a weighted estimate uses 1 / probability


@dataclass
class AssertionDocument:
    key: str  # "a0373": file letter and document index
    document: Document
    mentions: list[LabelledMention]

    @property
    def latin(self) -> bool:
        return self.mentions[0].stratum.endswith("latin")


def _tokens_to_entities(text: str, labels: Sequence[str]) -> tuple[list[Entity], dict[int, int]]:
    """Gold entities from the file's IOB2 tags (one per whitespace-separated token) and token -> entity index."""
    offsets = [m.span() for m in re.finditer(r"\S+", text)]
    if len(offsets) != len(labels):
        raise ValueError(f"{len(offsets)} tokens but {len(labels)} tags")
    entities, by_start = [], {}
    i = 0
    while i < len(labels):
        if labels[i].startswith("B-"):
            kind, end = labels[i][2:], i + 1
            while end < len(labels) and labels[end] == f"I-{kind}":
                end += 1
            by_start[i] = len(entities)
            start, stop = offsets[i][0], offsets[end - 1][1]
            if stop > start:
                entities.append(Entity(start, stop, kind))
            i = end
        else:
            i += 1
    return entities, by_start


def load_assertion_set(*, data_dir: str | Path = DATA_DIR, set_dir: str | Path = SET_DIR,
                       split: str | None = None) -> list[AssertionDocument]:
    """The labelled documents (of ``split``, or both), in file order. FileNotFoundError without the data."""
    set_dir, data_dir = Path(set_dir), Path(data_dir)
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    labels = {}
    for line in (set_dir / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["assertion"] not in ASSERTIONS:
            raise ValueError(f"{set_dir / 'labels.jsonl'}: {row['id']}: unknown assertion {row['assertion']!r}")
        labels[row["id"]] = row["assertion"]
    texts: dict[str, list[dict]] = {}
    out: dict[tuple[str, int], AssertionDocument] = {}
    entity_at: dict[tuple[str, int], dict[int, int]] = {}  # document -> first token -> entity index
    for line in (set_dir / "mentions.jsonl").read_text(encoding="utf-8").splitlines():
        m = json.loads(line)
        if split is not None and m["split"] != split:
            continue
        if m["id"] not in labels:
            raise ValueError(f"{set_dir}: mention {m['id']} has no label in labels.jsonl")
        source, index = m["source"], m["document"]
        if source not in texts:
            path = data_dir / f"{source}.json"
            if not path.is_file():
                raise FileNotFoundError(f"{path}: the assertion set's texts are read from the data folder")
            texts[source] = json.loads(path.read_text(encoding="utf-8"))
        doc = out.get((source, index))
        if doc is None:
            record = texts[source][index]
            entities, entity_at[(source, index)] = _tokens_to_entities(record["text"], record["labels"])
            doc = out[(source, index)] = AssertionDocument(
                m["id"].split("-")[0], Document(record["text"], entities, name=f"{source}.json:{index}"), [])
        entity = entity_at[(source, index)][m["tokens"][0]]
        if doc.document.entities[entity].label != m["type"]:
            raise ValueError(f"{m['id']}: the data folder's document no longer matches the set (type differs)")
        doc.mentions.append(LabelledMention(m["id"], entity, labels[m["id"]], m["split"], m["stratum"],
                                            m["probability"]))
    return list(out.values())


@dataclass
class MentionScore:
    """Accuracy on labelled mentions, per class precision / recall, the all-present baseline and slices."""

    confusion: Counter = field(default_factory=Counter)  # (gold, predicted) -> count
    slices: dict[str, Counter] = field(default_factory=dict)  # "latin", "type:Symptom"... -> correct / total
    weighted: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # w*correct, w*present-correct, w

    @property
    def total(self) -> int:
        return sum(self.confusion.values())

    @property
    def accuracy(self) -> float:
        return sum(v for (g, p), v in self.confusion.items() if g == p) / self.total if self.total else 0.0

    @property
    def all_present(self) -> float:
        return sum(v for (g, _), v in self.confusion.items() if g == PRESENT) / self.total if self.total else 0.0

    def per_class(self) -> dict[str, dict[str, float]]:
        return per_class_scores(self.confusion)

    def as_dict(self) -> dict:
        w = self.weighted
        return {"mentions": self.total, "accuracy": round(self.accuracy, 4),
                "all_present_accuracy": round(self.all_present, 4),
                "weighted_accuracy": round(w[0] / w[2], 4) if w[2] else 0.0,
                "weighted_all_present": round(w[1] / w[2], 4) if w[2] else 0.0,
                "per_class": self.per_class(),
                "slices": {k: {"accuracy": round(c["correct"] / c["total"], 4), "mentions": c["total"],
                               "all_present": round(c["present"] / c["total"], 4)}
                           for k, c in sorted(self.slices.items())}}


Predictor = Callable[[str, Sequence[Entity]], list[str]]


def score_mentions(docs: Iterable[AssertionDocument], predict: Predictor) -> MentionScore:
    """Score ``predict(text, entities) -> assertions`` on the labelled mentions."""
    score = MentionScore()
    for doc in docs:
        predicted = predict(doc.document.text, doc.document.entities)
        for m in doc.mentions:
            p = predicted[m.entity]
            score.confusion[(m.gold, p)] += 1
            w = 1 / m.probability
            score.weighted[0] += w * (p == m.gold)
            score.weighted[1] += w * (m.gold == PRESENT)
            score.weighted[2] += w
            for key in ("latin" if doc.latin else "bangla", f"type:{doc.document.entities[m.entity].label}"):
                c = score.slices.setdefault(key, Counter())
                c["total"] += 1
                c["correct"] += p == m.gold
                c["present"] += m.gold == PRESENT
    return score
