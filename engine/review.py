"""The review order: the document list as the user sees it (sorted and filtered), and where "next" goes.

The window shows :func:`visible` and every navigation key (mark reviewed and
go on, next/previous unreviewed) follows :func:`neighbour` over that same list,
wrapping around, so the keys never skip what a sort put first nor open what a
filter hides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.storage import StoredDocument, StoredEntity


def review_status(entity: StoredEntity) -> str:
    """What the user sees: a suggestion still to review, one they accepted, or one a person made (the entity
    table and the Excel export use these words)."""
    if entity.source == "human":
        return "manual"
    return "accepted" if entity.status == "accepted" else "suggested"


SORTS = ("created", "title", "confidence", "status", "entities")
STATUSES = ("all", "unreviewed", "reviewed")


def confidence(doc: StoredDocument) -> float:
    """A document's confidence: its least confident entity (1.0 when the model suggested nothing)."""
    return 1.0 if doc.min_confidence is None else doc.min_confidence


@dataclass(frozen=True)
class ListView:
    """How the list is sorted and filtered. ``descending`` reverses the sort column's natural order."""

    sort: str = "created"
    descending: bool = True
    status: str = "all"  # "all" | "unreviewed" | "reviewed"
    label: str | None = None  # only documents holding an entity of this type

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"sort must be one of {SORTS}, got {self.sort!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


LEAST_CONFIDENT_FIRST = ListView(sort="confidence", descending=False)


def _key(doc: StoredDocument, sort: str) -> tuple:
    if sort == "title":
        return (doc.title.casefold(), doc.id)
    if sort == "confidence":  # unreviewed first: what is still to check comes before what is done
        return (doc.reviewed, confidence(doc), doc.id)
    if sort == "status":
        return (doc.reviewed, doc.id)
    if sort == "entities":
        return (doc.entity_count, doc.id)
    return (doc.id,)


def _shown(doc: StoredDocument, view: ListView) -> bool:
    return ((view.status == "all" or doc.reviewed == (view.status == "reviewed"))
            and (view.label is None or view.label in doc.labels))


def keeps_place(before: StoredDocument, after: StoredDocument, view: ListView) -> bool:
    """Whether an edited document stays where it was in the list (same filter result, same sort key), so the
    list can take it in place instead of being sorted again."""
    return _shown(before, view) == _shown(after, view) and _key(before, view.sort) == _key(after, view.sort)


def visible(documents: Sequence[StoredDocument], view: ListView) -> list[StoredDocument]:
    """The documents the list shows, in the order it shows them."""
    kept = [d for d in documents if _shown(d, view)]
    return sorted(kept, key=lambda d: _key(d, view.sort), reverse=view.descending)


def neighbour(shown: Sequence[StoredDocument], current: int | None, *, backwards: bool = False,
              unreviewed_only: bool = True) -> int | None:
    """The next (or previous) document after ``current`` in ``shown``, wrapping around; None if there is none.

    ``current`` itself is never the answer (it may have just been reviewed); when it
    is not in ``shown`` (filtered out, deleted), the search starts from the top.
    """
    ids = [d.id for d in shown]
    candidates = [d.id for d in shown if not (unreviewed_only and d.reviewed) and d.id != current]
    if not candidates:
        return None
    if current not in ids:
        return candidates[-1] if backwards else candidates[0]
    here = ids.index(current)
    n = len(ids)
    steps = range(1, n) if not backwards else range(-1, -n, -1)
    allowed = set(candidates)
    for step in steps:
        candidate = ids[(here + step) % n]
        if candidate in allowed:
            return candidate
    return None
