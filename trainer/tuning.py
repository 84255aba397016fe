"""Choose how a model folder reads entities off its CRF, by the reviewer's effort, and calibrate its confidences.

The network runs once per document (:func:`word_emissions`, cached on disk); every candidate — Viterbi, MBR at
each threshold, each confidence temperature — is then only decoding. Chosen on dev, reported on dev and test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.crf import CRFDecoder, choose_spans, span_posteriors
from engine.spans import Document, entities_to_tags
from engine.tagger import Tagger
from trainer.metrics import score, word_entities

THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)  # MBR candidates
MAX_MISSED_SHARE = 0.15  # a candidate that misses more gold entities than this is not chosen (issue 21)
BINS = 10  # reliability diagram and ECE: equal-width confidence bins

Spans = list[tuple[int, int, str, float]]  # (first word, last word, type, confidence)


@dataclass(frozen=True)
class Candidate:
    decoder: str  # "viterbi" | "mbr"
    threshold: float = 0.5  # MBR only

    @property
    def name(self) -> str:
        return f"MBR {self.threshold:g}" if self.decoder == "mbr" else "Viterbi"


CANDIDATES = (Candidate("viterbi"), *(Candidate("mbr", t) for t in THRESHOLDS))


def word_emissions(tagger: Tagger, docs: Sequence[Document], *, cache: Path | None = None,
                   model_key: str = "") -> list[np.ndarray]:
    """Each document's (num_words, num_tags) emissions (the same whatever else is tagged).

    With ``cache`` (a folder), kept as ``.npz`` under a key of ``model_key`` (the sha256 of the model's
    weights and tokenizer) and the documents' words.
    """
    words = [d.tokens() for d in docs]
    path = None
    if cache is not None:
        key = hashlib.sha256(repr((model_key, [[w.text for w in ws] for ws in words])).encode()).hexdigest()[:16]
        path = Path(cache) / f"emissions-{key}.npz"
        if path.is_file():
            with np.load(path) as saved:
                return [saved[f"arr_{i}"] for i in range(len(words))]
    emissions = tagger.word_emissions(words)  # every window on its own (engine.tagger): batch-independent
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, *emissions)
    return emissions


def decode_all(decoder: CRFDecoder, emissions: Sequence[np.ndarray],
               candidates: Sequence[Candidate] = CANDIDATES) -> dict[Candidate, list[Spans]]:
    """Every candidate's entities with confidences, per document (one forward-backward per document for MBR)."""
    lowest = min((c.threshold for c in candidates if c.decoder == "mbr"), default=None)
    out: dict[Candidate, list[Spans]] = {c: [] for c in candidates}
    labels = decoder.labels
    for e in emissions:
        if any(c.decoder == "viterbi" for c in candidates):
            path, spans = decoder.decode(e) if len(e) else ([], [])
            viterbi = [(f, la, labels.entity_type(path[f]), p) for f, la, p in spans]
        posteriors = span_posteriors(decoder, e, threshold=lowest) if lowest is not None else []
        for c in candidates:
            out[c].append(viterbi if c.decoder == "viterbi" else choose_spans(posteriors, threshold=c.threshold))
    return out


def gold_tags(docs: Sequence[Document]) -> list[list[str]]:
    return [entities_to_tags(d.tokens(), d.entities) for d in docs]


def spans_tags(spans: Spans, length: int) -> list[str]:
    tags = ["O"] * length
    for first, last, kind, _ in spans:
        tags[first] = f"B-{kind}"
        tags[first + 1:last + 1] = [f"I-{kind}"] * (last - first)
    return tags


def correctness(gold: Sequence[list[str]], predicted: Sequence[Spans]) -> tuple[np.ndarray, np.ndarray]:
    """Confidence of every predicted entity and whether it is exactly a gold entity (type and words)."""
    conf, right = [], []
    for g_tags, spans in zip(gold, predicted):
        g = {(e.start, e.end, e.label) for e in word_entities(g_tags)}
        for first, last, kind, p in spans:
            conf.append(p)
            right.append((first, last + 1, kind) in g)
    return np.array(conf, dtype=np.float64), np.array(right, dtype=bool)


def reliability(conf: np.ndarray, right: np.ndarray, bins: int = BINS) -> list[dict]:
    """Per equal-width confidence bin: entities, mean confidence, share exactly right."""
    which = np.minimum((conf * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        rows.append({"low": b / bins, "high": (b + 1) / bins, "entities": n,
                     "confidence": round(float(conf[inside].mean()), 4) if n else None,
                     "accuracy": round(float(right[inside].mean()), 4) if n else None})
    return rows


def expected_calibration_error(conf: np.ndarray, right: np.ndarray, bins: int = BINS) -> float:
    """Sum over bins of (share of entities) x |accuracy - mean confidence|; 0 for perfectly calibrated."""
    if len(conf) == 0:
        return 0.0
    return round(sum(r["entities"] / len(conf) * abs(r["accuracy"] - r["confidence"])
                     for r in reliability(conf, right, bins) if r["entities"]), 4)


def log_loss(conf: np.ndarray, right: np.ndarray) -> float:
    p = np.clip(conf, 1e-6, 1 - 1e-6)
    return float(-np.mean(np.where(right, np.log(p), np.log1p(-p)))) if len(p) else 0.0


def measure(gold: Sequence[list[str]], predicted: Sequence[Spans]) -> dict:
    """Strict F1, corrections and review effort per 100 gold entities, missed share, ECE of the confidences."""
    result = score(list(gold), [spans_tags(s, len(g)) for g, s in zip(gold, predicted)])
    conf, right = correctness(gold, predicted)
    keep = ("strict_micro_f1", "strict_micro_f1_ci95", "overlap_micro_f1", "corrections_per_100",
            "review_effort_per_100", "review_actions_per_100", "missed_share")
    return {**{k: result[k] for k in keep}, "entities": len(conf), "ece": expected_calibration_error(conf, right)}


def fit_temperature(decoder: CRFDecoder, emissions: Sequence[np.ndarray], gold: Sequence[list[str]], *,
                    candidate: Candidate, low: float = 0.5, high: float = 3.0) -> tuple[float, list[dict]]:
    """The temperature whose ``candidate`` entities have the lowest log-loss against being right (on dev).

    A grid of steps of 0.25 from ``low`` to ``high``, then of 0.05 around the best. Returns the temperature and,
    per temperature tried, the log-loss and ECE (the fit's trace).
    """
    trace: dict[float, dict] = {}

    def loss(t: float) -> float:
        t = round(t, 2)
        if t not in trace:
            spans = decode_all(decoder.with_temperature(t), emissions, (candidate,))[candidate]
            conf, right = correctness(gold, spans)
            trace[t] = {"temperature": float(t), "log_loss": round(log_loss(conf, right), 5),
                        "ece": expected_calibration_error(conf, right)}
        return trace[t]["log_loss"]

    coarse = min(np.arange(low, high + 1e-9, 0.25), key=loss)
    best = min(np.arange(max(low, coarse - 0.2), min(high, coarse + 0.2) + 1e-9, 0.05), key=loss)
    return round(float(best), 2), [trace[t] for t in sorted(trace)]


def choose(rows: dict[str, dict], *, max_missed: float = MAX_MISSED_SHARE) -> str:
    """The candidate with the least review effort among those missing at most ``max_missed`` of the gold
    entities (among all of them if none does); equal effort: the higher strict F1."""
    allowed = [n for n, r in rows.items() if r["missed_share"] <= max_missed] or list(rows)
    return min(allowed, key=lambda n: (rows[n]["review_effort_per_100"], -rows[n]["strict_micro_f1"]))


Part = tuple[list[np.ndarray], list[list[str]]]  # emissions and gold tags of one part's documents


def tune(decoder: CRFDecoder, dev: Part, test: Part | None = None, *, current: Candidate,
         candidates: Sequence[Candidate] = CANDIDATES) -> dict:
    """Calibrate, then choose the decoder by review effort on dev; the same candidates on test, for the record.

    1. The temperature that calibrates Viterbi's entity confidences on dev (its entities do not depend on it;
       every confidence the app shows is the same exact span probability).
    2. Every candidate on dev at that temperature (MBR entities depend on it); the choice: :func:`choose`.
    3. If MBR is chosen, its own calibration on dev, and the candidates again at that temperature.
    ``current``: the folder's decoding as it was (temperature 1), measured beside them as the baseline.
    """
    by_name = {c.name: c for c in candidates}

    def table(d: CRFDecoder, part: Part, which: Sequence[Candidate] = candidates) -> dict[str, dict]:
        decoded = decode_all(d, part[0], which)
        return {c.name: measure(part[1], decoded[c]) for c in which}

    temperature, trace = fit_temperature(decoder, dev[0], dev[1], candidate=Candidate("viterbi"))
    dev_rows = table(decoder.with_temperature(temperature), dev)
    chosen = by_name[choose(dev_rows)]
    if chosen.decoder == "mbr":
        temperature, trace = fit_temperature(decoder, dev[0], dev[1], candidate=chosen)
        dev_rows = table(decoder.with_temperature(temperature), dev)
        chosen = by_name[choose(dev_rows)]
    calibrated = decoder.with_temperature(temperature)
    result = {"decoder": chosen.decoder, "threshold": chosen.threshold, "chosen": chosen.name,
              "temperature": temperature, "temperature_fit": trace, "current": current.name,
              "levels": suggestion_levels(dev_rows, chosen.name), "dev": dev_rows,
              "dev_current": table(decoder, dev, (current,))[current.name], "reliability": {}}
    parts = {"dev": dev} if test is None else {"dev": dev, "test": test}
    if test is not None:
        result["test"] = table(calibrated, test)
        result["test_current"] = table(decoder, test, (current,))[current.name]
    for name, part in parts.items():
        for when, d, c in (("after", calibrated, chosen), ("before", decoder, chosen),
                           ("current", decoder, current)):
            spans = decode_all(d, part[0], (c,))[c]
            conf, right = correctness(part[1], spans)
            result["reliability"][f"{name}_{when}"] = {"ece": expected_calibration_error(conf, right),
                                                      "bins": reliability(conf, right)}
    return result


def suggestion_levels(rows: dict[str, dict], chosen: str) -> dict[str, list]:
    """``{level: [decoder, threshold]}`` for "suggest more / balanced / fewer", from the dev table.

    Balanced is the choice (:func:`choose`); more is the least review effort among the candidates that miss
    fewer gold entities than balanced; fewer is the least effort among those making fewer suggestions (with
    more left to find by reading). Either is balanced itself when no candidate qualifies.
    """
    def pair(name: str) -> list:
        return ["viterbi", 0.5] if name == "Viterbi" else ["mbr", float(name.split()[1])]

    def least_effort(names: list[str]) -> str:
        return min(names, key=lambda n: (rows[n]["review_effort_per_100"], -rows[n]["strict_micro_f1"]),
                   default=chosen)

    base = rows[chosen]
    more = least_effort([n for n in rows if rows[n]["missed_share"] < base["missed_share"]])
    fewer = least_effort([n for n in rows if rows[n]["entities"] < base["entities"]])
    return {"more": pair(more), "balanced": pair(chosen), "fewer": pair(fewer)}


def tune_folder(folder: str | Path, data_dir: str | Path, *, cache: Path | None = None,
                write_to: Sequence[str | Path] = (), baseline: Candidate | None = None) -> dict:
    """:func:`tune` for a model folder on the build's dev and test parts of a HealthNER folder.

    ``write_to``: model folders (this one, and e.g. the fp16 student the INT8 one was made from) whose config
    gets the chosen decoder, threshold, temperature and suggestion levels; their manifests are rewritten.
    ``baseline``: the decoding measured beside the candidates at temperature 1 (default: the folder's own).
    """
    from engine.manifest import verify_manifest, write_manifest
    from engine.model_config import ModelConfig
    from engine.model_layout import ONNX_FILE, TOKENIZER_FILE, WEIGHTS_FILE
    from trainer.data import load_dataset, split_dataset
    from trainer.evaluate import load_any_tagger

    tagger = load_any_tagger(folder)
    config = ModelConfig.load(folder)
    split = split_dataset(load_dataset(data_dir))
    scored_by = (ONNX_FILE, WEIGHTS_FILE, TOKENIZER_FILE)  # what the emission scores depend on
    model_key = repr(sorted((n, h) for n, h in verify_manifest(folder).items() if n in scored_by))
    parts = {}
    for name in ("dev", "test"):
        docs = [d for d in getattr(split, name) if d.tokens()]
        parts[name] = (word_emissions(tagger, docs, cache=cache, model_key=model_key), gold_tags(docs))
    current = baseline or Candidate(config.decoder, config.decoder_threshold)
    result = tune(tagger.decoder.with_temperature(1.0), parts["dev"], parts["test"], current=current)
    result["documents"] = {name: len(part[1]) for name, part in parts.items()}
    for target in write_to:
        verify_manifest(target)
        cfg = ModelConfig.load(target)
        cfg.decoder, cfg.decoder_threshold = result["decoder"], result["threshold"]
        cfg.confidence_temperature = result["temperature"]
        cfg.suggestion_levels = result["levels"]
        cfg.training["dev_decoders"] = {name: {k: row[k] for k in ("review_effort_per_100", "missed_share",
                                                                    "strict_micro_f1", "ece")}
                                        for name, row in result["dev"].items()}
        dev = result["dev"][result["chosen"]]
        cfg.training["review_effort_tuning"] = {
            "chosen_on": f"dev ({result['documents']['dev']} documents) by review effort, missed <= "
                         f"{MAX_MISSED_SHARE:.0%}", "tuned_on": str(Path(folder).name),
            "dev_review_effort_per_100": dev["review_effort_per_100"], "dev_missed_share": dev["missed_share"],
            "dev_strict_micro_f1": dev["strict_micro_f1"], "dev_ece": dev["ece"]}
        cfg.validate(target)
        cfg.save(target)
        write_manifest(target)
    return result


def candidate_table(tagger: Tagger, docs: Sequence[Document]) -> dict[str, dict]:
    """Every candidate decoder on ``docs`` at the tagger's own temperature (for the model card's test table)."""
    docs = [d for d in docs if d.tokens()]
    decoded = decode_all(tagger.decoder, word_emissions(tagger, docs))
    gold = gold_tags(docs)
    return {c.name: measure(gold, decoded[c]) for c in CANDIDATES}
