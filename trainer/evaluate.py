"""Evaluate a model folder (ONNX or torch) on annotated documents."""

from __future__ import annotations

from pathlib import Path

from engine.formats import load_documents
from engine.spans import Document, entities_to_tags
from engine.tagger import Tagger
from trainer.metrics import score


def evaluate_tagger(tagger: Tagger, docs: list[Document]) -> dict:
    """Predict on each document's own words; strict and lenient seqeval scores."""
    docs = [d for d in docs if d.tokens()]
    words = [d.tokens() for d in docs]
    gold = [entities_to_tags(w, d.entities) for w, d in zip(words, docs)]
    return score(gold, tagger.predict_tags(words))


def load_any_tagger(folder: str | Path) -> Tagger:
    """The ONNX runtime for folders with model.onnx, else the torch model."""
    folder = Path(folder)
    if (folder / "model.onnx").is_file():
        from engine.runtime import load_tagger

        return load_tagger(folder)
    from trainer.model import load_model, torch_tagger

    model, config = load_model(folder)
    return torch_tagger(model, config, folder / "tokenizer.json")


def evaluate_files(model_dir: str | Path, files: list[str | Path], *, test_split_of: str | Path | None = None) -> dict:
    """Score on annotated files, and/or on the seeded test part of a HealthNER folder (as the build splits it)."""
    tagger = load_any_tagger(model_dir)
    docs: list[Document] = []
    for path in files:
        docs.extend(load_documents(path, labels=tagger.entity_types))
    if test_split_of is not None:
        from trainer.data import load_dataset, split_dataset

        docs.extend(split_dataset(load_dataset(test_split_of)).test)
    if not docs:
        raise ValueError("nothing to evaluate: give --data FILE or --test-split DIR")
    return evaluate_tagger(tagger, docs)
