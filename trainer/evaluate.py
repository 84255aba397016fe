"""Evaluate a model folder (ONNX or torch) on annotated documents."""

from __future__ import annotations

from pathlib import Path

from engine.assertion import score_assertions
from engine.formats import load_documents
from engine.model_layout import ONNX_FILE, TOKENIZER_FILE
from engine.spans import PRESENT, Document, entities_to_tags
from engine.tagger import Tagger
from trainer.metrics import classification_report, score


def evaluate_tagger(tagger: Tagger, docs: list[Document]) -> dict:
    """Predict on each document's own words: strict and lenient entity scores, review effort, and the expected
    calibration error (``ece``) of the entities' confidences."""
    from trainer.tuning import Candidate, correctness, decode_all, expected_calibration_error, spans_tags

    docs = [d for d in docs if d.tokens()]
    words = [d.tokens() for d in docs]
    gold = [entities_to_tags(w, d.entities) for w, d in zip(words, docs)]
    decoding = Candidate(tagger.decoding, tagger.threshold)
    spans = decode_all(tagger.decoder, tagger.word_emissions(words), (decoding,))[decoding]
    result = score(gold, [spans_tags(s, len(g)) for g, s in zip(gold, spans)])
    result["ece"] = expected_calibration_error(*correctness(gold, spans))
    return result


DEV_THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


def tune_decoder(tagger: Tagger, docs: list[Document], thresholds: tuple[float, ...] = DEV_THRESHOLDS) -> dict:
    """Strict micro-F1 on ``docs`` for Viterbi and the MBR decoder at each threshold (one forward pass).

    The choice by strict F1 that the shipped models were made with (scripts/distil_transfer.py); the build now
    chooses by review effort (trainer.tuning).

    Returns ``{"viterbi": f1, "mbr": {threshold: f1}, "decoder": ..., "threshold": ...}``: MBR is chosen
    only when its best threshold beats Viterbi (select on dev, never on test).
    """
    docs = [d for d in docs if d.tokens()]
    words = [d.tokens() for d in docs]
    gold = [entities_to_tags(w, d.entities) for w, d in zip(words, docs)]
    emissions = tagger.word_emissions(words)
    saved = tagger.decoding, tagger.threshold

    def strict(decoding: str, threshold: float) -> float:
        tagger.decoding, tagger.threshold = decoding, threshold
        predicted = [[tagger.decoder.tags[i] for i in tagger.path(e)] for e in emissions]
        return round(classification_report(gold, predicted).micro.f1, 4)

    try:
        result = {"viterbi": strict("viterbi", 0.5), "mbr": {t: strict("mbr", t) for t in thresholds}}
    finally:
        tagger.decoding, tagger.threshold = saved
    best = max(thresholds, key=lambda t: result["mbr"][t])
    better = result["mbr"][best] > result["viterbi"]
    result.update(decoder="mbr" if better else "viterbi", threshold=best if better else 0.5)
    return result


def load_any_tagger(folder: str | Path) -> Tagger:
    """The ONNX runtime for folders with model.onnx, else the torch model."""
    folder = Path(folder)
    if (folder / ONNX_FILE).is_file():
        from engine.runtime import load_tagger

        return load_tagger(folder)
    from trainer.model import load_model, torch_tagger

    model, config = load_model(folder)
    return torch_tagger(model, config, folder / TOKENIZER_FILE)


def evaluate_files(model_dir: str | Path, files: list[str | Path], *, test_split_of: str | Path | None = None,
                   assertion_set: str | None = None, assertion_texts: str | Path | None = None) -> dict:
    """Score on annotated files, and/or on the seeded test part of a HealthNER folder (as the build splits it),
    and/or assertion alone on a part of the real-text assertion set."""
    tagger = load_any_tagger(model_dir)
    if assertion_set is not None and not files and test_split_of is None:
        return {"assertion_real_text": score_assertion_set(tagger, assertion_set, data_dir=assertion_texts)}
    docs: list[Document] = []
    for path in files:
        # only what a person annotated is gold: model suggestions and untagged texts in a file are not
        docs.extend(d for d in load_documents(path, labels=tagger.entity_types, known_types=tagger.entity_types)
                    if d.status == "annotated")
    if test_split_of is not None:
        from trainer.data import load_dataset, split_dataset

        docs.extend(split_dataset(load_dataset(test_split_of)).test)
    if not docs:
        raise ValueError("nothing to evaluate: give --data FILE, --test-split DIR or --assertion-set PART")
    result = evaluate_tagger(tagger, docs)
    if any(e.assertion != PRESENT for d in docs for e in d.entities):  # the files carry assertions: score them
        result.update(score_assertions(docs, model=tagger.assertion_model).as_dict())
    if assertion_set is not None:
        result["assertion_real_text"] = score_assertion_set(tagger, assertion_set, data_dir=assertion_texts)
    return result


def score_assertion_set(tagger: Tagger, split: str, *, data_dir: str | Path | None = None) -> dict:
    """Assertion on the gold spans of the real-text set's ``split``: the folder's classifier (what the app
    shows), the rules alone, and calling every finding present (the baseline to beat)."""
    from engine.assertion import assertions
    from engine.assertion_set import DATA_DIR, load_assertion_set, score_mentions

    docs = load_assertion_set(data_dir=data_dir or DATA_DIR, split=split)
    out = {"split": split, "rules": score_mentions(docs, lambda text, entities: assertions(text, entities)).as_dict()}
    if tagger.assertion_model is not None:
        out["classifier"] = score_mentions(docs, tagger.assertions).as_dict()
        out["classes_shown"] = sorted(tagger.assertion_model.thresholds)
    return out
