"""Review effort: the app's own actions a reviewer needs to turn a model's suggestions into the right entities.

Counted in the key map's actions (:mod:`engine.keymap`) plus the two mouse gestures the text view offers, a
click on an entity and a drag over words (the selection snaps to whole words, so one drag selects an entity's
words). Per error kind of a gold entity (the kinds of ``trainer.metrics.error_breakdown``):

- **exact**: 0. Mark reviewed (Ctrl+Enter) accepts what is shown, once per document whatever the suggestions.
- **wrong type**: select the entity (a click, or N / P) and press the type's number key: 2, plus the
  boundary fix below when its words differ as well.
- **boundary**: select it (1), then the cheaper of one boundary key per word its start and end are off
  ([ ] , . or Alt+arrows: grow or shrink by one word) and selecting the right words and pressing Ctrl+R (2).
- **missed**: select its words (a drag) and press the type's number key: 2. Finding it in unhighlighted text
  is reading, not an action; the share of missed entities is reported beside the effort for that reason.
- **spurious** (a suggestion overlapping no gold entity): select it and press Delete / X: 2.

A suggestion that overlaps a gold entity which another suggestion is already fixed into is deleted (2) and
counted with that entity's kind; a gold entity whose overlapping suggestions were all used for other entities
is added as a missed one would be (2). Everything is over word indices, ``[start, end)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from engine.keymap import keys_for
from engine.spans import Entity

KINDS = ("exact", "boundary", "wrong_type", "missed", "spurious")  # as trainer.metrics.ERROR_KINDS

CLICK, DRAG = "click", "drag"  # the mouse: select an entity; select words
# Each correction as the app's actions (key-map names, or the mouse gestures above). Checked against the key
# map at import, so a renamed or removed key cannot leave this measure counting a key the app lacks.
SELECT_ENTITY = (CLICK,)  # or "next_entity" / "previous_entity" (N / P): one action either way
RELABEL = (*SELECT_ENTITY, "label")
DELETE = (*SELECT_ENTITY, "delete")
ADD = (DRAG, "label")
RESIZE = (DRAG, "resize")  # selecting the right words, then Ctrl+R
NUDGES = ("start_left", "start_right", "end_left", "end_right")  # one word at a time

for _action in {*RELABEL, *DELETE, *ADD, *RESIZE, *NUDGES} - {CLICK, DRAG}:
    keys_for(_action)  # KeyError: the key map no longer has it


@dataclass
class ReviewEffort:
    """Actions per error kind and gold entities per kind, summed over documents (see the module's rules)."""

    actions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    entities: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))  # spurious: predictions

    @property
    def gold(self) -> int:
        return sum(self.entities[k] for k in KINDS if k != "spurious")

    @property
    def total(self) -> int:
        return sum(self.actions.values())

    def add(self, other: ReviewEffort) -> None:
        for k in KINDS:
            self.actions[k] += other.actions[k]
            self.entities[k] += other.entities[k]

    def per_100(self) -> float:
        """Actions per 100 gold entities."""
        return round(100 * self.total / max(self.gold, 1), 1)

    def as_dict(self) -> dict:
        per = max(self.gold, 1)
        return {"review_effort_per_100": self.per_100(),
                "review_actions_per_100": {k: round(100 * self.actions[k] / per, 1) for k in KINDS},
                "review_actions": dict(self.actions), "missed_share": round(self.entities["missed"] / per, 4)}


def boundary_fix(wrong: Entity, right: Entity) -> int:
    """Actions to move ``wrong``'s words onto ``right``'s once it is selected: nudges, or a drag and Ctrl+R."""
    nudges = abs(wrong.start - right.start) + abs(wrong.end - right.end)
    return min(nudges, len(RESIZE))  # one boundary key (NUDGES) per word


def review_effort(gold: Sequence[Entity], predicted: Sequence[Entity]) -> ReviewEffort:
    """The actions that turn ``predicted`` into ``gold`` in one document (both over word indices)."""
    effort = ReviewEffort()
    exact = set(gold) & set(predicted)
    free = [q for q in predicted if q not in exact]
    for g in sorted(gold, key=lambda e: (e.start, e.end)):
        overlapping = [q for q in predicted if q.overlaps(g)]
        kind = ("exact" if g in exact else "boundary" if any(q.label == g.label for q in overlapping)
                else "wrong_type" if overlapping else "missed")
        effort.entities[kind] += 1
        if kind == "exact":
            continue
        mine = [q for q in free if q.overlaps(g)]
        if not mine:  # missed, or its suggestions went to other entities: add it
            effort.actions[kind] += len(ADD)
            continue
        # fix the suggestion needing the fewest actions (same type first), delete the others in the way
        best = min(mine, key=lambda q: (_fix(q, g), -_shared(q, g)))
        effort.actions[kind] += _fix(best, g) + len(DELETE) * (len(mine) - 1)
        for q in mine:
            free.remove(q)
    for q in free:
        if not any(q.overlaps(g) for g in gold):
            effort.entities["spurious"] += 1
            effort.actions["spurious"] += len(DELETE)
        else:  # overlaps only exact entities' neighbours: in the way, deleted
            effort.actions["boundary"] += len(DELETE)
    return effort


def total_effort(documents: Iterable[tuple[Sequence[Entity], Sequence[Entity]]]) -> ReviewEffort:
    """:func:`review_effort` summed over ``(gold, predicted)`` pairs of documents."""
    total = ReviewEffort()
    for gold, predicted in documents:
        total.add(review_effort(gold, predicted))
    return total


def _fix(q: Entity, g: Entity) -> int:
    actions = len(SELECT_ENTITY) + (len(RELABEL) - len(SELECT_ENTITY)) * (q.label != g.label)
    return actions + (boundary_fix(q, g) if (q.start, q.end) != (g.start, g.end) else 0)


def _shared(q: Entity, g: Entity) -> int:
    return min(q.end, g.end) - max(q.start, g.start)
