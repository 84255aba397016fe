"""A clinician's working day in the real window (offscreen, pytest-qt): documents, triage, keys, state, help."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication

from app.gui import keymap
from engine.instance_lock import AlreadyRunning, InstanceLock
from engine.spans import Entity
from engine.storage import NewDocument, Repository

TEXT = "মাথা ব্যথা আর জ্বর। নাপা খেলে জ্বর কমে।"
CTRL, ALT, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.AltModifier, Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def db(tmp_path):
    """Four notes: confidences 0.9, 0.2, 0.6, 0.4 (ids 1-4); the newest is shown first."""
    path = tmp_path / "meder.sqlite3"
    repo = Repository(path)
    for i, conf in enumerate((0.9, 0.2, 0.6, 0.4), start=1):
        repo.add_documents([NewDocument(f"note {i} " + "long title " * 6, TEXT, "t.csv",
                                        [Entity(0, 10, "Symptom", conf), Entity(20, 24, "Medicine", 0.95)],
                                        metadata={"row": i})], origin="model", model_version="v1")
    repo.close()
    return path


@pytest.fixture
def window(open_window, qtbot, db):
    w = open_window(Repository(db), db.parent)
    yield w
    w.repo.close()


def press(qtbot, w, key, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(w.view, key, modifier)


def titles(w):
    return [d.title.split()[1] for d in w.documents.rows]


def test_delete_and_rename_documents_undoably(qtbot, window, monkeypatch):
    window.show_document(4)
    window.repo.set_reviewed(4)
    press(qtbot, window, Qt.Key.Key_Delete, CTRL)
    assert not window.repo.exists(4) and titles(window) == ["3", "2", "1"]
    assert window.current_id == 3 and "note 3" in window.windowTitle()
    press(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert titles(window) == ["4", "3", "2", "1"] and window.current_id == 4
    assert window.repo.document(4).reviewed and "(reviewed)" in window.windowTitle()
    monkeypatch.setattr("app.gui.main_window.QInputDialog.getText", lambda *a, **k: ("ভর্তি রোগী", True))
    press(qtbot, window, Qt.Key.Key_F2)
    assert window.documents.rows[0].title == "ভর্তি রোগী" and window.windowTitle().startswith("ভর্তি রোগী")
    press(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert window.windowTitle().startswith("note 4")
    assert "row: 4" in window.details.text() and "t.csv" in window.details.text()


def test_review_keys_follow_the_sorted_filtered_list_and_wrap(qtbot, window):
    header = window.document_table.horizontalHeader()
    conf = window.documents.COLUMNS.index("Conf.")
    header.sectionClicked.emit(conf)  # least confident first
    assert titles(window) == ["2", "4", "3", "1"]
    assert window.documents.data(window.documents.index(0, conf)) == "0.20"
    window.show_document(2)
    press(qtbot, window, Qt.Key.Key_Return, CTRL)  # reviewed, then the next one *in the list*
    assert window.repo.document(2).reviewed and window.current_id == 4
    assert titles(window) == ["4", "3", "1", "2"]  # reviewed documents sort after the unreviewed
    press(qtbot, window, Qt.Key.Key_Up, CTRL)  # wraps backwards past the reviewed one
    assert window.current_id == 1
    press(qtbot, window, Qt.Key.Key_Down, CTRL)  # and forwards, round to the top
    assert window.current_id == 4
    window.status_filter.setCurrentIndex(1)  # unreviewed only
    assert titles(window) == ["4", "3", "1"]
    window.repo.relabel(window.repo.entities(3)[1].id, "Dosage")
    window.refresh_documents()  # what the app does after any edit
    window.type_filter.setCurrentIndex(window.type_filter.findText("Dosage"))  # the app offers it: nothing added here
    assert titles(window) == ["3"]
    window.show_document(3)
    press(qtbot, window, Qt.Key.Key_Down, CTRL)
    assert window.current_id == 3 and "hidden by the filters" in window.statusBar().currentMessage()
    header.sectionClicked.emit(0)  # sort by title
    assert window.list_view.sort == "title"
    assert window.document_table.textElideMode() == Qt.TextElideMode.ElideMiddle
    assert window.documents.data(window.documents.index(0, 0), Qt.ItemDataRole.ToolTipRole).startswith("note 3 long")
    assert window.documents.headerData(conf, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)


def select(w, start, end):
    cursor = w.view.textCursor()
    cursor.setPosition(w.view.to_qt(start))
    cursor.setPosition(w.view.to_qt(end), QTextCursor.MoveMode.KeepAnchor)
    w.view.setTextCursor(cursor)


def test_keyboard_only_correction(qtbot, window):
    window.show_document(1)
    number = {t: str(n) for n, t in enumerate(window.types, start=1)}
    select(window, 14, 18)  # "জ্বর"
    qtbot.keyClick(window.view, number["Symptom"])
    added = window.view.selected_id
    assert window.repo.entity(added).label == "Symptom"
    qtbot.keyClick(window.view, number["Medicine"])  # a second number relabels what was just added
    assert [e.label for e in window.repo.entities(1) if e.start == 14] == ["Medicine"]
    press(qtbot, window, Qt.Key.Key_N)  # next entity: "নাপা"
    assert window.repo.entity(window.view.selected_id).start == 20
    press(qtbot, window, Qt.Key.Key_N)  # then wraps round to the first
    first = window.repo.entities(1)[0]
    assert window.view.selected_id == first.id and first.start == 0
    press(qtbot, window, Qt.Key.Key_Left, ALT | SHIFT)  # shrink the end by one word
    shrunk = window.repo.entity(window.view.selected_id)
    assert (shrunk.start, shrunk.end, shrunk.source) == (0, 4, "human")
    press(qtbot, window, Qt.Key.Key_Right, ALT)  # and grow it back
    assert window.repo.entity(window.view.selected_id).end == 10
    press(qtbot, window, Qt.Key.Key_Right, ALT)  # "আর" joins
    press(qtbot, window, Qt.Key.Key_Right, ALT)  # "জ্বর" is taken: refused, with a message
    assert "overlap" in window.statusBar().currentMessage()
    press(qtbot, window, Qt.Key.Key_P)
    assert window.repo.entity(window.view.selected_id).start == 20  # previous wraps to the last
    for _ in range(5):
        press(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert [(e.start, e.end, e.status) for e in window.repo.entities(1)] == [(0, 10, "suggested"), (20, 24, "suggested")]


def test_status_is_visible_in_the_text(qtbot, window):
    window.show_document(1)
    suggested = window.view.format_at(0)
    window.repo.accept(window.repo.entities(1)[0].id)
    window.show_document(1)
    accepted = window.view.format_at(0)
    assert suggested.background().color() != accepted.background().color()
    assert suggested.underlineStyle() != accepted.underlineStyle()
    window.repo.resize(window.repo.entities(1)[0].id, 0, 4)
    window.show_document(1)
    assert window.view.format_at(0).fontOverline() and not accepted.fontOverline()  # made by a person


def test_title_refreshes_after_undo_and_last_document_reopens(open_window, qtbot, db, tmp_path):
    w = open_window(Repository(db), db.parent)
    w.show_document(2)
    w.document_table.setFocus()
    qtbot.keyClick(w.document_table, Qt.Key.Key_Return, CTRL)
    w.show_document(2)
    assert "(reviewed)" in w.windowTitle()
    qtbot.keyClick(w.document_table, Qt.Key.Key_Z, CTRL)
    assert "(unreviewed)" in w.windowTitle()
    qtbot.keyClick(w.view, Qt.Key.Key_Equal, CTRL)
    size = w.view.font().pointSize()
    assert size == w.view.usual_point_size + 1
    w.close()
    w.repo.close()
    again = open_window(Repository(db), db.parent)
    assert again.current_id == 2 and again.view.font().pointSize() == size
    qtbot.keyClick(again.view, Qt.Key.Key_0, CTRL)
    assert again.view.font().pointSize() == again.view.usual_point_size
    again.repo.close()


def test_retag_unreviewed_is_one_background_step(qtbot, window):
    window.repo.set_reviewed(1)
    before = {d: window.repo.entities(d) for d in (1, 2)}
    window.retag_unreviewed()
    qtbot.waitUntil(lambda: (window.repo.undo_status()[0] or "").startswith("re-tag"), timeout=20000)
    assert window.repo.undo_status()[0].startswith("re-tag 3 document(s)")
    assert window.repo.entities(1) == before[1]  # reviewed: untouched
    window.undo()
    assert window.repo.undo_status()[0] == "mark reviewed" and window.repo.entities(2) == before[2]


def test_help_sheet_lists_every_key(qtbot, window):
    qtbot.keyClick(window.view, Qt.Key.Key_F1)
    sheet = window._help
    assert sheet.objectName() == "help_keys" and sheet.isVisible()
    text = sheet.browser.toPlainText()
    for key in keymap.KEYS:
        assert key.title in text and key.keys[0] in text
    bound = {a.objectName(): [s.toString() for s in a.shortcuts()] for a in window.actions() if a.objectName()}
    assert bound["next_entity"] == ["N"] and bound["end_left"] == [",", "Alt+Shift+Left"]
    window._show_help("about")
    assert "Bangla MedER" in window._help.browser.toPlainText() and "CC BY-NC-SA" in window._help.browser.toPlainText()
    window._show_help("review")
    assert "Ctrl+Enter" in window._help.browser.toPlainText()
    QApplication.processEvents()


def test_one_instance_per_data_folder(tmp_path):
    first = InstanceLock(tmp_path)
    first.acquire()
    with pytest.raises(AlreadyRunning, match="already running"):
        InstanceLock(tmp_path).acquire()
    first.release()
    second = InstanceLock(tmp_path)
    second.acquire()  # free again once the first is gone
    second.release()


def test_importing_the_same_text_again_skips_it(qtbot, window, tmp_path):
    note = tmp_path / "নোট.txt"
    note.write_text("নতুন রোগী, জ্বর তিন দিন।", encoding="utf-8")
    window.import_files([note])
    qtbot.waitUntil(lambda: window.repo.counts()["documents"] == 5, timeout=20000)
    window.import_files([note])
    qtbot.waitUntil(lambda: "already stored" in window.statusBar().currentMessage(), timeout=20000)
    assert "1 document(s) were already stored and were skipped" in window.statusBar().currentMessage()
    assert window.repo.counts()["documents"] == 5


def test_legend_labels_say_their_key(qtbot, window):
    from PySide6.QtWidgets import QLabel

    key = keymap.keys_for("label")[window.types.index("Symptom")]
    label = window.legend.findChild(QLabel, "legend_Symptom")
    assert label is not None and label.isVisible()
    assert label.toolTip() == (f"Symptom — press {key} to mark the selection as Symptom, "
                               "or to change the selected entity's type")
    assert f"{key}&nbsp;Symptom" in label.text()
