"""The numpy CRF against brute-force enumeration of every tag sequence."""

import itertools

import numpy as np
import pytest

from engine.crf import CRFDecoder, iob2_constraints

TAGS = ["O", "B-Medicine", "I-Medicine", "B-Symptom", "I-Symptom"]


def decoder(seed: int) -> CRFDecoder:
    rng = np.random.default_rng(seed)
    n = len(TAGS)
    return CRFDecoder.from_scores(TAGS, rng.normal(size=n), rng.normal(size=n), rng.normal(size=(n, n)) * 2)


def all_paths(dec: CRFDecoder, emissions: np.ndarray):
    """(path, score) for every *valid* IOB2 tag sequence."""
    allowed_start, allowed = iob2_constraints(TAGS)
    for path in itertools.product(range(len(TAGS)), repeat=len(emissions)):
        if not allowed_start[path[0]] or any(not allowed[a, b] for a, b in zip(path, path[1:])):
            continue
        score = dec.start[path[0]] + dec.end[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
        score += sum(dec.transitions[a, b] for a, b in zip(path, path[1:]))
        yield path, score


@pytest.mark.parametrize("seed", range(6))
def test_viterbi_matches_brute_force_and_is_valid(seed):
    dec = decoder(seed)
    emissions = np.random.default_rng(100 + seed).normal(size=(1 + seed % 5, len(TAGS))) * 3
    best = max(all_paths(dec, emissions), key=lambda ps: ps[1])[0]
    assert dec.viterbi(emissions) == list(best)


def test_viterbi_never_starts_or_continues_a_wrong_entity():
    dec = decoder(0)
    emissions = np.full((4, len(TAGS)), -5.0)
    emissions[:, TAGS.index("I-Symptom")] = 20.0  # the model screams I-Symptom everywhere
    path = [TAGS[i] for i in dec.viterbi(emissions)]
    assert path[0] != "I-Symptom"
    for prev, cur in zip(path, path[1:]):
        if cur.startswith("I-"):
            assert prev[2:] == cur[2:]


@pytest.mark.parametrize("seed", range(4))
def test_marginals_and_span_confidence_match_brute_force(seed):
    dec = decoder(seed)
    emissions = np.random.default_rng(200 + seed).normal(size=(5, len(TAGS))) * 2
    paths = list(all_paths(dec, emissions))
    scores = np.array([s for _, s in paths])
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    marg = np.zeros_like(emissions)
    for (path, _), p in zip(paths, probs):
        for t, y in enumerate(path):
            marg[t, y] += p
    np.testing.assert_allclose(dec.marginals(emissions), marg, atol=1e-9)

    best = dec.viterbi(emissions)
    for first, last, conf in dec.span_confidences(emissions, best):
        kind = TAGS[best[first]][2:]
        expected = 0.0
        for (path, _), p in zip(paths, probs):
            tags = [TAGS[y] for y in path]
            inside = tags[first] == f"B-{kind}" and all(t == f"I-{kind}" for t in tags[first + 1:last + 1])
            closed = last + 1 == len(tags) or tags[last + 1] != f"I-{kind}"
            expected += p if inside and closed else 0.0
        assert conf == pytest.approx(expected, abs=1e-9)
    assert dec.decode(emissions) == (best, dec.span_confidences(emissions, best))


def test_long_sequences_stay_finite():
    dec = decoder(1)
    emissions = np.random.default_rng(7).normal(size=(3000, len(TAGS))) * 30
    marg = dec.marginals(emissions)
    assert np.isfinite(marg).all()
    np.testing.assert_allclose(marg.sum(axis=1), 1.0, atol=1e-6)


def test_bad_shapes_are_rejected():
    dec = decoder(0)
    with pytest.raises(ValueError, match=r"emissions must have shape \(seq_len, 5\)"):
        dec.viterbi(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="CRF shapes do not match"):
        CRFDecoder.from_scores(TAGS, np.zeros(4), np.zeros(5), np.zeros((5, 5)))
    assert dec.viterbi(np.zeros((0, 5))) == []


def test_extreme_emission_ranges_match_per_step_log_space():
    """Scaled forward-backward agrees with plain log-sum-exp even when rows span hundreds of nats."""
    dec = decoder(2)
    emissions = np.random.default_rng(3).normal(size=(40, len(TAGS))) * 120
    alpha, beta, log_z = dec.forward_backward(emissions)
    ref = dec.start + emissions[0]
    for t in range(1, len(emissions)):
        m = (ref[:, None] + dec.transitions).max(axis=0)
        ref = m + np.log(np.exp(ref[:, None] + dec.transitions - m).sum(axis=0)) + emissions[t]
    top = (ref + dec.end).max()
    assert log_z == pytest.approx(top + np.log(np.exp(ref + dec.end - top).sum()), rel=1e-9)
    marg = np.exp(alpha + beta - log_z)
    np.testing.assert_allclose(marg.sum(axis=1), 1.0, atol=1e-6)


def test_crf_file_round_trip_decodes_the_same(tmp_path):
    """save_crf writes what load_crf reads back: the same decoder, so the same entities."""
    from engine.crf import load_crf, save_crf

    rng = np.random.default_rng(7)
    n = len(TAGS)
    raw = {"start": rng.normal(size=n), "end": rng.normal(size=n), "transitions": rng.normal(size=(n, n))}
    save_crf(tmp_path / "crf.safetensors", **raw)
    loaded = load_crf(tmp_path / "crf.safetensors", TAGS)
    direct = CRFDecoder.from_scores(TAGS, *(raw[k].astype(np.float32) for k in ("start", "end", "transitions")))
    np.testing.assert_array_equal(loaded.transitions, direct.transitions)
    np.testing.assert_array_equal(loaded.start, direct.start)
    np.testing.assert_array_equal(loaded.end, direct.end)
    emissions = rng.normal(size=(9, n))
    assert loaded.decode(emissions) == direct.decode(emissions)


def test_crf_file_refuses_wrong_shapes_other_labels_and_damage(tmp_path):
    from safetensors.numpy import save_file

    from engine.crf import load_crf, save_crf
    from engine.errors import ModelError

    with pytest.raises(ValueError, match=r"\(n,\), \(n,\), \(n, n\)"):
        save_crf(tmp_path / "x.safetensors", start=np.zeros(5), end=np.zeros(5), transitions=np.zeros((5, 4)))
    path = tmp_path / "crf.safetensors"
    save_crf(path, start=np.zeros(5), end=np.zeros(5), transitions=np.zeros((5, 5)))
    with pytest.raises(ModelError, match="CRF shapes do not match 3 tags"):
        load_crf(path, ["O", "B-Age", "I-Age"])
    save_file({"start": np.zeros(5, dtype=np.float32)}, str(tmp_path / "partial.safetensors"))
    with pytest.raises(ModelError, match="no 'end' scores"):
        load_crf(tmp_path / "partial.safetensors", TAGS)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ModelError, match="crf.safetensors"):
        load_crf(path, TAGS)
    with pytest.raises(ModelError, match="missing.safetensors"):
        load_crf(tmp_path / "missing.safetensors", TAGS)
