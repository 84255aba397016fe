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


# How a finding that is not simply present shows in the text (on top of its type's background), and what the
# legend and the tooltip call it. Each has a shape besides its colour (strike, italic, weight), so it reads
# without colour vision; engine.spans.ASSERTIONS names the classes, docs/assertion-guidelines.md defines them.
ASSERTION_STYLES: dict[str, dict] = {
    "absent": {"color": "#6b6b6b", "strike": True, "italic": False,
               "meaning": "absent: denied or ruled out (struck through)"},
    "possible": {"color": "#8a4b00", "strike": False, "italic": True,
                 "meaning": "possible: suspected, not confirmed (italic, brown letters)"},
    "hypothetical": {"color": "#1f4fa8", "strike": False, "italic": True,
                     "meaning": "hypothetical: advised, planned, or only if something happens (italic, blue letters)"},
    "past": {"color": "#5b3f8c", "strike": False, "italic": False,
             "meaning": "past: earlier history, not said to continue (violet letters)"},
    "family": {"color": "#7a1f3d", "strike": False, "italic": False,
               "meaning": "family: a relative's, not the patient's (maroon letters)"},
}
