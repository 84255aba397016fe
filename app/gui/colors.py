"""A colour per entity type, readable on white, stable across runs."""

from __future__ import annotations

import hashlib

PALETTE = ["#ffb3ba", "#bae1ff", "#baffc9", "#ffdfba", "#e0baff", "#fff5ba", "#c9f0f0", "#f0c9e0", "#d9d9d9"]


def type_colors(types: list[str]) -> dict[str, str]:
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(types)}


def color_for(label: str, known: dict[str, str]) -> str:
    if label in known:
        return known[label]
    return PALETTE[int(hashlib.sha1(label.encode()).hexdigest(), 16) % len(PALETTE)]
