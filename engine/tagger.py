"""Text -> entities: windows, a model's emission scores, CRF decoding, spans.

The tagger is independent of how emissions are computed: the app and the
trainer's evaluation use :class:`engine.runtime.OnnxEmissions` (the INT8
student as shipped); the trainer plugs its torch models in the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from engine.crf import CRFDecoder
from engine.errors import OperationCancelled
from engine.spans import OUTSIDE, Entity
from engine.text import Word, split_words
from engine.tokenizer import SubwordTokenizer, Window

Progress = Callable[[int, int], None]  # (done, total)
IsCancelled = Callable[[], bool]


class EmissionModel(Protocol):
    def emissions(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """``input_ids``, ``attention_mask``: (batch, seq_len) int64 -> (batch, seq_len, num_tags) float32."""


class Tagger:
    """Finds entities in text with one emission model and one CRF decoder."""

    def __init__(self, tokenizer: SubwordTokenizer, decoder: CRFDecoder, model: EmissionModel,
                 *, batch_size: int = 16, version: str = "") -> None:
        self.tokenizer = tokenizer
        self.decoder = decoder
        self.model = model
        self.batch_size = batch_size
        self.version = version

    @property
    def entity_types(self) -> list[str]:
        kinds = []
        for tag in self.decoder.tags:
            if tag != OUTSIDE and tag[2:] not in kinds:
                kinds.append(tag[2:])
        return kinds

    def tag(self, text: str) -> list[Entity]:
        """Entities of ``text`` with confidences, sorted by start."""
        return self.tag_many([text])[0]

    def tag_many(self, texts: Sequence[str], *, progress: Progress | None = None,
                 cancelled: IsCancelled | None = None) -> list[list[Entity]]:
        words = [split_words(t) for t in texts]
        return self.tag_words(words, progress=progress, cancelled=cancelled)

    def tag_words(self, documents: Sequence[Sequence[Word]], *, progress: Progress | None = None,
                  cancelled: IsCancelled | None = None) -> list[list[Entity]]:
        """Entities for documents whose words are given (e.g. by a data file)."""
        results = []
        for words, emissions in zip(documents, self.word_emissions(documents, progress=progress, cancelled=cancelled)):
            results.append(self._decode(list(words), emissions))
        return results

    def predict_tags(self, documents: Sequence[Sequence[Word]]) -> list[list[str]]:
        """The decoded IOB2 tag of every word (for evaluation)."""
        tags = self.decoder.tags
        return [[tags[i] for i in self.decoder.viterbi(e)] for e in self.word_emissions(documents)]

    def word_emissions(self, documents: Sequence[Sequence[Word]], *, progress: Progress | None = None,
                       cancelled: IsCancelled | None = None) -> list[np.ndarray]:
        """Per-document emission scores at each word's first piece: (num_words, num_tags)."""
        num_tags = self.decoder.num_tags
        out = [np.zeros((len(d), num_tags), dtype=np.float32) for d in documents]
        jobs: list[tuple[int, Window]] = []
        for i, words in enumerate(documents):
            jobs.extend((i, w) for w in self.tokenizer.windows([w.text for w in words]))
        jobs.sort(key=lambda job: len(job[1].input_ids))
        total = len(jobs)
        for b in range(0, total, self.batch_size):
            if cancelled is not None and cancelled():
                raise OperationCancelled()
            batch = jobs[b:b + self.batch_size]
            width = max(len(w.input_ids) for _, w in batch)
            ids = np.full((len(batch), width), self.tokenizer.pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for r, (_, w) in enumerate(batch):
                ids[r, :len(w.input_ids)] = w.input_ids
                mask[r, :len(w.input_ids)] = 1
            scores = self.model.emissions(ids, mask)
            for r, (doc, w) in enumerate(batch):
                a, z = w.owned_first - w.first, w.owned_last - w.first
                out[doc][w.owned_first:w.owned_last] = scores[r, w.word_positions[a:z]]
            if progress is not None:
                progress(min(b + self.batch_size, total), total)
        return out

    def _decode(self, words: list[Word], emissions: np.ndarray) -> list[Entity]:
        if not words:
            return []
        path, spans = self.decoder.decode(emissions)
        entities = []
        for first, last, p in spans:
            label = self.decoder.tags[path[first]][2:]
            entities.append(Entity(words[first].start, words[last].end, label, round(p, 4)))
        return entities
