"""The pure edit rules: what makes an entity valid in a document, with no database involved.

Snapping a selection to whole words, refusing overlaps, finding the other
occurrences of an entity's words and moving a boundary by one word are plain
functions over the text and its spans, tested without SQLite.
"""

from __future__ import annotations

import unicodedata

from engine.errors import MederError
from engine.spans import Entity, snap_to_words
from engine.text import split_words


class EditRefused(MederError):
    """An edit that would break the document's entities (overlap, outside the text...)."""



def human_row(document_id: int, start: int, end: int, label: str) -> dict:
    if not isinstance(label, str) or not label.strip():
        raise EditRefused("an entity needs a type")
    if label == "O" or label.startswith(("B-", "I-")):
        raise EditRefused(f"{label!r} is a tag, not an entity type")
    return {"document_id": document_id, "start": start, "end": end, "label": label, "source": "human",
            "status": "accepted", "confidence": None, "model_version": ""}


def snap(text: str, start: int, end: int) -> tuple[int, int]:
    """A person's selection as whole words, without punctuation at its ends (a double-click on the last word
    of a Bangla sentence selects its "।" too); punctuation alone stays what was selected."""
    if not 0 <= start < end <= len(text):
        raise EditRefused(f"[{start}, {end}) is not a selection inside the document")
    span = snap_to_words(text, start, end)
    if span is None:
        raise EditRefused("the selection contains no word")
    words = [w for w in split_words(text) if span[0] <= w.start and w.end <= span[1]]
    kept = [w for w in words if not all(unicodedata.category(ch)[0] in "PS" for ch in w.text)]
    return (kept[0].start, kept[-1].end) if kept else span


def check_spans(text: str, entities: list[Entity]) -> None:
    ordered = sorted(entities, key=lambda e: e.start)
    for e in ordered:
        if e.end > len(text):
            raise EditRefused(f"entity [{e.start}, {e.end}) is outside the text")
    for a, b in zip(ordered, ordered[1:]):
        if a.overlaps(b):
            raise EditRefused(f"entities [{a.start}, {a.end}) and [{b.start}, {b.end}) overlap")



def overlapping(spans: list, start: int, end: int, *, ignore: object = None) -> list:
    """The spans (anything with ``start``/``end``) that overlap ``[start, end)``, except ``ignore``."""
    return [s for s in spans if s is not ignore and s.start < end and start < s.end]


def occurrences(text: str, needle: str, taken: list[Entity]) -> list[tuple[int, int]]:
    """Where else ``needle`` stands as whole words in ``text`` without overlapping ``taken`` (nor each other)."""
    words = split_words(text)
    starts, ends = {w.start for w in words}, {w.end for w in words}
    taken = list(taken)
    found, pos = [], text.find(needle) if needle else -1
    while pos >= 0:
        end = pos + len(needle)
        if pos in starts and end in ends and not overlapping(taken, pos, end):
            found.append((pos, end))
            taken.append(Entity(pos, end, "x"))
        pos = text.find(needle, pos + 1)
    return found


NUDGES = ("start_left", "start_right", "end_left", "end_right")


def nudge(text: str, start: int, end: int, which: str) -> tuple[int, int]:
    """Move one boundary of ``[start, end)`` by one word.

    ``which``: "start_left" (grow at the start), "start_right" (shrink at the
    start), "end_left" (shrink at the end) or "end_right" (grow at the end).
    Raises :class:`EditRefused` when there is no word to take or the entity
    would lose its last word.
    """
    if which not in NUDGES:
        raise ValueError(f"which must be one of {NUDGES}, got {which!r}")
    words = split_words(text)
    inside = [w for w in words if start <= w.start and w.end <= end]
    if which == "start_left":
        before = [w for w in words if w.end <= start]
        if not before:
            raise EditRefused("there is no word before this entity")
        return before[-1].start, end
    if which == "end_right":
        after = [w for w in words if w.start >= end]
        if not after:
            raise EditRefused("there is no word after this entity")
        return start, after[0].end
    if len(inside) < 2:
        raise EditRefused("an entity keeps at least one word; delete it instead")
    if which == "start_right":
        return inside[1].start, end
    return start, inside[-2].end
