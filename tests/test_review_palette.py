"""The entity palette stays distinguishable with colour-vision deficiencies and keeps black text readable."""

from colormath import contrast, delta_e2000, lab, linear_rgb, simulate, worst_pair

from app.gui.colors import PALETTE


def test_colour_science_matches_published_values():
    # Sharma, Wu & Dalal (2005), pair 1 of their test data
    assert abs(delta_e2000((50, 2.6772, -79.7751), (50, 0, -82.7485)) - 2.0425) < 1e-4
    assert abs(contrast(linear_rgb("#000000"), linear_rgb("#ffffff")) - 21.0) < 1e-9
    assert all(abs(c - 1.0) < 0.01 for c in simulate(linear_rgb("#ffffff"), "deuteranopia"))  # white stays white
    assert abs(lab(linear_rgb("#ffffff"))[0] - 100) < 0.01


def test_palette_is_distinguishable_for_every_vision():
    assert len(PALETTE) >= 9 and len(set(PALETTE)) == len(PALETTE)
    assert worst_pair(PALETTE) >= 15
    assert worst_pair(PALETTE + ["#ffffff"]) >= 15  # every highlight also stands out from the page


def test_black_text_is_readable_on_every_colour():
    assert min(contrast(linear_rgb(c), (0.0, 0.0, 0.0)) for c in PALETTE) >= 4.5


def test_old_palette_would_fail():  # the check can fail: the pastel palette it replaced did
    assert worst_pair(["#ffb3ba", "#bae1ff", "#baffc9", "#ffdfba", "#e0baff", "#fff5ba", "#c9f0f0", "#f0c9e0",
                       "#d9d9d9"]) < 15
