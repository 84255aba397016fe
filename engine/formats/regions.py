"""Character spans from files: offsets checked and converted, overlaps resolved with a note.

Browser tools (Label Studio, doccano) count offsets in UTF-16 code units, as JavaScript strings do, so each
character outside the Basic Multilingual Plane (an emoji) before a span shifts it by one against Python's
code points. :func:`place` converts them, and checks the result against the text the file states.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from pathlib import Path

from engine.errors import FormatError
from engine.spans import Entity, type_name_problem

_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


def _by_identity(compute):
    """``compute(text)`` remembered for the last few text objects, found by identity: asked once per entity about
    the same note, it runs once per note (an import or export of a 1,000,000-character note with 125,000 entities
    stays linear). Not functools.lru_cache: an equal text that is another object (the note exported, then
    imported) would be compared character by character on every call."""
    recent: list[tuple[str, object]] = []

    def cached(text: str):
        for seen, value in recent:
            if seen is text:
                return value
        value = compute(text)
        recent[:] = [(text, value), *recent[:3]]
        return value

    cached.__doc__ = compute.__doc__
    return cached


@_by_identity
def has_astral(text: str) -> bool:
    return _ASTRAL.search(text) is not None


@_by_identity
def utf16_offsets(text: str) -> Sequence[int]:
    """``out[i]`` is the UTF-16 offset of code point ``i`` (and ``out[len(text)]`` the length)."""
    out, pos = [], 0
    for ch in text:
        out.append(pos)
        pos += 2 if ord(ch) > 0xFFFF else 1
    out.append(pos)
    return tuple(out)


def to_utf16(text: str, start: int, end: int) -> tuple[int, int]:
    """Code-point span -> UTF-16 span (what browser tools read)."""
    if not has_astral(text):
        return start, end
    table = utf16_offsets(text)
    return table[start], table[end]


def _from_utf16(table: Sequence[int], offset: int) -> int | None:
    i = bisect_left(table, offset)
    return i if i < len(table) and table[i] == offset else None


def check_type(label: object, path: str | Path, line: int | None) -> str:
    problem = type_name_problem(label)
    if problem is None and isinstance(label, str) and label.startswith(("B-", "I-")):
        problem = "is a tag, not a type name"
    if problem:
        raise FormatError(path, f"entity type must be a type name such as 'Medicine', got {label!r} ({problem})", line)
    return label  # type: ignore[return-value]


def place(text: str, start: object, end: object, label: object, *, stated: object = None, utf16: bool,
          path: str | Path, line: int | None, confidence: float | None = None) -> Entity:
    """The entity ``[start, end)`` of ``text``, offsets converted from UTF-16 where ``utf16``.

    With ``stated`` (the span's text as the file repeats it), offsets that point elsewhere are tried the
    other way (code points vs UTF-16) before the region is refused: a shifted span would be a wrong entity.
    """
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)):  # True is an int to Python
        raise FormatError(path, f"span offsets must be whole numbers, got [{start!r}, {end!r}]", line)
    label = check_type(label, path, line)
    candidates = [(start, end)]
    if has_astral(text):
        table = utf16_offsets(text)
        converted = (_from_utf16(table, start), _from_utf16(table, end))
        if None not in converted and converted != (start, end):
            candidates.insert(0 if utf16 else 1, converted)
    want = stated.strip() if isinstance(stated, str) else None
    for s, e in candidates:
        if 0 <= s < e <= len(text) and (want is None or text[s:e].strip() == want):
            return Entity(s, e, label, confidence)
    s, e = candidates[0]
    if not 0 <= start < end:
        raise FormatError(path, f"span [{start}, {end}) is empty or reversed", line)
    if want is not None and 0 <= s < e <= len(text):
        raise FormatError(path, f"span [{start}, {end}) ({label}) is {text[s:e]!r} in the text, but the file says "
                                f"{stated!r}", line)
    raise FormatError(path, f"span [{start}, {end}) is outside the text (length {len(text)})", line)


def describe(text: str, e: Entity) -> str:
    shown = text[e.start:e.end]
    return f"[{e.start}, {e.end}) {shown[:40]!r}{'…' if len(shown) > 40 else ''} ({e.label})"


def keep_fitting(text: str, entities: list[Entity], *, where: str) -> tuple[list[Entity], list[str]]:
    """Entities in file order, each kept unless it overlaps one kept before (doccano's rule), with notes.

    An exact duplicate (same span and type) is merged; anything else that overlaps is left out and said so.
    """
    kept: list[Entity] = []  # in order of start; kept entities never overlap, so their ends are in order too
    starts: list[int] = []
    notes: list[str] = []
    duplicates = 0
    for e in entities:
        at = bisect_right(starts, e.start)  # only the neighbours can overlap: a search, not a scan (linear import)
        clash = next((k for k in kept[max(at - 1, 0):at + 1] if k.overlaps(e)), None)
        if clash is None:
            kept.insert(at, e)
            starts.insert(at, e.start)
        elif (clash.start, clash.end, clash.label) == (e.start, e.end, e.label):
            duplicates += 1
        else:
            notes.append(f"{where}: entity {describe(text, e)} overlaps {describe(text, clash)}; the first was kept, "
                         "this one not imported")
    if duplicates:
        notes.append(f"{where}: {duplicates} duplicated entit{'y' if duplicates == 1 else 'ies'} merged")
    return kept, notes
