"""Model › Suggestions in the real window with the bundled model: more / balanced / fewer, remembered, re-tag offer."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from engine.model_config import ModelConfig
from engine.spans import Entity
from engine.storage import NewDocument, Repository

TEXTS = ["রোগীর জ্বর, মাথা ব্যথা ও কাশি আছে। নাপা ৫০০ মিগ্রা দিনে তিনবার খাবেন।",
         "ডায়াবেটিস আর উচ্চ রক্তচাপ আছে, মেডিসিন বিশেষজ্ঞ দেখান।",
         "৩৫ বছরের মহিলা, পেটে ব্যথা আর বমি, আলট্রাসনোগ্রাম করাতে হবে।"]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "meder.sqlite3"
    repo = Repository(path)
    for i, text in enumerate(TEXTS, start=1):
        repo.add_documents([NewDocument(f"note {i}", text, "t.txt", [Entity(0, 5, "Symptom", 0.5)])],
                           origin="model", model_version="old")
    repo.set_reviewed(1)
    repo.close()
    return path


def choose(window, level: str) -> None:
    """As the user does: the menu entry."""
    action = window.suggestions.actions[level]
    assert action.isCheckable() and action.text()
    action.trigger()


def offer(window) -> QMessageBox:
    box = window.findChild(QMessageBox, "retag_offer")
    assert box is not None and box.isVisible()
    return box


def test_level_applies_is_remembered_and_retags_unreviewed_on_request(qtbot, open_window, db):
    window = open_window(Repository(db), db.parent)
    config = ModelConfig.load(window.model_dir)
    assert window.suggestions.actions["balanced"].isChecked()  # the default: the effort-optimal decoder
    assert (window.tagger.decoding, window.tagger.threshold) == (config.decoder, config.decoder_threshold)
    reviewed = window.repo.entities(1)

    choose(window, "more")
    assert (window.tagger.decoding, window.tagger.threshold) == config.decoding_for("more")
    assert "2 unreviewed documents" in offer(window).text()
    qtbot.mouseClick(offer(window).button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (window.repo.undo_status()[0] or "").startswith("re-tag"), timeout=20000)
    expected = window.tagger.tag_many(TEXTS[1:])
    assert [[(e.start, e.end, e.label) for e in window.repo.entities(d)] for d in (2, 3)] == \
        [[(e.start, e.end, e.label) for e in ents] for ents in expected]
    assert window.repo.entities(1) == reviewed  # reviewed: never re-tagged
    window.repo.close()
    window.close()

    again = open_window(Repository(db), db.parent)  # a restart remembers the level
    assert again.suggestions.actions["more"].isChecked()
    assert (again.tagger.decoding, again.tagger.threshold) == config.decoding_for("more")

    before = {d: again.repo.entities(d) for d in (2, 3)}
    choose(again, "fewer")
    assert (again.tagger.decoding, again.tagger.threshold) == config.decoding_for("fewer")
    qtbot.mouseClick(offer(again).button(QMessageBox.StandardButton.No), Qt.MouseButton.LeftButton)
    assert {d: again.repo.entities(d) for d in (2, 3)} == before  # declined: nothing re-tagged
    assert again.repo.setting("suggestion_level") == "fewer"
    again.repo.close()


def test_the_levels_differ_on_the_bundled_model(qtbot, window):
    """The three entries are three different decoders, so the setting changes what is suggested."""
    config = ModelConfig.load(window.model_dir)
    assert len({config.decoding_for(level) for level in ("more", "balanced", "fewer")}) == 3


def test_the_offered_retag_shows_progress_and_cancel_keeps_every_document(qtbot, open_window, tmp_path):
    from PySide6.QtWidgets import QProgressDialog, QPushButton

    path = tmp_path / "many.sqlite3"
    repo = Repository(path)
    long_text = " ".join(TEXTS * 12)  # several windows each, so the re-tag takes long enough to cancel
    repo.add_documents([NewDocument(f"note {i}", f"{i} {long_text}", "t.txt", [Entity(0, 1, "Age", 0.5)])
                        for i in range(120)], origin="model", model_version="old")
    repo.close()
    window = open_window(Repository(path), tmp_path)
    before = {d.id: window.repo.entities(d.id) for d in window.repo.documents()}
    choose(window, "fewer")
    qtbot.mouseClick(offer(window).button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(QProgressDialog)), timeout=20000)
    dialog = next(d for d in window.findChildren(QProgressDialog) if d.isVisible())
    assert "Re-tagging" in dialog.windowTitle()
    qtbot.mouseClick(dialog.findChild(QPushButton), Qt.MouseButton.LeftButton)  # its only button: Cancel
    qtbot.waitUntil(lambda: not any(d.isVisible() for d in window.findChildren(QProgressDialog)), timeout=20000)
    qtbot.wait(300)
    assert {d.id: window.repo.entities(d.id) for d in window.repo.documents()} == before
    assert not (window.repo.undo_status()[0] or "").startswith("re-tag")
    window.repo.close()
