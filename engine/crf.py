"""CRF decoding in numpy: constrained Viterbi and exact span confidences.

Parameters follow pytorch-crf's layout so a trained torch CRF exports as is:
``start`` (num_tags,), ``end`` (num_tags,), ``transitions`` (num_tags, num_tags)
with ``transitions[i, j]`` the score of moving from tag ``i`` to tag ``j``.
IOB2 validity is enforced here: ``I-X`` may only follow ``B-X`` or ``I-X`` and
never starts a sequence, whatever the learned scores say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from engine.spans import parse_tag

_FORBIDDEN = -1.0e4  # finite, so log-sum-exp never meets inf - inf
_RESCALE = 4  # forward-backward renormalises every few steps (see forward_backward)
_MAX_SHRINK = 300.0  # ... or sooner, before values could fall below exp(-700)


@dataclass(frozen=True)
class CRFDecoder:
    """A linear-chain CRF over ``tags`` with IOB2 constraints baked in."""

    tags: tuple[str, ...]
    start: np.ndarray  # shape: (num_tags,)
    end: np.ndarray  # shape: (num_tags,)
    transitions: np.ndarray  # shape: (num_tags, num_tags)

    @classmethod
    def from_scores(cls, tags: list[str], start, end, transitions) -> CRFDecoder:
        n = len(tags)
        start = np.asarray(start, dtype=np.float64)
        end = np.asarray(end, dtype=np.float64)
        transitions = np.asarray(transitions, dtype=np.float64)
        if start.shape != (n,) or end.shape != (n,) or transitions.shape != (n, n):
            raise ValueError(
                f"CRF shapes do not match {n} tags: start {start.shape}, end {end.shape}, "
                f"transitions {transitions.shape}"
            )
        allowed_start, allowed = iob2_constraints(tags)
        return cls(
            tuple(tags),
            np.where(allowed_start, start, _FORBIDDEN),
            end.copy(),
            np.where(allowed, transitions, _FORBIDDEN),
        )

    @property
    def num_tags(self) -> int:
        return len(self.tags)

    def _check(self, emissions: np.ndarray) -> np.ndarray:
        emissions = np.asarray(emissions, dtype=np.float64)
        if emissions.ndim != 2 or emissions.shape[1] != self.num_tags:
            raise ValueError(f"emissions must have shape (seq_len, {self.num_tags}), got {emissions.shape}")
        return emissions

    @cached_property
    def _into(self) -> np.ndarray:
        """Transitions as (to, from), so each Viterbi step reduces along contiguous memory."""
        return np.ascontiguousarray(self.transitions.T)

    @cached_property
    def _scaled(self) -> tuple[float, np.ndarray, float]:
        """``top``, ``exp(transitions - top)`` and the widest allowed transition range, for forward-backward."""
        top = float(self.transitions.max())
        allowed = self.transitions[self.transitions > _FORBIDDEN / 2]
        return top, np.exp(self.transitions - top), top - float(allowed.min())

    def viterbi(self, emissions: np.ndarray) -> list[int]:
        """Best tag index per position. ``emissions``: (seq_len, num_tags)."""
        return self._viterbi(self._check(emissions))

    def decode(self, emissions: np.ndarray) -> tuple[list[int], list[tuple[int, int, float]]]:
        """:meth:`viterbi` and :meth:`span_confidences` of that path in one call (validates once)."""
        emissions = self._check(emissions)
        path = self._viterbi(emissions)
        return path, self._span_confidences(emissions, path)

    def _viterbi(self, emissions: np.ndarray) -> list[int]:
        length = emissions.shape[0]
        if length == 0:
            return []
        # candidates[t - 1, to, from]: transitions plus the emission at t, built for all t at once; each
        # step then adds the previous scores in place and keeps the best `from` per `to`
        candidates = self._into + emissions[1:, :, None]  # (seq_len - 1, to, from)
        flat = candidates.reshape(length - 1, self.num_tags * self.num_tags)
        row_start = np.arange(self.num_tags) * self.num_tags
        history = np.empty((length - 1, self.num_tags), dtype=np.intp)
        score = self.start + emissions[0]  # shape: (num_tags,)
        for t in range(length - 1):
            step = candidates[t]
            step += score
            best = step.argmax(axis=1)
            history[t] = best
            score = flat[t][row_start + best]
        back = history.tolist()
        tag = int((score + self.end).argmax())
        path = [tag]
        for t in range(length - 2, -1, -1):
            tag = back[t][tag]
            path.append(tag)
        return path[::-1]

    def forward_backward(self, emissions: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Log-space ``alpha``, ``beta`` (both (seq_len, num_tags)) and ``log Z``.

        ``alpha[t, y]`` scores all prefixes ending in ``y`` at ``t`` (emission at
        ``t`` included); ``beta[t, y]`` all suffixes after ``t`` (end score included).
        Computed in scaled probability space (matrix-vector products, with a
        normaliser now and then), which is exact and several times faster than
        log-sum-exp at each step.
        """
        return self._forward_backward(self._check(emissions))

    def _forward_backward(self, emissions: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        length = emissions.shape[0]
        if length == 0:
            return np.empty_like(emissions), np.empty_like(emissions), 0.0
        top, trans, trans_range = self._scaled
        shift = emissions.max(axis=1)
        emit = np.exp(emissions - shift[:, None])  # (seq_len, num_tags), each row's max is 1
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
        # step[t - 1] = exp(transitions) scaled by the emissions at t: one matrix-vector product per word
        step = trans * emit[1:, None, :]  # (seq_len - 1, from, to)
        a = alpha_p[0]
        np.multiply(np.exp(self.start - start_max), emit[0], out=a)
        extra = budget = 0.0
        for t in range(length):
            if t:
                np.dot(a, step[t - 1], out=alpha_p[t])
                a = alpha_p[t]
            budget += shrink[t]
            if t % _RESCALE == 0 or budget > _MAX_SHRINK:
                budget = 0.0
                total = float(a.sum())
                a /= total
                extra += math.log(total)
            alpha_extra[t] = extra
        b = beta_p[length - 1]
        b[:] = end_p
        extra, budget = float(end_max), 0.0
        for t in range(length - 1, -1, -1):
            if t < length - 1:
                np.dot(step[t], b, out=beta_p[t])
                b = beta_p[t]
                extra += top + shift[t + 1]
                budget += shrink[t + 1]
            if t % _RESCALE == 0 or budget > _MAX_SHRINK:
                budget = 0.0
                total = float(b.sum())
                b /= total
                extra += math.log(total)
            beta_extra[t] = extra
        alpha_scale = shift.cumsum() + top * np.arange(length) + start_max + np.array(alpha_extra)
        with np.errstate(divide="ignore"):
            alpha = np.log(alpha_p) + alpha_scale[:, None]
            beta = np.log(beta_p) + np.array(beta_extra)[:, None]
        log_z = float(np.log(alpha_p[-1] @ end_p) + alpha_scale[-1] + end_max)
        return alpha, beta, log_z

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

    def _span_confidences(self, emissions: np.ndarray, path: list[int]) -> list[tuple[int, int, float]]:
        alpha, beta, log_z = self._forward_backward(emissions)
        spans = []
        length = len(path)
        t = 0
        while t < length:
            prefix, kind = parse_tag(self.tags[path[t]])
            if prefix != "B":
                t += 1
                continue
            first = t
            score = alpha[t, path[t]]
            while t + 1 < length and self.tags[path[t + 1]] == f"I-{kind}":
                score += self.transitions[path[t], path[t + 1]] + emissions[t + 1, path[t + 1]]
                t += 1
            p = np.exp(score + beta[t, path[t]] - log_z)
            inside = self.tags.index(f"I-{kind}") if f"I-{kind}" in self.tags else None
            if inside is not None and t + 1 < length:
                longer = score + self.transitions[path[t], inside] + emissions[t + 1, inside] + beta[t + 1, inside]
                p -= np.exp(longer - log_z)
            spans.append((first, t, float(min(1.0, max(0.0, p)))))
            t += 1
        return spans


def iob2_constraints(tags: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks: which tags may start a sequence, and which may follow which."""
    parsed = [parse_tag(t) for t in tags]
    allowed_start = np.array([p != "I" for p, _ in parsed])
    allowed = np.ones((len(tags), len(tags)), dtype=bool)
    for j, (pj, kj) in enumerate(parsed):
        if pj == "I":
            for i, (_, ki) in enumerate(parsed):
                allowed[i, j] = ki == kj
    return allowed_start, allowed

