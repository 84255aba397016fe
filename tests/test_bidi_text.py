"""Direction controls: one set in the engine, flagged in exports, never removed from the text."""

from __future__ import annotations

import sys
import unicodedata

from openpyxl import load_workbook

from engine.exporting import export
from engine.spans import Entity
from engine.storage import Repository
from engine.text import BIDI_CONTROLS, ZWJ, ZWNJ, has_bidi_controls

_EXPLICIT = {"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}


def test_bidi_controls_are_unicodes_bidi_control_property():
    explicit = {chr(c) for c in range(sys.maxunicode + 1) if unicodedata.bidirectional(chr(c)) in _EXPLICIT}
    marks = {unicodedata.lookup(n) for n in ("LEFT-TO-RIGHT MARK", "RIGHT-TO-LEFT MARK", "ARABIC LETTER MARK")}
    assert BIDI_CONTROLS == explicit | marks
    assert ZWNJ not in BIDI_CONTROLS and ZWJ not in BIDI_CONTROLS  # Bangla spelling


def test_has_bidi_controls():
    assert has_bidi_controls("ডোজ \u202e0.5\u202c মিগ্রা")
    assert has_bidi_controls("\u200f")
    assert not has_bidi_controls("র\u200d্যাব\u200cটা ০.৫ g\r\n😷")
    assert not has_bidi_controls("")


def test_excel_export_flags_documents_with_direction_controls_and_keeps_their_text(tmp_path):
    repo = Repository(tmp_path / "meder.sqlite3")
    lying = "নাপা \u202e0.5\u202c g every \u202e12\u202c h"
    plain = "নাপা 0.5 g\nরোজ র\u200d্যাব\u200cটা"
    repo.add_documents([("a", lying, "clipboard", [Entity(0, 4, "Medicine")]), ("b", plain, "clipboard", [])],
                       origin="model")
    path = tmp_path / "out.xlsx"
    export(repo, path)
    repo.close()
    rows = list(load_workbook(path)["Documents"].iter_rows(values_only=True))
    flag, text = rows[0].index("hidden direction marks"), rows[0].index("text")
    assert [(r[text], r[flag]) for r in rows[1:]] == [(lying, "yes"), (plain, "no")]
