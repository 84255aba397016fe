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


def focused():
    from PySide6.QtWidgets import QApplication

    return QApplication.focusWidget()


def keys(qtbot, *presses) -> None:
    """Key presses as a keyboard makes them: each goes to the widget that has the focus now."""
    for press in presses:
        key, modifier = press if isinstance(press, tuple) else (press, Qt.KeyboardModifier.NoModifier)
        qtbot.keyClick(focused(), key, modifier)


def active(qtbot, w):
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    return w


def test_adding_a_missed_entity_and_reviewing_a_note_with_keys_only(qtbot, window):
    """From the list into the text, the caret word by word, Shift to select, a number key, Esc back, review."""
    w = active(qtbot, window)
    assert focused() is w.document_table and w.current_id == 4
    symptom = str(w.types.index("Symptom") + 1)
    keys(qtbot, Qt.Key.Key_F6)
    assert focused() is w.view
    keys(qtbot, Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Right)  # after "মাথা", "ব্যথা", "আর"
    assert w.view.from_qt(w.view.textCursor().position()) == 13
    keys(qtbot, (Qt.Key.Key_Right, SHIFT))  # selects " জ্বর", which snaps to the word
    keys(qtbot, symptom)
    assert [(e.start, e.end, e.label, e.source) for e in w.repo.entities(4) if e.start == 14] == [
        (14, 18, "Symptom", "human")]
    # the caret stands at the new entity: two words (the "।" is one) and one back select "জ্বর" again
    keys(qtbot, (Qt.Key.Key_Right, SHIFT), (Qt.Key.Key_Right, SHIFT), (Qt.Key.Key_Left, SHIFT))
    assert w.view.selection() == (14, 18)
    keys(qtbot, Qt.Key.Key_Escape)
    assert focused() is w.document_table
    keys(qtbot, (Qt.Key.Key_Return, CTRL))  # reviewed; the next unreviewed document in the list opens
    assert w.repo.document(4).reviewed and w.current_id == 3
    keys(qtbot, Qt.Key.Key_Down)  # the list follows the arrows as before
    assert w.current_id == 2


def test_tab_walks_list_text_entities_and_the_focused_pane_is_framed(qtbot, window):
    w = active(qtbot, window)
    assert focused() is w.document_table
    framed = w.document_table.grab().toImage()
    keys(qtbot, Qt.Key.Key_Tab)
    assert focused() is w.view and w.current_id == 4  # Tab never walks the list's cells nor opens documents
    unframed = w.document_table.grab().toImage()
    edge = (1, w.document_table.height() // 2)
    assert framed.pixelColor(*edge) != unframed.pixelColor(*edge)  # the focus frame is visible
    keys(qtbot, Qt.Key.Key_Tab)
    assert focused() is w.entity_table
    keys(qtbot, (Qt.Key.Key_Backtab, SHIFT), (Qt.Key.Key_Backtab, SHIFT))
    assert focused() is w.document_table and w.current_id == 4
    keys(qtbot, (Qt.Key.Key_Tab, CTRL))
    assert w.current_id == 4


def test_boundary_keys_no_window_manager_takes(qtbot, window):
    w = active(qtbot, window)
    keys(qtbot, Qt.Key.Key_F6, Qt.Key.Key_N)  # "মাথা ব্যথা" (0-10)
    span = lambda: (w.repo.entity(w.view.selected_id).start, w.repo.entity(w.view.selected_id).end)  # noqa: E731
    keys(qtbot, Qt.Key.Key_Comma)
    assert span() == (0, 4)  # shrunk at the end
    keys(qtbot, Qt.Key.Key_Period, Qt.Key.Key_Period)
    assert span() == (0, 13)  # grown at the end by two words
    keys(qtbot, Qt.Key.Key_BracketRight)
    assert span() == (5, 13)  # shrunk at the start
    keys(qtbot, Qt.Key.Key_BracketLeft)
    assert span() == (0, 13)
    keys(qtbot, (Qt.Key.Key_Left, ALT | SHIFT))  # the old keys still work
    assert span() == (0, 10)


def test_at_1280_by_760_titles_keep_file_and_row_and_every_column_shows(qtbot, window):
    from PySide6.QtWidgets import QStyleOptionViewItem

    window.resize(1280, 760)
    qtbot.waitUntil(lambda: window.width() == 1280)
    table = window.document_table
    for view, model in ((table, window.documents), (window.entity_table, window.entities)):
        header = view.horizontalHeader()
        right = header.sectionViewportPosition(model.columnCount() - 1) + header.sectionSize(model.columnCount() - 1)
        assert right <= view.viewport().width(), f"{model.COLUMNS} do not all show"
        assert all(header.sectionSize(c) >= view.fontMetrics().horizontalAdvance(model.COLUMNS[c])
                   for c in range(model.columnCount()))
    assert window.entity_table.horizontalHeader().sectionSize(0) >= 200  # the Text column has room
    # what the title cell draws: the file name's end and the row, shortened at the start
    index = window.documents.index(0, 0)
    option = QStyleOptionViewItem()
    option.initFrom(table)
    table.itemDelegateForColumn(0).initStyleOption(option, index)
    width = table.horizontalHeader().sectionSize(0) - 8
    drawn = table.fontMetrics().elidedText(option.text, option.textElideMode, width)
    # how much of the name fits depends on the fonts other tests have registered: the row and the file's
    # distinguishing end must, with the shortening at the start
    assert drawn.endswith("4.xlsx row 5") and drawn.startswith("…") and drawn != option.text, drawn


def test_the_sort_and_the_column_widths_are_remembered(qtbot, window, open_window, db):
    header = window.document_table.horizontalHeader()
    header.sectionClicked.emit(window.documents.COLUMNS.index("Title"))
    assert window.list_view.sort == "title"
    header.resizeSection(1, 150)
    window.close()
    again = open_window(Repository(db), db.parent)
    assert again.list_view.sort == "title" and not again.list_view.descending
    assert [d.id for d in again.documents.rows] == [1, 2, 3, 4]
    assert again.document_table.horizontalHeader().sectionSize(1) == 150
    again.repo.close()


def test_ctrl_z_in_the_filter_box_undoes_the_last_edit(qtbot, window):
    w = active(qtbot, window)
    keys(qtbot, Qt.Key.Key_F6, Qt.Key.Key_N, Qt.Key.Key_A)  # accept "মাথা ব্যথা"
    assert [e.status for e in w.repo.entities(4)][0] == "accepted"
    keys(qtbot, (Qt.Key.Key_F, CTRL))
    assert focused() is w.filter
    qtbot.keyClicks(w.filter, "ward")
    keys(qtbot, (Qt.Key.Key_Z, CTRL))
    assert [e.status for e in w.repo.entities(4)][0] == "suggested"  # the Accept is undone
    assert w.filter.text() == "ward"  # and the filter is what was typed
    keys(qtbot, (Qt.Key.Key_Z, CTRL | SHIFT))
    assert [e.status for e in w.repo.entities(4)][0] == "accepted"


def test_about_says_version_model_and_accuracy_in_plain_words_and_renders_the_card(qtbot, window):
    from app import __version__

    about = next(a for a in window.actions() if a.text() == "About Bangla MedER")
    about.trigger()
    dialog = window._help
    text = dialog.browser.toPlainText()
    assert __version__ in text and f"Model version: {window.tagger.version}" in text
    assert "in 10 of the entities it marks are exactly right" in text and "labelled documents" in text
    assert "**" not in text and "strict micro-F1" not in text  # words for clinicians, not a results table
    button = dialog.findChild(type(dialog.layout().itemAt(1).widget()), "open_model_card")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    card = dialog.card
    assert card.isVisible()
    rendered = card.browser.toPlainText()
    assert rendered.startswith("Bangla MedER bundled models") and "|---|" not in rendered and "**" not in rendered
    assert "<table" in card.browser.document().toHtml()


def test_a_double_clicked_last_word_becomes_an_entity_without_the_danda(qtbot, window):
    from PySide6.QtGui import QTextCursor

    w = active(qtbot, window)
    cursor = QTextCursor(w.view.document())
    cursor.setPosition(w.view.to_qt(16))  # inside "জ্বর", the word before "।"
    point = w.view.cursorRect(cursor).center()
    qtbot.mouseDClick(w.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert w.view.selection() is not None
    keys(qtbot, str(w.types.index("Symptom") + 1))
    assert [(e.start, e.end) for e in w.repo.entities(4) if e.label == "Symptom" and e.source == "human"] == [(14, 18)]


def test_finished_background_work_is_let_go(qtbot, window, tmp_path):
    target = tmp_path / "out.xlsx"
    window.export_to(target)
    qtbot.waitUntil(target.exists, timeout=20000)
    qtbot.waitUntil(lambda: not window._background_ops, timeout=5000)


def test_file_dialogs_open_where_the_user_last_was_not_in_the_install_folder(qtbot, window, tmp_path, monkeypatch):
    from pathlib import Path

    from PySide6.QtWidgets import QFileDialog

    clinic = tmp_path / "clinic notes"
    clinic.mkdir()
    (clinic / "ward.txt").write_text("রোগীর জ্বর আছে", encoding="utf-8")
    opened = []  # the folder each dialog opened in (the platform's dialog cannot be driven in a test)

    def choose(parent, title, folder, filters):
        opened.append(folder)
        return [str(clinic / "ward.txt")], filters

    def save(parent, title, suggested, filters):
        opened.append(str(Path(suggested).parent))
        return "", ""  # Cancel

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(choose))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save))
    w = active(qtbot, window)
    keys(qtbot, (Qt.Key.Key_O, CTRL))
    assert opened == [str(Path.home())]
    qtbot.waitUntil(lambda: w.repo.counts()["documents"] == 5, timeout=20000)
    keys(qtbot, (Qt.Key.Key_O, CTRL))
    keys(qtbot, (Qt.Key.Key_E, CTRL))  # Export to Excel: where the documents came from, until an export is made
    assert opened[1:] == [str(clinic), str(clinic)]
    qtbot.waitUntil(lambda: not w._background_ops, timeout=20000)  # the second import (all skipped) has ended
