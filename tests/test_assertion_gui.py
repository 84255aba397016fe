"""Assertions in the real window (offscreen, pytest-qt): absent findings struck through, Shift+N cycles, undo."""

from __future__ import annotations

from PySide6.QtCore import Qt

from engine.spans import Entity
from engine.storage import NewDocument, Repository

TEXT = "জ্বর নেই, মাথা ব্যথা আছে।"
HEAD = TEXT.index("মাথা ব্যথা")


def test_absent_struck_through_and_shift_n_cycles_undoably(open_window, qtbot, tmp_path):
    path = tmp_path / "meder.sqlite3"
    repo = Repository(path)
    repo.add_documents([NewDocument("note", TEXT, entities=[Entity(0, 4, "Symptom", 0.9, "absent"),
                                                            Entity(HEAD, HEAD + 10, "Symptom", 0.8)])],
                       origin="model", model_version="v1")
    repo.close()
    window = open_window(Repository(path), tmp_path)
    try:
        window.show_document(1)
        assert window.view.format_at(0).fontStrikeOut()
        assert not window.view.format_at(HEAD).fontStrikeOut()
        column = window.entities.COLUMNS.index("Assertion")
        assert window.entities.index(0, column).data() == "absent"

        head = window.repo.entities(1)[1]
        window._on_entity_clicked(head.id)
        qtbot.keyClick(window.view, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)
        stored = window.repo.entities(1)[1]
        assert (stored.assertion, stored.status) == ("absent", "accepted")
        assert window.view.format_at(HEAD).fontStrikeOut()
        assert window.entities.index(1, column).data() == "absent"
        qtbot.keyClick(window.view, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)  # the selection followed
        assert window.repo.entities(1)[1].assertion == "possible"
        assert not window.view.format_at(HEAD).fontStrikeOut()

        qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        restored = window.repo.entities(1)[1]
        assert (restored.id, restored.assertion, restored.status) == (head.id, "present", "suggested")
        assert not window.view.format_at(HEAD).fontStrikeOut()
        assert window.entities.index(1, column).data() == "present"
    finally:
        window.repo.close()
