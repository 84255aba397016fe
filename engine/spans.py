"""The one entity type, the one document type, and IOB2 conversions.

An :class:`Entity` is a character span ``[start, end)`` of a document's text
with a type such as ``"Medicine"``. Tags (``B-Medicine``, ``I-Medicine``,
``O``) exist only at the boundary with models and tag-based file formats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.text import Word, split_words

OUTSIDE = "O"
_BAD_TYPE_CHAR = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# Is the finding there for this patient now? (engine/assertion.py decides; docs/assertion-guidelines.md defines)
PRESENT = "present"
ASSERTIONS = (PRESENT, "absent", "possible", "past", "family", "hypothetical")


@dataclass(frozen=True, slots=True)
class Entity:
    """A typed character span; ``confidence`` is the model's, or None if human."""

    start: int
    end: int
    label: str
    confidence: float | None = None
    assertion: str = PRESENT

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"entity span must satisfy 0 <= start < end, got [{self.start}, {self.end})")
        if self.assertion not in ASSERTIONS:
            raise ValueError(f"entity assertion must be one of {', '.join(ASSERTIONS)}; got {self.assertion!r}")
        problem = type_name_problem(self.label)
        if problem:
            raise ValueError(f"entity type {self.label!r} {problem}")

    def overlaps(self, other: Entity) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(slots=True)
class Document:
    """Text with its entities. ``words`` is set when the source fixed the tokens."""

    text: str
    entities: list[Entity] = field(default_factory=list)
    words: list[Word] | None = None
    name: str = ""
    line: int | None = None  # where the document starts in its source file
    # what the file says of its entities: "annotated" (a person's, reviewed), "suggested" (a model's, to review:
    # Label Studio predictions, Prodigy tasks without an answer) or "unannotated" (none: the app's model tags it)
    status: str = "annotated"
    metadata: dict[str, str] = field(default_factory=dict)  # other fields of the record (patient id, date...)
    notes: list[str] = field(default_factory=list)  # what the reader left out of this document, and why

    def tokens(self) -> list[Word]:
        return self.words if self.words is not None else split_words(self.text)


def type_name_problem(label: object) -> str | None:
    """Why ``label`` cannot be an entity type (None if it can): every export and the database must carry it.

    A NUL, tab, newline or ESC would break a CoNLL line or a terminal; a lone surrogate cannot be stored.
    """
    if isinstance(label, str) and label in _FINE_TYPES:
        return None
    if not isinstance(label, str) or not label.strip():
        return "is not a type name"
    if label == OUTSIDE:
        return "is the 'outside' tag, not a type name"
    if label != label.strip():
        return "starts or ends with a space"
    if _BAD_TYPE_CHAR.search(label):
        return "contains a control character or an invalid one"
    if len(_FINE_TYPES) < 10_000:
        _FINE_TYPES.add(label)
    return None


# names found fine: a file of 100,000 entities asks about the same few types, three times per entity
_FINE_TYPES: set[str] = set()


def parse_tag(tag: str) -> tuple[str, str | None]:
    """``'B-Health Condition'`` -> ``('B', 'Health Condition')``; ``'O'`` -> ``('O', None)``."""
    if tag == OUTSIDE:
        return OUTSIDE, None
    if len(tag) > 2 and tag[0] in "BI" and tag[1] == "-":
        problem = type_name_problem(tag[2:])
        if problem:
            raise ValueError(f"not an IOB2 tag: {tag!r} (its entity type {problem})")
        return tag[0], tag[2:]
    raise ValueError(f"not an IOB2 tag: {tag!r} (expected 'O', 'B-<type>' or 'I-<type>')")


def tags_to_entities(words: list[Word], tags: list[str]) -> list[Entity]:
    """Read entities from IOB2 tags; a stray ``I-X`` opens a new entity."""
    if len(words) != len(tags):
        raise ValueError(f"{len(words)} words but {len(tags)} tags")
    entities: list[Entity] = []
    start = end = -1
    label: str | None = None
    for word, tag in zip(words, tags):
        prefix, kind = parse_tag(tag)
        if prefix == "I" and kind == label:
            end = word.end
            continue
        if label is not None:
            entities.append(Entity(start, end, label))
        label = kind
        start, end = word.start, word.end
    if label is not None:
        entities.append(Entity(start, end, label))
    return entities


def entities_to_tags(words: list[Word], entities: list[Entity]) -> list[str]:
    """IOB2 tags for ``words``: a word is inside an entity if it overlaps it."""
    tags = [OUTSIDE] * len(words)
    ordered = sorted(entities, key=lambda e: e.start)
    k = 0
    previous = -1  # index in ``ordered`` of the entity the previous word is in
    for i, word in enumerate(words):
        while k < len(ordered) and ordered[k].end <= word.start:
            k += 1
        if k < len(ordered) and ordered[k].start < word.end:
            tags[i] = ("I-" if previous == k else "B-") + ordered[k].label
            previous = k
        else:
            previous = -1
    return tags


def snap_to_words(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Widen ``[start, end)`` to whole words of ``text``; None if it covers none."""
    covered = [w for w in split_words(text) if w.start < end and start < w.end]
    if not covered:
        return None
    return covered[0].start, covered[-1].end
