"""A colour per entity type, readable on white, stable across runs."""

from __future__ import annotations

import hashlib

# Nine colours whose every pair (and each with the white page) differs by CIEDE2000 >= 15 for normal vision
# and under simulated deuteranopia and protanopia, each with black text at contrast >= 4.5:1
# (tests/test_review_palette.py computes both). Found by a farthest-point search over sRGB.
PALETTE = ["#63b3fe", "#8b780d", "#8fbbbe", "#3b6eee", "#1b8881", "#f4fe0d", "#79dea2", "#cca527", "#e91079"]


def type_colors(types: list[str]) -> dict[str, str]:
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(types)}


def color_for(label: str, known: dict[str, str]) -> str:
    """``label``'s colour; a type from another tool's file (``PER``) takes one the model's types don't use."""
    if label in known:
        return known[label]
    spare = [c for c in PALETTE if c not in known.values()] or PALETTE
    return spare[int(hashlib.sha1(label.encode()).hexdigest(), 16) % len(spare)]
