"""CRF decoding in numpy: constrained Viterbi and exact span confidences.

Parameters follow pytorch-crf's layout so a trained torch CRF exports as is:
``start`` (num_tags,), ``end`` (num_tags,), ``transitions`` (num_tags, num_tags)
with ``transitions[i, j]`` the score of moving from tag ``i`` to tag ``j``.
IOB2 validity is enforced here: ``I-X`` may only follow ``B-X`` or ``I-X`` and
never starts a sequence, whatever the learned scores say.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from engine.errors import ModelError
from engine.labels import LabelSet
from engine.progress import IsCancelled, Progress, check_cancelled

_FORBIDDEN = -1.0e4  # finite, so log-sum-exp never meets inf - inf
_RESCALE = 4  # forward-backward renormalises every few steps (see forward_backward)
_MAX_SHRINK = 300.0  # ... or sooner, before values could fall below exp(-700)
_CHUNK = 1024  # words whose (to, from) step matrices exist at once: memory stays O(words x tags)


class _Underflow(Exception):
    """The fast scaled forward-backward lost every path to underflow; the log-space one takes over."""


class _Steps:
    """Progress and cancel for one long decode: :meth:`tick` once per chunk of words."""

    def __init__(self, total: int, progress: Progress | None, cancelled: IsCancelled | None) -> None:
        self.done, self.total, self.progress, self.cancelled = 0, total, progress, cancelled

    def tick(self, words: int) -> None:
        check_cancelled(self.cancelled)
        self.done = min(self.total, self.done + words)
        if self.progress is not None:
            self.progress(self.done, self.total)


_QUIET = _Steps(0, None, None)


@dataclass(frozen=True)
class CRFDecoder:
    """A linear-chain CRF over ``tags`` with IOB2 constraints baked in.

    ``temperature`` divides every score (start, end, transitions here; emissions as they come in): the best
    path stays the same, but probabilities, and so confidences and MBR entities, become softer (> 1) or
    sharper (< 1). It is fitted on dev so that confidences mean what they say (``confidence_temperature``
    in a model folder's config).
    """

    tags: tuple[str, ...]
    start: np.ndarray  # shape: (num_tags,), divided by temperature
    end: np.ndarray  # shape: (num_tags,), divided by temperature
    transitions: np.ndarray  # shape: (num_tags, num_tags), divided by temperature
    temperature: float = 1.0

    @classmethod
    def from_scores(cls, tags: list[str], start, end, transitions, *, temperature: float = 1.0) -> CRFDecoder:
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        n = len(tags)
        start = np.asarray(start, dtype=np.float64)
        end = np.asarray(end, dtype=np.float64)
        transitions = np.asarray(transitions, dtype=np.float64)
        if start.shape != (n,) or end.shape != (n,) or transitions.shape != (n, n):
            raise ValueError(
                f"CRF shapes do not match {n} tags: start {start.shape}, end {end.shape}, "
                f"transitions {transitions.shape}"
            )
        if not (np.isfinite(start).all() and np.isfinite(end).all() and np.isfinite(transitions).all()):
            raise ValueError("CRF scores must be finite numbers (found NaN or infinity)")
        allowed_start, allowed = iob2_constraints(tags)
        return cls(
            tuple(tags),
            np.where(allowed_start, start / temperature, _FORBIDDEN),
            end / temperature,
            np.where(allowed, transitions / temperature, _FORBIDDEN),
            float(temperature),
        )

    def with_temperature(self, temperature: float) -> CRFDecoder:
        """The same CRF with its scores divided by ``temperature`` instead (same paths, other confidences)."""
        if temperature == self.temperature:
            return self
        t = self.temperature
        return CRFDecoder.from_scores(list(self.tags), self.start * t, self.end * t, self.transitions * t,
                                      temperature=temperature)

    @property
    def num_tags(self) -> int:
        return len(self.tags)

    @cached_property
    def labels(self) -> LabelSet:
        return LabelSet(self.tags)

    def _check(self, emissions: np.ndarray) -> np.ndarray:
        emissions = np.asarray(emissions, dtype=np.float64)
        if emissions.ndim != 2 or emissions.shape[1] != self.num_tags:
            raise ValueError(f"emissions must have shape (seq_len, {self.num_tags}), got {emissions.shape}")
        if not np.isfinite(emissions).all():
            raise ModelError("the model produced invalid scores (NaN or infinity) for this text; "
                             "its files may be damaged: activate another model version")
        return emissions / self.temperature if self.temperature != 1.0 else emissions

    @cached_property
    def _exact(self) -> tuple[np.ndarray, np.ndarray]:
        """Start scores and transitions as (to, from) with forbidden moves at -inf.

        -inf, not the finite ``_FORBIDDEN``: emissions of any size can never buy an
        invalid IOB2 path. ``O`` is always allowed, so no step is all -inf.
        """
        allowed_start, allowed = iob2_constraints(self.tags)
        return (np.where(allowed_start, self.start, -np.inf),
                np.ascontiguousarray(np.where(allowed, self.transitions, -np.inf).T))

    @cached_property
    def _scaled(self) -> tuple[float, np.ndarray, float]:
        """``top``, ``exp(transitions - top)`` and the widest allowed transition range, for forward-backward."""
        top = float(self.transitions.max())
        allowed = self.transitions[self.transitions > _FORBIDDEN / 2]
        return top, np.exp(self.transitions - top), top - float(allowed.min())

    def viterbi(self, emissions: np.ndarray) -> list[int]:
        """Best tag index per position. ``emissions``: (seq_len, num_tags)."""
        return self._viterbi(self._check(emissions))

    def decode(self, emissions: np.ndarray, *, progress: Progress | None = None,
               cancelled: IsCancelled | None = None) -> tuple[list[int], list[tuple[int, int, float]]]:
        """:meth:`viterbi` and :meth:`span_confidences` of that path in one call (validates once).

        ``progress(done, total)`` is called and ``cancelled()`` checked every few
        hundred words (a pasted book is one sequence of 200,000 words).
        """
        emissions = self._check(emissions)
        steps = _Steps(3 * len(emissions), progress, cancelled)  # Viterbi, forward, backward
        path = self._viterbi(emissions, steps)
        return path, self._span_confidences(emissions, path, steps)

    def _viterbi(self, emissions: np.ndarray, steps: _Steps = _QUIET) -> list[int]:
        length, n = emissions.shape
        if length == 0:
            return []
        start, into = self._exact
        # the best `from` per (t, to): one byte each while there are few tags (15 B per word, not 120)
        history = np.empty((length - 1, n), dtype=np.uint8 if n < 256 else np.intp)
        row_start = np.arange(n) * n
        score = start + emissions[0]  # shape: (num_tags,)
        for c in range(1, length, _CHUNK):
            steps.tick(_CHUNK)
            # candidates[k, to, from]: transitions plus the emission at c + k, built for a chunk of words
            # at once; each step adds the previous scores in place and keeps the best `from` per `to`
            candidates = into + emissions[c:c + _CHUNK, :, None]  # (chunk, to, from)
            flat = candidates.reshape(len(candidates), n * n)
            for k in range(len(candidates)):
                step = candidates[k]
                step += score
                best = step.argmax(axis=1)
                history[c - 1 + k] = best
                score = flat[k][row_start + best]
        tag = int((score + self.end).argmax())
        path = [tag]
        steps.tick(length)  # the rest of this pass
        for t in range(length - 2, -1, -1):
            tag = int(history[t, tag])
            path.append(tag)
        return path[::-1]

    def forward_backward(self, emissions: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Log-space ``alpha``, ``beta`` (both (seq_len, num_tags)) and ``log Z``.

        ``alpha[t, y]`` scores all prefixes ending in ``y`` at ``t`` (emission at
        ``t`` included); ``beta[t, y]`` all suffixes after ``t`` (end score included).
        Computed in scaled probability space (matrix-vector products, with a
        normaliser now and then), which is exact and several times faster than
        log-sum-exp at each step; scores so extreme that every path underflows
        there are computed again in log space.
        """
        return self._forward_backward(self._check(emissions))

    def _forward_backward(self, emissions: np.ndarray,
                          steps: _Steps = _QUIET) -> tuple[np.ndarray, np.ndarray, float]:
        if emissions.shape[0] == 0:
            return np.empty_like(emissions), np.empty_like(emissions), 0.0
        done = steps.done
        try:
            with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
                alpha, beta, log_z = self._forward_backward_scaled(emissions, steps)
        except _Underflow:
            steps.done = done
            alpha, beta, log_z = self._forward_backward_log(emissions, steps)
        if not np.isfinite(log_z):
            raise ModelError("the model's scores for this text are too extreme to decode; "
                             "its files may be damaged: activate another model version")
        return alpha, beta, log_z

    def _forward_backward_scaled(self, emissions: np.ndarray, steps: _Steps) -> tuple[np.ndarray, np.ndarray, float]:
        length = emissions.shape[0]
        top, trans, trans_range = self._scaled
        shift = emissions.max(axis=1)
        start_max, end_max = self.start.max(), self.end.max()
        end_p = np.exp(self.end - end_max)
        # Each step can shrink the values by at most the row's emission range plus the transitions'
        # range (in log space); rescaling once that budget nears float64's limits, or every few
        # steps, skips most of the per-step normalising. The log-scales are kept in Python lists.
        shrink = (shift - emissions.min(axis=1) + trans_range).tolist()
        alpha_p = np.empty_like(emissions)
        beta_p = np.empty_like(emissions)
        alpha_extra = [0.0] * length
        beta_extra = [0.0] * length

        def step_matrices(first: int) -> np.ndarray:
            """exp(transitions) scaled by the emissions at first+1 ...: (chunk, from, to), one product per word."""
            return trans * np.exp(emissions[first + 1:first + 1 + _CHUNK] - shift[first + 1:first + 1 + _CHUNK, None])[:, None, :]

        def normalise(v: np.ndarray) -> float:
            total = float(v.sum())
            if not 0.0 < total < math.inf:
                raise _Underflow()
            v /= total
            return math.log(total)

        a = alpha_p[0]
        np.multiply(np.exp(self.start - start_max), np.exp(emissions[0] - shift[0]), out=a)
        extra = budget = 0.0
        chunk, chunk_first = None, -1
        for t in range(length):
            if t:
                if t - 1 >= chunk_first + _CHUNK or chunk is None:
                    steps.tick(_CHUNK)
                    chunk_first = t - 1
                    chunk = step_matrices(chunk_first)
                np.dot(a, chunk[t - 1 - chunk_first], out=alpha_p[t])
                a = alpha_p[t]
            budget += shrink[t]
            if t % _RESCALE == 0 or budget > _MAX_SHRINK:
                budget = 0.0
                extra += normalise(a)
            alpha_extra[t] = extra
        b = beta_p[length - 1]
        b[:] = end_p
        extra, budget = float(end_max), 0.0
        chunk, chunk_first = None, length
        for t in range(length - 1, -1, -1):
            if t < length - 1:
                if t < chunk_first:
                    steps.tick(_CHUNK)
                    chunk_first = max(0, t - _CHUNK + 1)
                    chunk = step_matrices(chunk_first)
                np.dot(chunk[t - chunk_first], b, out=beta_p[t])
                b = beta_p[t]
                extra += top + shift[t + 1]
                budget += shrink[t + 1]
            if t % _RESCALE == 0 or budget > _MAX_SHRINK:
                budget = 0.0
                extra += normalise(b)
            beta_extra[t] = extra
        alpha_scale = shift.cumsum() + top * np.arange(length) + start_max + np.array(alpha_extra)
        last = float(alpha_p[-1] @ end_p)
        if not 0.0 < last < math.inf:
            raise _Underflow()
        alpha = np.log(alpha_p, out=alpha_p)
        alpha += alpha_scale[:, None]
        beta = np.log(beta_p, out=beta_p)
        beta += np.array(beta_extra)[:, None]
        log_z = math.log(last) + float(alpha_scale[-1]) + float(end_max)
        return alpha, beta, log_z

    def _forward_backward_log(self, emissions: np.ndarray, steps: _Steps) -> tuple[np.ndarray, np.ndarray, float]:
        """Plain log-sum-exp at every step (slower; for scores beyond the scaled version's range)."""
        length = emissions.shape[0]
        start, into = self._exact  # (to, from), forbidden at -inf
        alpha = np.empty_like(emissions)
        beta = np.empty_like(emissions)
        alpha[0] = start + emissions[0]
        for t in range(1, length):
            if t % _CHUNK == 0:
                steps.tick(_CHUNK)
            alpha[t] = _logsumexp(into + alpha[t - 1], axis=1) + emissions[t]
        beta[-1] = self.end
        out_of = np.ascontiguousarray(into.T)  # (from, to)
        for t in range(length - 2, -1, -1):
            if t % _CHUNK == 0:
                steps.tick(_CHUNK)
            beta[t] = _logsumexp(out_of + (emissions[t + 1] + beta[t + 1]), axis=1)
        return alpha, beta, float(_logsumexp(alpha[-1] + self.end, axis=0))

    def marginals(self, emissions: np.ndarray) -> np.ndarray:
        """P(tag at t = y), shape (seq_len, num_tags); rows sum to 1."""
        alpha, beta, log_z = self.forward_backward(emissions)
        return np.exp(alpha + beta - log_z)

    def span_confidences(self, emissions: np.ndarray, path: list[int]) -> list[tuple[int, int, float]]:
        """Entities of ``path`` as ``(first, last, probability)`` over positions.

        The probability is exact: the chance, over all tag sequences, that the
        sequence tags exactly this span (same type, same start, same end).
        """
        return self._span_confidences(self._check(emissions), path)

    def _span_confidences(self, emissions: np.ndarray, path: list[int],
                          steps: _Steps = _QUIET) -> list[tuple[int, int, float]]:
        alpha, beta, log_z = self._forward_backward(emissions, steps)
        spans = []
        length = len(path)
        t = 0
        labels = self.labels
        while t < length:
            if labels.prefix(path[t]) != "B":
                t += 1
                continue
            inside = labels.inside(labels.entity_type(path[t]))
            first = t
            score = alpha[t, path[t]]
            while t + 1 < length and path[t + 1] == inside:
                score += self.transitions[path[t], path[t + 1]] + emissions[t + 1, path[t + 1]]
                t += 1
            # log-probabilities are <= 0; with extreme scores rounding could say otherwise, and exp overflow
            p = math.exp(min(0.0, score + beta[t, path[t]] - log_z))
            if inside is not None and t + 1 < length:
                longer = score + self.transitions[path[t], inside] + emissions[t + 1, inside] + beta[t + 1, inside]
                p -= math.exp(min(0.0, longer - log_z))
            spans.append((first, t, float(min(1.0, max(0.0, p)))))
            t += 1
        return spans


def iob2_constraints(tags: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks: which tags may start a sequence, and which may follow which."""
    labels = LabelSet(tags)
    n = len(labels)
    allowed_start = np.array([labels.prefix(j) != "I" for j in range(n)])
    allowed = np.ones((n, n), dtype=bool)
    for j in range(n):
        if labels.prefix(j) == "I":
            for i in range(n):
                allowed[i, j] = labels.entity_type(i) == labels.entity_type(j)
    return allowed_start, allowed



DECODERS = ("viterbi", "mbr")  # the values of ModelConfig.decoder


def span_posteriors(decoder: CRFDecoder, emissions: np.ndarray, *, threshold: float = 0.0,
                    progress: Progress | None = None,
                    cancelled: IsCancelled | None = None) -> list[tuple[int, int, str, float]]:
    """Every entity whose exact posterior probability exceeds ``threshold``, as ``(first, last, type, p)``.

    ``p`` is the chance, over all tag sequences, that the sequence holds exactly this
    entity (``B-type`` at ``first``, ``I-type`` up to ``last``, no ``I-type`` after).
    ``emissions``: (seq_len, num_tags). The probability that a sequence *starts*
    with ``first..last`` never grows with ``last``, so a span is extended only while
    that prefix probability clears the threshold: the work follows the few spans
    that could, for all types at once (this runs for every note the app tags).
    ``progress`` / ``cancelled``: as :meth:`CRFDecoder.decode` (one long pasted text).
    """
    emissions = decoder._check(emissions)
    length = emissions.shape[0]
    if length == 0:
        return []
    alpha, beta, log_z = decoder._forward_backward(emissions, _Steps(2 * length, progress, cancelled))
    kinds, b_tags, i_tags = _entity_tags(decoder.labels)
    # width 0: P(B-type at first) bounds every span starting there
    starts, kind = np.nonzero(np.exp(alpha[:, b_tags] + beta[:, b_tags] - log_z) > threshold)
    score = alpha[starts, b_tags[kind]]  # log-score of all prefixes ending with the span so far
    last_tag = b_tags[kind]
    inside = i_tags[kind]
    found: list[tuple[int, int, str, float]] = []
    width = 0
    while len(starts):
        last = starts + width
        head = np.exp(score + beta[last, last_tag] - log_z)  # P(the sequence has the span up to `last`)
        grow = (last + 1 < length) & (inside >= 0)
        nxt = np.where(grow, last + 1, 0)
        step = score + decoder.transitions[last_tag, inside] + emissions[nxt, inside]
        longer = np.where(grow, np.exp(step + beta[nxt, inside] - log_z), 0.0)  # ... and goes on with I-type
        exact = np.clip(head - longer, 0.0, 1.0)
        for i in np.flatnonzero(exact > threshold).tolist():
            found.append((int(starts[i]), int(last[i]), kinds[kind[i]], float(exact[i])))
        keep = grow & (longer > threshold)  # a longer span is at most as likely as `longer`
        starts, kind, score, inside = starts[keep], kind[keep], step[keep], inside[keep]
        last_tag = inside
        width += 1
    found.sort()
    return found


def _entity_tags(labels: LabelSet) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Entity types that have a B- tag, and per type the index of its B- tag and of its I- tag (-1 if none)."""
    kinds = [labels.entity_type(i) for i in range(len(labels)) if labels.prefix(i) == "B"]
    inside = [labels.inside(k) for k in kinds]
    return (kinds, np.array([labels.begin(k) for k in kinds], dtype=np.intp),
            np.array([-1 if i is None else i for i in inside], dtype=np.intp))


def mbr_spans(decoder: CRFDecoder, emissions: np.ndarray, *, threshold: float = 0.5,
              progress: Progress | None = None,
              cancelled: IsCancelled | None = None) -> list[tuple[int, int, str, float]]:
    """Minimum-Bayes-risk entities: non-overlapping spans of posterior > ``threshold`` with the most gain.

    Among the spans whose exact posterior ``p`` clears ``threshold``, picks the
    non-overlapping set that maximises the sum of ``p - threshold`` (expected
    correct entities minus ``threshold`` per prediction; a high threshold favours
    precision). With ``threshold >= 0.5`` no two candidates overlap (overlapping
    entities exclude each other, so their probabilities sum to at most 1).
    Returns ``(first, last, type, p)`` sorted by position.
    """
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    return choose_spans(span_posteriors(decoder, emissions, threshold=threshold, progress=progress,
                                        cancelled=cancelled), threshold=threshold)


def choose_spans(candidates: list[tuple[int, int, str, float]], *,
                 threshold: float) -> list[tuple[int, int, str, float]]:
    """:func:`mbr_spans`' choice among ``candidates`` (:func:`span_posteriors` at this threshold or a lower one).

    Evaluating many thresholds on the same text needs one :func:`span_posteriors` at the lowest of them.
    """
    candidates = sorted((s for s in candidates if s[3] > threshold), key=lambda s: (s[1], s[0]))
    if not candidates:
        return []
    # weighted interval scheduling over positions: best[t] = best gain using words < t
    length = max(s[1] for s in candidates) + 1
    best = [0.0] * (length + 1)
    choice: list[tuple[int, int, str, float] | None] = [None] * (length + 1)
    by_end: dict[int, list[tuple[int, int, str, float]]] = {}
    for span in candidates:
        by_end.setdefault(span[1], []).append(span)
    for t in range(1, length + 1):
        best[t], choice[t] = best[t - 1], None
        for span in by_end.get(t - 1, ()):
            gain = best[span[0]] + span[3] - threshold
            if gain > best[t]:
                best[t], choice[t] = gain, span
    chosen = []
    t = length
    while t > 0:
        span = choice[t]
        if span is None:
            t -= 1
        else:
            chosen.append(span)
            t = span[0]
    return chosen[::-1]


def spans_to_path(decoder: CRFDecoder, length: int, spans: list[tuple[int, int, str, float]]) -> list[int]:
    """IOB2 tag indices of non-overlapping ``spans`` over ``length`` positions ('O' elsewhere)."""
    labels = decoder.labels
    path = [labels.outside] * length
    for first, last, kind, _ in spans:
        path[first] = labels.begin(kind)
        if last > first:
            inside = labels.inside(kind)
            assert inside is not None, "a multi-word span needs an I- tag"  # span_posteriors never makes one
            path[first + 1:last + 1] = [inside] * (last - first)
    return path


_CRF_KEYS = ("start", "end", "transitions")  # crf.safetensors: pytorch-crf's start/end/transitions, float32


def save_crf(path: str | Path, *, start: np.ndarray, end: np.ndarray, transitions: np.ndarray) -> None:
    """Write the learned CRF scores (unconstrained, as trained) to ``path`` (``crf.safetensors``).

    ``start``, ``end``: (num_tags,); ``transitions``: (num_tags, num_tags), from tag i to tag j.
    """
    from safetensors.numpy import save_file

    scores = {"start": start, "end": end, "transitions": transitions}
    n = np.asarray(start).shape[0] if np.ndim(start) == 1 else -1
    shapes = {k: np.shape(v) for k, v in scores.items()}
    if n < 0 or shapes != {"start": (n,), "end": (n,), "transitions": (n, n)}:
        raise ValueError(f"CRF scores must be (n,), (n,), (n, n); got {shapes}")
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in scores.items()}, str(path))


def load_crf(path: str | Path, tags: Sequence[str]) -> CRFDecoder:
    """The decoder of ``tags`` with the scores in ``path``; ModelError if the file is missing, damaged or of
    another label set."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        scores = load_file(str(path))
        return CRFDecoder.from_scores(list(tags), *(scores[k] for k in _CRF_KEYS))
    except KeyError as exc:
        raise ModelError(f"{path}: no {exc} scores; not a CRF file") from None
    except (OSError, ValueError, SafetensorError) as exc:
        raise ModelError(f"{path}: {exc}") from None


def _logsumexp(x: np.ndarray, *, axis: int) -> np.ndarray:
    """log(sum(exp(x))) along ``axis``, safe for huge values and for -inf entries (not all of them)."""
    top = x.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(x - top).sum(axis=axis)) + np.squeeze(top, axis=axis)
