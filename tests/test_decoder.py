"""The minimum-Bayes-risk span decoder against brute force, its config field, and corrections per 100."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from engine.crf import CRFDecoder, iob2_constraints, mbr_spans, span_posteriors, spans_to_path
from engine.errors import ModelError
from engine.model_config import ModelConfig
from engine.spans import parse_tag
from trainer.metrics import score

TAGS = ["O", "B-Sym", "I-Sym", "B-Med", "I-Med"]


def _decoder(rng: np.random.Generator, tags: list[str] = TAGS) -> CRFDecoder:
    n = len(tags)
    return CRFDecoder.from_scores(tags, rng.normal(size=n), rng.normal(size=n), rng.normal(size=(n, n)) * 2)


def _valid_paths(tags: list[str], length: int):
    allowed_start, allowed = iob2_constraints(tags)
    for path in itertools.product(range(len(tags)), repeat=length):
        if allowed_start[path[0]] and all(allowed[a, b] for a, b in zip(path, path[1:])):
            yield path


def _spans_of(tags: list[str], path) -> set[tuple[int, int, str]]:
    spans, t = set(), 0
    while t < len(path):
        prefix, kind = parse_tag(tags[path[t]])
        if prefix == "B":
            first = t
            while t + 1 < len(path) and tags[path[t + 1]] == f"I-{kind}":
                t += 1
            spans.add((first, t, kind))
        t += 1
    return spans


def _brute_posteriors(decoder: CRFDecoder, emissions: np.ndarray) -> dict[tuple[int, int, str], float]:
    """P(entity) by summing exp(score) over every IOB2-valid tag sequence."""
    weights = {}
    for path in _valid_paths(list(decoder.tags), len(emissions)):
        s = decoder.start[path[0]] + decoder.end[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
        s += sum(decoder.transitions[a, b] for a, b in zip(path, path[1:]))
        weights[path] = s
    top = max(weights.values())
    z = sum(math.exp(s - top) for s in weights.values())
    out: dict[tuple[int, int, str], float] = {}
    for path, s in weights.items():
        for span in _spans_of(list(decoder.tags), path):
            out[span] = out.get(span, 0.0) + math.exp(s - top) / z
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("length", [1, 2, 4])
def test_span_posteriors_match_enumeration(seed, length):
    rng = np.random.default_rng(seed)
    decoder = _decoder(rng)
    emissions = rng.normal(size=(length, len(TAGS))) * 3
    expected = _brute_posteriors(decoder, emissions)
    got = {(a, b, k): p for a, b, k, p in span_posteriors(decoder, emissions)}
    assert set(got) == {s for s, p in expected.items() if p > 0}
    for span, p in expected.items():
        assert got[span] == pytest.approx(p, abs=1e-9)
    # with a threshold, exactly the spans above it come back
    above = {(a, b, k) for a, b, k, _ in span_posteriors(decoder, emissions, threshold=0.3)}
    assert above == {s for s, p in expected.items() if p > 0.3}


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("threshold", [0.1, 0.3, 0.5, 0.8])
def test_mbr_picks_the_best_non_overlapping_set(seed, threshold):
    """Against every subset of candidate spans: the decoder's choice has the largest sum of (p - threshold)."""
    rng = np.random.default_rng(100 + seed)
    decoder = _decoder(rng)
    emissions = rng.normal(size=(4, len(TAGS))) * 2
    candidates = [s for s in span_posteriors(decoder, emissions, threshold=threshold)]
    best = 0.0
    for r in range(1, len(candidates) + 1):
        for subset in itertools.combinations(candidates, r):
            words = [t for a, b, _, _ in subset for t in range(a, b + 1)]
            if len(words) == len(set(words)):
                best = max(best, sum(p - threshold for *_, p in subset))
    chosen = mbr_spans(decoder, emissions, threshold=threshold)
    assert sum(p - threshold for *_, p in chosen) == pytest.approx(best, abs=1e-12)
    path = spans_to_path(decoder, len(emissions), chosen)
    assert tuple(path) in set(_valid_paths(TAGS, len(emissions)))  # IOB2-valid, never overlapping
    assert _spans_of(TAGS, path) == {(a, b, k) for a, b, k, _ in chosen}


def test_mbr_on_confident_emissions_equals_viterbi_and_handles_empty():
    rng = np.random.default_rng(3)
    decoder = _decoder(rng)
    gold = [1, 2, 0, 3, 4, 4, 0]
    emissions = np.full((len(gold), len(TAGS)), -8.0)
    emissions[np.arange(len(gold)), gold] = 8.0
    spans = mbr_spans(decoder, emissions, threshold=0.5)
    assert spans_to_path(decoder, len(gold), spans) == decoder.viterbi(emissions) == gold
    assert [(a, b, k) for a, b, k, _ in spans] == [(0, 1, "Sym"), (3, 5, "Med")]
    assert all(p > 0.99 for *_, p in spans)
    assert mbr_spans(decoder, np.zeros((0, len(TAGS))), threshold=0.5) == []
    with pytest.raises(ValueError, match="threshold"):
        mbr_spans(decoder, emissions, threshold=1.0)


def test_a_higher_threshold_never_adds_entities():
    rng = np.random.default_rng(11)
    decoder = _decoder(rng)
    emissions = rng.normal(size=(30, len(TAGS)))
    counts = [len(mbr_spans(decoder, emissions, threshold=t)) for t in (0.5, 0.6, 0.8, 0.95)]
    assert counts == sorted(counts, reverse=True)


def test_config_decoder_defaults_to_viterbi_and_is_validated(tmp_path):
    config = ModelConfig(kind="student", tags=TAGS, encoder={})
    config.save(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    for key in ("decoder", "decoder_threshold"):  # folders written before these fields
        raw.pop(key)
    (tmp_path / "config.json").write_text(json.dumps(raw))
    assert ModelConfig.load(tmp_path).decoder == "viterbi"
    raw.update(decoder="mbr", decoder_threshold=0.4)
    (tmp_path / "config.json").write_text(json.dumps(raw))
    loaded = ModelConfig.load(tmp_path)
    assert (loaded.decoder, loaded.decoder_threshold) == ("mbr", 0.4)
    raw.update(decoder="beam")
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(ModelError, match="decoder must be one of viterbi, mbr"):
        ModelConfig.load(tmp_path)


def test_corrections_per_100_counts_every_fix():
    gold = [["B-Sym", "I-Sym", "O", "B-Med", "O", "B-Sym"], ["B-Med", "O"]]
    predicted = [["B-Sym", "O", "O", "B-Sym", "O", "O"], ["B-Med", "B-Sym"]]
    # gold: Sym(0-1) boundary, Med(3) wrong type, Sym(5) missed, Med exact; spurious: Sym at doc 2 word 1
    result = score(gold, predicted)
    errors = result["errors"]
    assert errors["Sym"] == {"exact": 0, "boundary": 1, "wrong_type": 0, "missed": 1, "spurious": 1}
    assert errors["Med"] == {"exact": 1, "boundary": 0, "wrong_type": 1, "missed": 0, "spurious": 0}
    assert result["corrections_per_100"] == 100.0  # 4 fixes for 4 gold entities
    assert score(gold, gold)["corrections_per_100"] == 0.0


def test_the_app_runtime_decodes_as_the_model_folder_says(tiny_bundle, tmp_path):
    import shutil

    from engine.manifest import write_manifest
    from engine.runtime import load_tagger
    from engine.text import split_words

    folder = tmp_path / "student-int8"
    shutil.copytree(tiny_bundle / "student-int8", folder)
    text = "জ্বর হলে নাপা খান। ডায়াবেটিস আছে"
    viterbi = load_tagger(folder)
    assert viterbi.decoding == "viterbi"
    config = ModelConfig.load(folder)
    config.decoder, config.decoder_threshold = "mbr", 0.3
    config.save(folder)
    write_manifest(folder)
    tagger = load_tagger(folder)
    assert (tagger.decoding, tagger.threshold) == ("mbr", 0.3)
    words = split_words(text)
    emissions = tagger.word_emissions([words])[0]
    expected = mbr_spans(tagger.decoder, emissions, threshold=0.3)
    entities = tagger.tag(text)
    assert [(e.start, e.end, e.label, e.confidence) for e in entities] == [
        (words[a].start, words[b].end, k, round(p, 4)) for a, b, k, p in expected]
    assert all(e.confidence > 0.3 for e in entities)
    assert tagger.predict_tags([words])[0] == [tagger.decoder.tags[i] for i in
                                               spans_to_path(tagger.decoder, len(words), expected)]


def test_paired_bootstrap_of_the_f1_difference():
    from trainer.metrics import document_counts, paired_bootstrap

    gold = [["B-Sym", "I-Sym", "O"], ["B-Med", "O", "B-Sym"], ["O", "B-Med", "O"]] * 20
    better = [g[:] for g in gold]
    worse = [["B-Sym", "O", "O"], ["B-Med", "O", "O"], ["O", "B-Med", "O"]] * 20
    a, b = document_counts(gold, better), document_counts(gold, worse)
    assert a[:3].tolist() == [[1, 1, 1], [2, 2, 2], [1, 1, 1]] and b[:2].tolist() == [[0, 1, 1], [1, 1, 2]]
    result = paired_bootstrap(a, b)
    assert result["difference"] == pytest.approx(1 - 2 * 40 / (60 + 80), abs=1e-4)
    assert 0 < result["ci95"][0] <= result["difference"] <= result["ci95"][1]
    assert paired_bootstrap(a, a) == {"difference": 0.0, "ci95": [0.0, 0.0]}
    with pytest.raises(ValueError, match="shape"):
        paired_bootstrap(a, b[:5])


def test_span_posteriors_with_a_type_that_has_no_inside_tag():
    tags = ["O", "B-Sym", "I-Sym", "B-Age"]
    rng = np.random.default_rng(7)
    decoder = _decoder(rng, tags)
    emissions = rng.normal(size=(4, len(tags))) * 2
    expected = _brute_posteriors(decoder, emissions)
    got = {(a, b, k): p for a, b, k, p in span_posteriors(decoder, emissions)}
    assert set(got) == {s for s, p in expected.items() if p > 0}
    assert all(got[s] == pytest.approx(p, abs=1e-9) for s, p in expected.items())
