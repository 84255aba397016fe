"""The one tokenizer path: words -> subword pieces -> model windows.

Wraps a Hugging Face ``tokenizers`` Unigram tokenizer (no transformers, no
torch). Each word is encoded on its own (``is_pretokenized``), so a word's
pieces never straddle two words and the model's label for a word is read at
its first piece. Long documents are cut into overlapping windows at word
boundaries; each word is *owned* by the window where it has the most context.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from engine.text import model_form

MAX_PIECES_PER_WORD = 16  # longer "words" are URLs or noise; the first pieces suffice
_CACHE_WORDS = 200_000  # distinct words remembered (a few tens of MB at most)


@dataclass(frozen=True, slots=True)
class Window:
    """One model input: ``input_ids`` = [CLS] pieces of words[first:last] [SEP].

    ``word_positions[k]`` is the index in ``input_ids`` of the first piece of
    word ``first + k``; this window's prediction is used for words
    ``owned_first <= i < owned_last``.
    """

    input_ids: list[int]
    word_positions: list[int]
    first: int
    last: int
    owned_first: int
    owned_last: int


class SubwordTokenizer:
    """Turns words into model windows of at most ``max_length`` pieces."""

    def __init__(self, tokenizer: Tokenizer, *, max_length: int = 256, overlap: int = 32) -> None:
        if max_length < 8:
            raise ValueError(f"max_length must be at least 8, got {max_length}")
        self._tok = tokenizer
        self.max_length = max_length
        self.overlap = min(overlap, (max_length - 2) // 2)
        vocab = tokenizer.get_vocab()
        missing = [t for t in ("<s>", "</s>", "<pad>", "<unk>") if t not in vocab]
        if missing:
            raise ValueError(f"tokenizer lacks special tokens {missing}")
        self.cls_id, self.sep_id = vocab["<s>"], vocab["</s>"]
        self.pad_id, self.unk_id = vocab["<pad>"], vocab["<unk>"]
        self._cache: dict[str, tuple[int, ...]] = {}

    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> SubwordTokenizer:
        return cls(Tokenizer.from_file(str(path)), **kwargs)

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def pieces(self, words: list[str]) -> list[tuple[int, ...]]:
        """Piece ids of each word (at least one: ``<unk>`` if it has none).

        A word's pieces do not depend on its neighbours (each is encoded on its
        own), so they are cached by word: clinical text repeats its vocabulary,
        and the cache takes the tokenizer call off most of a note's words.
        """
        cache = self._cache
        out = [cache.get(w) for w in words]
        missing = [i for i, p in enumerate(out) if p is None]
        if not missing:
            return out  # type: ignore[return-value]
        enc = self._tok.encode([model_form(words[i]) for i in missing], is_pretokenized=True,
                               add_special_tokens=False)
        fresh: list[list[int]] = [[] for _ in missing]
        for piece, k in zip(enc.ids, enc.word_ids):
            if k is not None:
                fresh[k].append(piece)
        if len(cache) + len(missing) > _CACHE_WORDS:
            cache.clear()
        cap = min(MAX_PIECES_PER_WORD, self.max_length - 2)
        for i, ids in zip(missing, fresh):
            out[i] = cache[words[i]] = tuple(ids[:cap]) or (self.unk_id,)
        return out  # type: ignore[return-value]

    def windows(self, words: list[str]) -> list[Window]:
        """Cover all ``words`` with overlapping windows; empty input gives none."""
        pieces = self.pieces(words)
        budget = self.max_length - 2
        spans: list[tuple[int, int]] = []
        start = 0
        while start < len(pieces):
            end, used = start, 0
            while end < len(pieces) and used + len(pieces[end]) <= budget:
                used += len(pieces[end])
                end += 1
            spans.append((start, end))
            if end == len(pieces):
                break
            # step back so the next window re-reads about `overlap` pieces
            nxt, back = end, 0
            while nxt - 1 > start + 1 and back + len(pieces[nxt - 1]) <= self.overlap:
                nxt -= 1
                back += len(pieces[nxt])
            start = nxt
        result = []
        for k, (first, last) in enumerate(spans):
            owned_first = first if k == 0 else (first + spans[k - 1][1] + 1) // 2
            owned_last = last if k == len(spans) - 1 else (spans[k + 1][0] + last + 1) // 2
            ids, positions = [self.cls_id], []
            for p in pieces[first:last]:
                positions.append(len(ids))
                ids.extend(p)
            ids.append(self.sep_id)
            result.append(Window(ids, positions, first, last, owned_first, owned_last))
        return result
