"""Split raw text into words and punctuation with exact character offsets.

A *word* is a maximal run of letters, combining marks, digits and the
zero-width (non-)joiners that Bangla spelling uses inside words; every other
visible character (punctuation such as the dari ``।``, symbols, emoji) is a
word of its own. Offsets always index the original string, so whatever
normalisation the model sees (:func:`model_form`) never loses the way back.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

ZWNJ, ZWJ = "\u200c", "\u200d"
_INVISIBLE = {ZWNJ, ZWJ, "\u200b", "\ufeff", "\u2060", "\u00ad"}
_DROP_INVISIBLE = str.maketrans(dict.fromkeys(_INVISIBLE))

# Unicode's Bidi_Control characters: invisible, yet they reorder what is shown
# (stored "0.5 g every 12 h" can display as "5.0 g every 21 h"). The text view
# shows each one and exports flag documents holding them. ZWNJ/ZWJ are not
# among them: they are Bangla spelling.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_BIDI_CONTROL = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")


def has_bidi_controls(text: str) -> bool:
    """Whether ``text`` holds a character that can change its displayed order."""
    return _BIDI_CONTROL.search(text) is not None


# what notes are written in: Latin (with its accents), Bengali, general punctuation (ZWJ, dashes, quotes)
_UNEXPECTED_SCRIPT = re.compile("[^\x00-\u024f\u0980-\u09ff\u2000-\u206f\ufeff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SAMPLE = 100_000  # characters from the start and from the middle: enough to tell, cheap for a 100 MB file


def looks_like_notes(text: str, *, expected_share: float) -> bool:
    """Whether decoded bytes read as notes: almost no control characters, and at least ``expected_share`` of the
    characters in the scripts notes use. Any byte soup decodes as UTF-16 (behind a byte-order mark too) into
    CJK-looking nonsense, which would otherwise be stored and tagged as a document."""
    if not text:
        return False
    middle = len(text) // 2
    sample = text[:_SAMPLE] + (text[middle:middle + _SAMPLE] if len(text) > 2 * _SAMPLE else "")
    controls = len(sample) - len(_CONTROL.sub("", sample))
    unexpected = len(sample) - len(_UNEXPECTED_SCRIPT.sub("", sample))
    return controls <= 0.03 * len(sample) and unexpected <= (1 - expected_share) * len(sample)


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a document: ``text == document_text[start:end]``."""

    text: str
    start: int
    end: int


@lru_cache(maxsize=65536)
def _char_class(ch: str) -> str:
    """'w' word character, 'j' joiner, 's' space/invisible, 'p' anything else."""
    if ch in (ZWNJ, ZWJ):
        return "j"
    cat = unicodedata.category(ch)
    if cat[0] in "LMN" or ch == "_":
        return "w"
    if ch.isspace() or ch in _INVISIBLE or cat in ("Cc", "Cf", "Zs", "Zl", "Zp"):
        return "s"
    return "p"


def split_words(text: str) -> list[Word]:
    """Split ``text`` into words and single punctuation characters.

    Digits separated by one ``.`` or ``,`` stay together (``2.5``, ``1,000``);
    a joiner belongs to the word it sits in. Never raises on any string.
    """
    words: list[Word] = []
    n = len(text)
    i = 0
    while i < n:
        cls = _char_class(text[i])
        if cls == "s" or (cls == "j" and not _joins(text, i)):
            i += 1
            continue
        if cls == "p":
            # keep a surrogate-free code point plus its variation selectors together
            j = i + 1
            while j < n and unicodedata.category(text[j]) == "Mn":
                j += 1
            words.append(Word(text[i:j], i, j))
            i = j
            continue
        j = i + 1
        while j < n:
            c = _char_class(text[j])
            if c == "w" or (c == "j" and _joins(text, j)):
                j += 1
            elif (
                text[j] in ".,"
                and j + 1 < n
                and text[j - 1].isdigit()
                and text[j + 1].isdigit()
            ):
                j += 2
            else:
                break
        words.append(Word(text[i:j], i, j))
        i = j
    return words


def _joins(text: str, i: int) -> bool:
    """A joiner counts as part of a word only between two word characters."""
    return (
        0 < i < len(text) - 1
        and _char_class(text[i - 1]) in "wj"
        and _char_class(text[i + 1]) in "wj"
    )


def model_form(word: str) -> str:
    """The form of a word the model sees: NFC, zero-width characters removed.

    Writers type the same Bangla word with and without ZWJ/ZWNJ and with
    precomposed or decomposed nukta letters; the model should see one form.
    Returns ``word`` unchanged if removing them would leave nothing.
    """
    form = unicodedata.normalize("NFC", word)
    stripped = form.translate(_DROP_INVISIBLE)
    return stripped or form


def words_from_tokens(text: str, tokens: list[str]) -> list[Word]:
    """Locate pre-split ``tokens`` (e.g. ``text.split()``) in ``text`` in order.

    Raises ``ValueError`` naming the token that cannot be found.
    """
    words: list[Word] = []
    pos = 0
    for tok in tokens:
        start = text.find(tok, pos)
        if start < 0:
            raise ValueError(f"token {tok!r} not found in text after offset {pos}")
        words.append(Word(tok, start, start + len(tok)))
        pos = start + len(tok)
    return words
