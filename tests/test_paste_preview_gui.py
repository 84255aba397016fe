"""Paste: the text shows at once, the visible part's highlights come first, then the stored document's (issue 21)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication

ROOT = Path(__file__).resolve().parent.parent
NOTES = ROOT.parent / "shared" / "data" / "bangla-health-text" / "health-text.jsonl"


def real_text(words: int = 1000) -> str:
    """Real Bangla health questions, one after another, up to ``words`` words."""
    if not NOTES.is_file():
        pytest.skip(f"{NOTES} is not here (the shared data folder)")
    texts, count = [], 0
    for line in NOTES.read_text(encoding="utf-8").splitlines():
        text = json.loads(line)["text"].strip()
        texts.append(text)
        count += len(text.split())
        if count >= words:
            break
    return "\n\n".join(texts)


def spans(entities) -> set[tuple[int, int, str]]:
    return {(e.start, e.end, e.label) for e in entities}


def test_pasted_text_shows_at_once_and_its_visible_part_is_highlighted_first(window, qtbot):
    text = real_text()
    previews = []
    window.visible_tagged.connect(lambda paste, entities: previews.append(list(window.view._entities)))
    QGuiApplication.clipboard().setText(text)
    window.new_from_clipboard()
    # before the event loop runs again: the text is on screen, nothing stored or highlighted yet
    assert window.view.isVisible() and window.view.text == text
    assert window.repo.counts()["documents"] == 0 and window.view._entities == []
    qtbot.waitUntil(lambda: window.repo.counts()["documents"] == 1 and bool(window.entities.rows), timeout=60000)
    [preview] = previews
    stored = window.repo.entities(window.current_id)
    assert preview and all(e.end < len(text) // 2 for e in preview)  # the visible part only, not the whole text
    # the visible part's highlights are the stored document's, bar the odd one near the part's end
    assert len(spans(preview) & spans(stored)) >= 0.9 * len(preview)
    assert window.view.text == text and spans(window.view._entities) == spans(stored)
    first = stored[0]
    assert window.view.format_at(first.start).background() != window.view.format_at(first.end).background()


def test_a_second_paste_replaces_the_first_preview_and_both_are_stored(window, qtbot):
    text = real_text()
    other = real_text(1400)[len(text):].strip()
    QGuiApplication.clipboard().setText(text)
    window.new_from_clipboard()
    QGuiApplication.clipboard().setText(other)
    window.new_from_clipboard()
    assert window.view.text == other
    qtbot.waitUntil(lambda: window.repo.counts()["documents"] == 2, timeout=60000)
    qtbot.waitUntil(lambda: window.view.text == other and bool(window.entities.rows), timeout=60000)
    assert sorted(d.text for d in window.repo.documents()) == sorted([text, other])
