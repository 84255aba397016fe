"""Text -> entities: windows, a model's emission scores, CRF decoding, spans.

The tagger is independent of how emissions are computed: the app and the
trainer's evaluation use :class:`engine.runtime.OnnxEmissions` (the INT8
student as shipped); the trainer plugs its torch models in the same way.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Protocol

import numpy as np

from engine.assertion import assertions
from engine.assertion_model import AssertionModel
from engine.crf import DECODERS, CRFDecoder, mbr_spans, spans_to_path
from engine.model_config import ModelConfig
from engine.progress import IsCancelled, Progress, check_cancelled
from engine.spans import Entity
from engine.text import Word, split_words
from engine.tokenizer import SubwordTokenizer, Window

_WORDS_PER_UNIT = 200  # decoding this many words costs about what one window's forward pass does
_SHOWN_MARGIN = 30  # words decoded past the part on screen, so the entities ending in it are seen whole


class EmissionModel(Protocol):
    def emissions(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """``input_ids``, ``attention_mask``: (batch, seq_len) int64 -> (batch, seq_len, num_tags) float32."""


class Tagger:
    """Finds entities in text with one emission model and one CRF decoder."""

    def __init__(self, tokenizer: SubwordTokenizer, decoder: CRFDecoder, model: EmissionModel,
                 *, version: str = "", decoding: str = "viterbi", threshold: float = 0.5) -> None:
        if decoding not in DECODERS:
            raise ValueError(f"decoding must be one of {DECODERS}, got {decoding!r}")
        self.tokenizer = tokenizer
        self.decoder = decoder
        self.model = model
        self.version = version
        self.decoding = decoding  # as the model folder's config says (ModelConfig.decoder)
        self.threshold = threshold
        # the model folder's assertion classifier (assertion.json); without one the rules decide alone
        self.assertion_model: AssertionModel | None = None

    @classmethod
    def from_config(cls, config: ModelConfig, tokenizer: SubwordTokenizer, decoder: CRFDecoder,
                    model: EmissionModel) -> Tagger:
        """A tagger that decodes as ``config`` says (decoder, threshold, confidence temperature) and carries its
        version."""
        decoder = decoder.with_temperature(config.confidence_temperature)
        return cls(tokenizer, decoder, model, version=config.version, decoding=config.decoder,
                   threshold=config.decoder_threshold)

    @property
    def entity_types(self) -> list[str]:
        return self.decoder.labels.entity_types

    def tag(self, text: str) -> list[Entity]:
        """Entities of ``text`` with confidences, sorted by start."""
        return self.tag_many([text])[0]

    def tag_many(self, texts: Sequence[str], *, progress: Progress | None = None,
                 cancelled: IsCancelled | None = None) -> list[list[Entity]]:
        """Entities of each text, each with its assertion (absent, possible...): see :meth:`assertions`."""
        words = [split_words(t) for t in texts]
        found = self.tag_words(words, progress=progress, cancelled=cancelled)
        # every path from text to suggestions (import, paste, re-tag, extract) passes here, so it is done once
        return [self._asserted(text, entities) for text, entities in zip(texts, found)]

    def tag_shown_first(self, text: str, shown: int, *, on_shown: Callable[[list[Entity]], None],
                        progress: Progress | None = None, cancelled: IsCancelled | None = None) -> list[Entity]:
        """The entities :meth:`tag` finds in ``text``; on the way, ``on_shown`` gets those ending by character
        ``shown`` (the part on screen) as soon as the windows covering it went through the model.

        A window's scores never depend on the others (:meth:`_word_emissions`), so the shown part's scores are
        the final ones and no window runs twice; only the decoding near the part's end may change once the
        rest is known. ``progress(done, total)`` counts windows.
        """
        words = split_words(text)
        jobs = [(0, w) for w in self.tokenizer.windows([w.text for w in words])]
        out = [np.zeros((len(words), self.decoder.num_tags), dtype=np.float32)]
        need = bisect_left([w.start for w in words], shown) + _SHOWN_MARGIN
        early = next((k + 1 for k, (_, w) in enumerate(jobs) if w.owned_last >= need), len(jobs))
        if early < len(jobs):
            self._run_windows(jobs[:early], out, progress=progress, cancelled=cancelled, total=len(jobs))
            part = words[:jobs[early - 1][1].owned_last]
            found = [e for e in self._decode(part, out[0][:len(part)], cancelled=cancelled) if e.end <= shown]
            on_shown(self._asserted(text, found))
        self._run_windows(jobs[early:] if early < len(jobs) else jobs, out, progress=progress, cancelled=cancelled,
                          total=len(jobs), before=early if early < len(jobs) else 0)
        check_cancelled(cancelled)
        found = self._decode(words, out[0], cancelled=cancelled)
        return self._asserted(text, found)

    def _asserted(self, text: str, entities: Sequence[Entity]) -> list[Entity]:
        return [replace(e, assertion=a) for e, a in zip(entities, self.assertions(text, entities))]

    def assertions(self, text: str, entities: Sequence[Entity]) -> list[str]:
        """The assertion of each entity of ``text`` (in their order), as this model folder decides it.

        The one judge for every path: suggestions, an entity added by hand, a resize or a relabel.
        """
        return assertions(text, entities, model=self.assertion_model)

    def tag_words(self, documents: Sequence[Sequence[Word]], *, progress: Progress | None = None,
                  cancelled: IsCancelled | None = None) -> list[list[Entity]]:
        """Entities for documents whose words are given (e.g. by a data file).

        ``progress(done, total)`` counts windows through the model and then the
        decoding (in window-sized units), so one long document moves the bar too;
        ``cancelled()`` is checked between windows and every few hundred words.
        """
        units = [-(-len(words) // _WORDS_PER_UNIT) for words in documents]
        decode_total = sum(units)
        done, total = 0, decode_total

        def emitted(d: int, t: int) -> None:
            nonlocal done, total
            done, total = d, t + decode_total
            if progress is not None:
                progress(done, total)

        emissions = self._word_emissions(documents, progress=emitted, cancelled=cancelled)
        results = []
        for words, scores, share in zip(documents, emissions, units):
            first = done

            def decoding(d: int, t: int, first: int = first, share: int = share) -> None:
                if progress is not None:
                    progress(first + share * d // max(t, 1), total)

            check_cancelled(cancelled)
            results.append(self._decode(list(words), scores, progress=decoding, cancelled=cancelled))
            done = first + share
        return results

    def predict_tags(self, documents: Sequence[Sequence[Word]]) -> list[list[str]]:
        """The decoded IOB2 tag of every word (for evaluation)."""
        tags = self.decoder.tags
        return [[tags[i] for i in self.path(e)] for e in self.word_emissions(documents)]

    def path(self, emissions: np.ndarray) -> list[int]:
        """Tag indices of one document's (num_words, num_tags) emissions, by this tagger's decoding."""
        if self.decoding == "mbr":
            spans = mbr_spans(self.decoder, emissions, threshold=self.threshold)
            return spans_to_path(self.decoder, len(emissions), spans)
        return self.decoder.viterbi(emissions)

    def word_emissions(self, documents: Sequence[Sequence[Word]], *, progress: Progress | None = None,
                       cancelled: IsCancelled | None = None) -> list[np.ndarray]:
        """Per-document emission scores at each word's first piece: (num_words, num_tags).

        ``progress(done, total)`` counts windows through the model.
        """
        return self._word_emissions(documents, progress=progress, cancelled=cancelled)

    def _word_emissions(self, documents: Sequence[Sequence[Word]], *, progress: Progress | None,
                        cancelled: IsCancelled | None) -> list[np.ndarray]:
        """Each window through the model on its own: shape (1, pieces), no padding, no neighbours.

        The INT8 student quantizes activations with one scale per call (ONNX Runtime's dynamic
        quantization), so in a batch a note's entities moved with its neighbours and their padding (36 to 43
        of 300 held-out notes, issue 21). One window per call gives a note the same entities on every path
        (paste, import, re-tag, extract, evaluate) and at any thread count; what it costs in notes/s is in
        the model card (*Same note, same entities*).
        """
        num_tags = self.decoder.num_tags
        out = [np.zeros((len(d), num_tags), dtype=np.float32) for d in documents]
        jobs: list[tuple[int, Window]] = []
        for i, words in enumerate(documents):
            check_cancelled(cancelled)  # splitting a pasted book into windows takes seconds
            jobs.extend((i, w) for w in self.tokenizer.windows([w.text for w in words]))
        self._run_windows(jobs, out, progress=progress, cancelled=cancelled, total=len(jobs))
        return out

    def _run_windows(self, jobs: Sequence[tuple[int, Window]], out: list[np.ndarray], *, progress: Progress | None,
                     cancelled: IsCancelled | None, total: int, before: int = 0) -> None:
        """Scores of each (document, window) into ``out[document]``, at the words the window owns.

        A model with ``parallel_calls`` > 1 (engine.runtime.OnnxEmissions) gets that many windows at once;
        each window's scores are the same either way.
        """
        def scores(w: Window) -> np.ndarray:
            ids = np.array([w.input_ids], dtype=np.int64)  # shape: (1, pieces)
            return self.model.emissions(ids, np.ones_like(ids))[0]

        parallel = min(getattr(self.model, "parallel_calls", 1), len(jobs))
        pool = ThreadPoolExecutor(parallel) if parallel > 1 else None
        results = [pool.submit(scores, w) for _, w in jobs] if pool is not None else None
        try:
            for k, (doc, w) in enumerate(jobs):
                check_cancelled(cancelled)
                emitted = results[k].result() if results is not None else scores(w)
                a, z = w.owned_first - w.first, w.owned_last - w.first
                out[doc][w.owned_first:w.owned_last] = emitted[w.word_positions[a:z]]
                if progress is not None:
                    progress(before + k + 1, total)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    def _decode(self, words: list[Word], emissions: np.ndarray, *, progress: Progress | None = None,
                cancelled: IsCancelled | None = None) -> list[Entity]:
        if not words:
            return []
        if self.decoding == "mbr":  # each span's confidence is its exact posterior
            spans = mbr_spans(self.decoder, emissions, threshold=self.threshold, progress=progress,
                              cancelled=cancelled)
            return [Entity(words[first].start, words[last].end, kind, round(p, 4)) for first, last, kind, p in spans]
        path, spans = self.decoder.decode(emissions, progress=progress, cancelled=cancelled)
        labels = self.decoder.labels
        return [Entity(words[first].start, words[last].end, labels.entity_type(path[first]), round(p, 4))
                for first, last, p in spans]
