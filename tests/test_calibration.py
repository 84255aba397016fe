"""Confidence temperature: same paths, exact probabilities of the scaled CRF, fitted back from sampled data."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from engine.crf import CRFDecoder, mbr_spans
from engine.errors import ModelError
from engine.model_config import ModelConfig
from trainer.tuning import (
    Candidate,
    correctness,
    decode_all,
    expected_calibration_error,
    fit_temperature,
    spans_tags,
    suggestion_levels,
)

TAGS = ["O", "B-Symptom", "I-Symptom", "B-Medicine", "I-Medicine"]


def decoder(seed: int = 0, temperature: float = 1.0) -> CRFDecoder:
    rng = np.random.default_rng(seed)
    n = len(TAGS)
    return CRFDecoder.from_scores(TAGS, rng.normal(size=n), rng.normal(size=n), rng.normal(size=(n, n)),
                                  temperature=temperature)


def brute_force_span(d: CRFDecoder, emissions: np.ndarray, first: int, last: int, kind: str, t: float) -> float:
    """P(exactly this entity) by enumerating every valid tag sequence of the CRF with scores divided by t."""
    raw = d.with_temperature(1.0)
    total = hit = 0.0
    for path in itertools.product(range(len(TAGS)), repeat=len(emissions)):
        tags = [TAGS[i] for i in path]
        if any(tag.startswith("I-") and (k == 0 or tags[k - 1][2:] != tag[2:]) for k, tag in enumerate(tags)):
            continue
        s = raw.start[path[0]] + raw.end[path[-1]] + sum(emissions[k, p] for k, p in enumerate(path))
        s += sum(raw.transitions[a, b] for a, b in zip(path, path[1:]))
        w = math.exp(s / t)
        total += w
        inside = all(tags[k] == f"I-{kind}" for k in range(first + 1, last + 1))
        after = last + 1 == len(tags) or tags[last + 1] != f"I-{kind}"
        hit += w * (tags[first] == f"B-{kind}" and inside and after)
    return hit / total


@pytest.mark.parametrize("t", [0.6, 1.0, 1.7, 3.0])
def test_temperature_keeps_the_path_and_gives_the_scaled_crfs_exact_probabilities(t):
    rng = np.random.default_rng(5)
    emissions = rng.normal(scale=2.0, size=(4, len(TAGS)))
    base, hot = decoder(), decoder().with_temperature(t)
    assert hot.temperature == t and hot.with_temperature(1.0).viterbi(emissions) == base.viterbi(emissions)
    path, spans = hot.decode(emissions)
    assert path == base.viterbi(emissions)
    for first, last, p in spans:
        kind = TAGS[path[first]][2:]
        assert p == pytest.approx(brute_force_span(base, emissions, first, last, kind, t), abs=1e-9)
    for first, last, kind, p in mbr_spans(hot, emissions, threshold=0.05):
        assert p == pytest.approx(brute_force_span(base, emissions, first, last, kind, t), abs=1e-9)


def sample_paths(d: CRFDecoder, emissions: np.ndarray, rng: np.random.Generator) -> list[int]:
    """One tag sequence drawn from the CRF (forward filtering, backward sampling)."""
    alpha, _, _ = d.forward_backward(emissions)
    scores = alpha[-1] + d.end
    path = [int(rng.choice(len(TAGS), p=np.exp(scores - np.logaddexp.reduce(scores))))]
    for t in range(len(emissions) - 2, -1, -1):
        scores = alpha[t] + d.transitions[:, path[-1]]
        path.append(int(rng.choice(len(TAGS), p=np.exp(scores - np.logaddexp.reduce(scores)))))
    return path[::-1]


def test_fit_finds_the_temperature_the_data_was_drawn_at():
    """Gold drawn from the CRF at temperature 2 while the model says 1: the fit says about 2, then ECE is small."""
    rng = np.random.default_rng(11)
    model = decoder(seed=3)
    truth = model.with_temperature(2.0)
    emissions = [rng.normal(scale=3.0, size=(int(rng.integers(3, 12)), len(TAGS))) for _ in range(500)]
    gold = []
    for e in emissions:
        path = sample_paths(truth, e, rng)
        gold.append([TAGS[i] for i in path])
    viterbi = Candidate("viterbi")
    fitted, trace = fit_temperature(model, emissions, gold, candidate=viterbi)
    assert 1.7 <= fitted <= 2.3, trace
    before = correctness(gold, decode_all(model, emissions, (viterbi,))[viterbi])
    after = correctness(gold, decode_all(model.with_temperature(fitted), emissions, (viterbi,))[viterbi])
    assert expected_calibration_error(*after) < 0.05 < expected_calibration_error(*before)


def test_ece_of_extremes():
    conf = np.array([1.0, 1.0, 0.0, 0.0])
    assert expected_calibration_error(conf, np.array([True, True, False, False])) == 0.0
    assert expected_calibration_error(conf, np.array([False, False, True, True])) == 1.0
    assert spans_tags([(1, 2, "Symptom", 0.5)], 4) == ["O", "B-Symptom", "I-Symptom", "O"]


def test_levels_follow_the_dev_table():
    rows = {"Viterbi": {"review_effort_per_100": 140, "missed_share": 0.12, "entities": 100, "strict_micro_f1": .5},
            "MBR 0.1": {"review_effort_per_100": 200, "missed_share": 0.05, "entities": 150, "strict_micro_f1": .4},
            "MBR 0.15": {"review_effort_per_100": 170, "missed_share": 0.09, "entities": 130, "strict_micro_f1": .45},
            "MBR 0.35": {"review_effort_per_100": 130, "missed_share": 0.35, "entities": 70, "strict_micro_f1": .55},
            "MBR 0.5": {"review_effort_per_100": 135, "missed_share": 0.5, "entities": 50, "strict_micro_f1": .5}}
    assert suggestion_levels(rows, "Viterbi") == {"more": ["mbr", 0.15], "balanced": ["viterbi", 0.5],
                                                  "fewer": ["mbr", 0.35]}


def test_config_fields_old_folders_and_damaged_values(tmp_path):
    config = ModelConfig(kind="student-int8", tags=TAGS, encoder={})
    config.save(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    for key in ("confidence_temperature", "suggestion_levels"):  # folders written before these fields
        raw.pop(key)
    (tmp_path / "config.json").write_text(json.dumps(raw))
    old = ModelConfig.load(tmp_path)
    assert old.confidence_temperature == 1.0 and old.decoding_for("balanced") == ("viterbi", 0.5)
    assert old.decoding_for("more") == ("mbr", 0.2) and old.decoding_for("fewer") == ("mbr", 0.5)
    for bad in ({"confidence_temperature": 0}, {"confidence_temperature": "1.5"}, {"confidence_temperature": True},
                {"suggestion_levels": {"most": ["mbr", 0.2]}}, {"suggestion_levels": {"more": ["mbr", 1.5]}},
                {"suggestion_levels": {"more": "mbr"}}):
        (tmp_path / "config.json").write_text(json.dumps({**raw, **bad}))
        with pytest.raises(ModelError):
            ModelConfig.load(tmp_path)
    with pytest.raises(ValueError, match="positive"):
        CRFDecoder.from_scores(TAGS, np.zeros(5), np.zeros(5), np.zeros((5, 5)), temperature=0.0)


def test_trainer_tune_writes_the_choice_into_the_folder_and_the_app_applies_it(tiny_bundle, tmp_path, capsys):
    """`python -m trainer tune` end to end on a tiny INT8 folder and a HealthNER-format folder."""
    import shutil

    from engine.manifest import verify_manifest
    from engine.runtime import load_tagger
    from engine.trainer_contract import ExitCode
    from trainer.__main__ import main
    from trainer.evaluate import evaluate_files

    data, folder = tmp_path / "data", tmp_path / "student-int8"
    data.mkdir()
    records = []
    for i in range(40):
        text, labels = f"রোগী {i} নাপা খান".split(), ["O", "O", "B-Medicine", "O"]
        if i % 2 == 0:
            text, labels = text + ["মাথা", "ব্যথা"], labels + ["B-Symptom", "I-Symptom"]
        records.append({"text": " ".join(text), "labels": labels})
    (data / "healthner-a.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    shutil.copytree(tiny_bundle / "student-int8", folder)
    args = ["tune", "--model", str(folder), "--data", str(data), "--cache", str(tmp_path / "cache")]
    assert main([*args, "--write", str(folder), "--json", str(tmp_path / "a.json"), "--baseline", "mbr 0.5"]) == 0
    result = json.loads((tmp_path / "a.json").read_text())
    assert result["current"] == "MBR 0.5" and set(result["dev"]) == set(result["test"])
    verify_manifest(folder)  # rewritten after config.json changed
    config = ModelConfig.load(folder)
    assert (config.decoder, config.confidence_temperature) == (result["decoder"], result["temperature"])
    assert config.suggestion_levels == result["levels"] and set(config.training["dev_decoders"]) == set(result["dev"])
    tagger = load_tagger(folder)
    assert tagger.decoder.temperature == result["temperature"] and tagger.decoding == result["decoder"]
    assert main([*args, "--json", str(tmp_path / "b.json"), "--baseline", "mbr 0.5"]) == 0  # scores from the cache
    assert json.loads((tmp_path / "b.json").read_text())["dev"] == result["dev"]
    assert main([*args, "--baseline", "mbr"]) == ExitCode.REFUSED
    assert "--baseline must be" in capsys.readouterr().err
    scored = evaluate_files(folder, [], test_split_of=data)
    assert {"review_effort_per_100", "review_actions_per_100", "missed_share", "ece"} <= set(scored)
