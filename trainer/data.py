"""The training data: load, split deterministically, turn into model windows."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from engine.formats import load_documents
from engine.labels import LabelSet
from engine.spans import Document, entities_to_tags
from engine.tokenizer import SubwordTokenizer

DATA_FILES = ("healthner-a.json", "healthner-b.json")


@dataclass
class Split:
    train: list[Document]
    dev: list[Document]
    test: list[Document]


def load_dataset(data_dir: str | Path) -> list[Document]:
    """The annotated documents of the HealthNER ``.json`` files in ``data_dir``.

    Only what a person annotated (``status == "annotated"``) is training data: a model's suggestions and
    untagged texts in a file (a Label Studio export saved as .json, say) would teach the model its own errors.
    """
    data_dir = Path(data_dir)
    files = [data_dir / name for name in DATA_FILES if (data_dir / name).is_file()]
    if not files:
        files = sorted(data_dir.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"{data_dir}: no HealthNER .json files found")
    docs = []
    for path in files:
        for doc in load_documents(path):
            if doc.status != "annotated":
                continue
            doc.name = f"{path.name}:{doc.line}"
            docs.append(doc)
    return docs


def load_transfer_texts(data_dir: str | Path) -> list[Document]:
    """Unlabelled documents for distillation: every ``*.jsonl`` in ``data_dir``, one ``{"text": ...}`` a line."""
    import json

    data_dir = Path(data_dir)
    files = sorted(data_dir.glob("*.jsonl")) if data_dir.is_dir() else []
    if not files:
        raise FileNotFoundError(f"{data_dir}: no .jsonl files of unlabelled text found")
    docs = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                text = json.loads(line)["text"]
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"{path}:{number}: expected a JSON object with a \"text\" string") from None
            if isinstance(text, str) and text.strip():
                docs.append(Document(text, name=f"{path.name}:{number}", line=number))
    return docs


def split_dataset(docs: list[Document], *, seed: int = 20231, dev: float = 0.1, test: float = 0.1) -> Split:
    """Seeded split of both files together; identical texts stay in one part."""
    by_text: dict[str, list[Document]] = {}
    for doc in docs:
        by_text.setdefault(doc.text, []).append(doc)
    keys = sorted(by_text, key=lambda t: hashlib.sha1(t.encode()).hexdigest())
    random.Random(seed).shuffle(keys)
    n_test, n_dev = round(len(keys) * test), round(len(keys) * dev)
    parts = keys[:n_test], keys[n_test:n_test + n_dev], keys[n_test + n_dev:]
    test_d, dev_d, train_d = ([d for k in part for d in by_text[k]] for part in parts)
    return Split(train_d, dev_d, test_d)


def entity_types(docs: list[Document]) -> list[str]:
    """The entity types of ``docs``, most frequent first (ties by name)."""
    counts: dict[str, int] = {}
    for doc in docs:
        for ent in doc.entities:
            counts[ent.label] = counts.get(ent.label, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))


def tag_set(docs: list[Document]) -> list[str]:
    """IOB2 tags from the data in head order: 'O', then B-/I- per type in order of frequency."""
    return list(LabelSet.from_types(entity_types(docs)).tags)


@dataclass
class Example:
    """One training window: pieces, first-piece position of each word, gold tag ids."""

    input_ids: list[int]
    word_positions: list[int]
    tag_ids: list[int] | None


def make_examples(docs: list[Document], tokenizer: SubwordTokenizer, tags: list[str] | None,
                  *, labeled: bool = True) -> list[Example]:
    """Windows of every document; gold tag ids unless ``labeled`` is False (distillation-only text)."""
    index = {t: i for i, t in enumerate(tags)} if tags else None
    examples = []
    for doc in docs:
        words = doc.tokens()
        if not words:
            continue
        gold = [index[t] for t in entities_to_tags(words, doc.entities)] if index and labeled else None
        for w in tokenizer.windows([x.text for x in words]):
            examples.append(Example(w.input_ids, w.word_positions, gold[w.first:w.last] if gold else None))
    return examples
