"""Trim the 250k-piece multilingual vocabulary to what Bangla clinical text needs.

96M of e5-small's 117M parameters are its embedding table. We keep: the
special tokens; every piece with Bengali script; every single character of
Bengali, Latin, digits, punctuation and symbols (so no new ``<unk>`` appears);
every piece the training text uses; and the most frequent Latin pieces (by
the Unigram model's own log-probabilities). The tokenizer is rebuilt over the
kept pieces, so segmentation changes only where a dropped piece was used.
"""

from __future__ import annotations

import copy
import unicodedata
from collections.abc import Iterable

from tokenizers import Tokenizer

from engine.text import model_form

METASPACE = "\u2581"


def _is_bengali(ch: str) -> bool:
    return "\u0980" <= ch <= "\u09ff"


def _is_latin_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha() or ("\u00c0" <= ch <= "\u024f" and ch.isalpha())


def _single_char_kept(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return _is_bengali(ch) or _is_latin_letter(ch) or cat[0] in "PSN" and (ch.isascii() or cat[0] != "N" or ch.isdigit())


def select_pieces(vocab: list[tuple[str, float]], seen: Iterable[int], *, latin_pieces: int = 8000) -> list[int]:
    """Ids of the pieces to keep, ascending; ids 0-3 (specials) always first."""
    keep = set(range(4)) | set(seen)
    latin = []
    for i, (piece, score) in enumerate(vocab):
        body = piece.replace(METASPACE, "")
        if piece == METASPACE or any(_is_bengali(c) for c in body):
            keep.add(i)
        elif len(body) == 1 and _single_char_kept(body):
            keep.add(i)
        elif body and all(c.isascii() and c.isalnum() for c in body):
            latin.append((score, i))
    latin.sort(reverse=True)
    keep.update(i for _, i in latin[:latin_pieces])
    return sorted(i for i in keep if i < len(vocab))


def trimmed_tokenizer_json(tokenizer_json: dict, keep: list[int]) -> dict:
    """A tokenizer.json whose Unigram vocabulary is ``keep`` (in that order)."""
    out = copy.deepcopy(tokenizer_json)
    vocab = tokenizer_json["model"]["vocab"]
    remap = {old: new for new, old in enumerate(keep)}
    out["model"]["vocab"] = [vocab[i] for i in keep]
    out["model"]["unk_id"] = remap[tokenizer_json["model"]["unk_id"]]
    out["added_tokens"] = [dict(t, id=remap[t["id"]]) for t in tokenizer_json["added_tokens"] if t["id"] in remap]
    for special in out["post_processor"].get("special_tokens", {}).values():
        special["ids"] = [remap[i] for i in special["ids"]]
    return out


def seen_piece_ids(tokenizer: Tokenizer, words: Iterable[str]) -> set[int]:
    """Piece ids the full tokenizer uses for these words."""
    batch = [[model_form(w)] for w in words]
    seen: set[int] = set()
    for enc in tokenizer.encode_batch(batch, is_pretokenized=True, add_special_tokens=False):
        seen.update(enc.ids)
    return seen


def unchanged_share(full: Tokenizer, trimmed: Tokenizer, words: list[str]) -> float:
    """Share of ``words`` segmented into exactly the same pieces by both tokenizers."""
    if not words:
        return 1.0
    batch = [[model_form(w)] for w in words]
    a = full.encode_batch(batch, is_pretokenized=True, add_special_tokens=False)
    b = trimmed.encode_batch(batch, is_pretokenized=True, add_special_tokens=False)
    return sum(x.tokens == y.tokens for x, y in zip(a, b)) / len(words)
