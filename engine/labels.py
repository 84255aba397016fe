"""The one label set: entity types <-> IOB2 tags, in the order of a model's emission head.

A model's head emits one score per tag; ``LabelSet.tags[i]`` names output ``i``.
Everything that turns types into tags or tag indices into types (the model
config, the tagger's decoding, the CRF's span search, the training data, a
retrain that adds types) asks a :class:`LabelSet` instead of slicing ``B-``/``I-``
itself (flair's label dictionary knows its own tag format in the same way).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from engine.spans import OUTSIDE, parse_tag

BEGIN, INSIDE = "B", "I"


def tag(prefix: str, entity_type: str) -> str:
    """``tag("B", "Medicine")`` -> ``"B-Medicine"``."""
    return f"{prefix}-{entity_type}"


@dataclass(frozen=True)
class LabelSet:
    """IOB2 tags in head order: ``'O'`` and, per entity type, its ``B-`` and ``I-`` tag.

    Raises ValueError for a tag that is not IOB2, a repeated tag, or no ``'O'``.
    """

    tags: tuple[str, ...]

    def __init__(self, tags: Iterable[str]) -> None:
        tags = tuple(tags)
        if not all(isinstance(t, str) for t in tags):
            raise ValueError(f"tags must be text (IOB2 tags), got {list(tags)!r:.80}")
        parsed = [parse_tag(t) for t in tags]
        if OUTSIDE not in tags or len(set(tags)) != len(tags):
            raise ValueError(f"tags must be unique and include 'O', got {list(tags)}")
        object.__setattr__(self, "tags", tags)
        object.__setattr__(self, "_parsed", tuple(parsed))

    @classmethod
    def from_types(cls, entity_types: Iterable[str]) -> LabelSet:
        """``'O'``, then ``B-`` and ``I-`` of each type in the order given."""
        return cls([OUTSIDE, *(tag(p, t) for t in dict.fromkeys(entity_types) for p in (BEGIN, INSIDE))])

    def __len__(self) -> int:
        return len(self.tags)

    @cached_property
    def entity_types(self) -> list[str]:
        """Types in the order their first tag appears in the head (not alphabetical: the head's order)."""
        return list(dict.fromkeys(kind for _, kind in self._parsed if kind is not None))

    @cached_property
    def _index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tags)}

    def index(self, tag_name: str) -> int:
        """The head output of ``tag_name``; ValueError names the tags there are."""
        try:
            return self._index[tag_name]
        except KeyError:
            raise ValueError(f"no tag {tag_name!r} in this model's labels {list(self.tags)}") from None

    @property
    def outside(self) -> int:
        return self._index[OUTSIDE]

    def begin(self, entity_type: str) -> int:
        return self.index(tag(BEGIN, entity_type))

    def inside(self, entity_type: str) -> int | None:
        """The ``I-`` tag of ``entity_type``, or None when the head has none (single-word entities only)."""
        return self._index.get(tag(INSIDE, entity_type))

    def prefix(self, index: int) -> str:
        """``'B'``, ``'I'`` or ``'O'`` of head output ``index``."""
        return self._parsed[index][0]

    def entity_type(self, index: int) -> str | None:
        """The entity type of head output ``index`` (None for ``'O'``)."""
        return self._parsed[index][1]

    def with_types(self, entity_types: Sequence[str]) -> LabelSet:
        """This set with ``B-``/``I-`` tags appended for each of ``entity_types`` it lacks (existing indices kept)."""
        added = [t for t in dict.fromkeys(entity_types) if t not in self.entity_types]
        return LabelSet([*self.tags, *(tag(p, t) for t in added for p in (BEGIN, INSIDE))])

    def check_outputs(self, outputs: int) -> None:
        """ValueError unless a head with ``outputs`` scores fits these labels."""
        if outputs != len(self.tags):
            raise ValueError(f"the model emits {outputs} tags but its labels list {len(self.tags)} "
                             f"({', '.join(self.tags)})")
