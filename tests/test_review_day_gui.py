"""A review day without the mouse, and a window that lays out (issue 24): real window, real keys, real database."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.spans import Entity
from engine.storage import NewDocument, Repository

TEXT = "মাথা ব্যথা আর জ্বর। নাপা খেলে জ্বর কমে।"
CTRL, ALT, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.AltModifier, Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def db(tmp_path):
    """Four notes from a spreadsheet; note 3 also holds a Dosage, note 2 a Medicine only."""
    path = tmp_path / "meder.sqlite3"
    repo = Repository(path)
    for i in range(1, 5):
        ents = [Entity(0, 10, "Symptom", 0.5 + i / 10)] if i != 2 else []
        ents.append(Entity(20, 24, "Dosage" if i == 3 else "Medicine", 0.95))
        repo.add_documents([NewDocument(f"follow-up-clinic-notes-2026-november-ward-{i}.xlsx row {i + 1}", TEXT,
                                        "t.xlsx", ents, metadata={"row": i + 1})], origin="model", model_version="v1")
    repo.close()
    return path


@pytest.fixture
def window(open_window, db):
    w = open_window(Repository(db), db.parent)
    yield w
    w.repo.close()


def shown(w) -> list[int]:
    return [d.id for d in w.documents.rows]


def test_the_type_filter_offers_the_stored_types_and_filters(qtbot, window):
    combo = window.type_filter
    offered = [combo.itemText(i) for i in range(combo.count())]
    assert offered[0] == "Any entity type" and {"Symptom", "Medicine", "Dosage"} <= set(offered[1:])
    combo.setCurrentIndex(combo.findText("Dosage"))  # what a click on the item does
    assert shown(window) == [3]
    combo.setCurrentIndex(combo.findText("Symptom"))
    assert shown(window) == [4, 3, 1]
    window.show_document(4)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_N)  # select "মাথা ব্যথা" and make it a Health Condition by its key
    number = str(window.types.index("Health Condition") + 1)
    qtbot.keyClick(window.view, number)
    assert combo.findText("Health Condition") > 0  # a type that came with an edit is offered at once
    assert combo.currentText() == "Symptom"
    combo.setCurrentIndex(0)
    assert shown(window) == [4, 3, 2, 1]
