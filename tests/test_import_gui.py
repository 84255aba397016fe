"""Importing in the real window (offscreen, pytest-qt): a sheet and text column per spreadsheet, Cancel, and
re-importing annotated documents the app exported (update them undoably, or add them as new)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from openpyxl import Workbook
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QMessageBox, QPushButton

from engine.exporting import export_documents
from engine.spans import Document, Entity
from engine.storage import NewDocument, Repository

FOLLOW_UP = ["রোগী ভালো আছে, জ্বর নেই", "কাশি কমেছে, নাপা বন্ধ"]
NOTES = ["রোগীর জ্বর ও মাথা ব্যথা তিন দিন ধরে, নাপা ৫০০ মিগ্রা দিনে তিন বার খেতে বলা হয়েছে।",
         "ডায়াবেটিস আছে, মেটফরমিন চলছে; শ্বাসকষ্ট ও বুকে ব্যথা নিয়ে এসেছেন, ইসিজি করতে বলা হয়েছে।"]
HEADERLESS = [("1001", "রোগীর পেটে ব্যথা, বমি দুই দিন ধরে, খাবার খেতে পারছেন না"),
              ("1002", "চোখে ঝাপসা দেখেন, রক্তচাপ বেশি, চিকিৎসককে দেখাতে বলা হয়েছে")]


@pytest.fixture
def spreadsheets(tmp_path):
    """A workbook of two sheets (the notes sheet has the longer texts), a CSV without a header, a damaged file."""
    wb = Workbook()
    follow = wb.active
    follow.title = "Follow-up"
    follow.append(["patient", "remark"])
    for n, remark in enumerate(FOLLOW_UP, start=1):
        follow.append([f"P-{n}", remark])
    notes = wb.create_sheet("Notes")
    notes.append(["id", "note", "doctor"])
    for n, note in enumerate(NOTES, start=1):
        notes.append([n, note, "Dr. Rahim"])
    book = tmp_path / "clinic.xlsx"
    wb.save(book)
    csv = tmp_path / "no-header.csv"
    csv.write_text("".join(f'{key},"{text}"\n' for key, text in HEADERLESS), encoding="utf-8")
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(b"PK\x03\x04 not really a workbook")
    return book, csv, damaged


def choices_dialog(qtbot, window):
    qtbot.waitUntil(lambda: window.import_choices_dialog is not None and window.import_choices_dialog.isVisible(),
                    timeout=20000)
    return window.import_choices_dialog


def test_each_spreadsheet_gets_its_own_sheet_and_column(qtbot, window, spreadsheets, monkeypatch):
    book, csv, damaged = spreadsheets
    warnings: list[str] = []  # the import summary is modal: keep its text instead of blocking the test
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text: warnings.append(text)))
    window.import_files([book, csv, damaged])
    dialog = choices_dialog(qtbot, window)
    sheet = dialog.findChild(QComboBox, "sheet_0")
    column = dialog.findChild(QComboBox, "column_0")
    preview = dialog.findChild(QLabel, "preview_0")
    # the reader's choice: the sheet with the longest texts, its note column, the first note as preview
    assert [sheet.itemText(i) for i in range(sheet.count())] == ["Follow-up", "Notes"]
    assert sheet.currentText() == "Notes" and column.currentText() == "note"
    assert preview.toolTip() == NOTES[0] and preview.text().startswith(NOTES[0][:10])
    # the CSV: no header row found, so its first row is a note too; a CSV has no sheet to choose
    assert dialog.findChild(QComboBox, "sheet_1") is None
    csv_column = dialog.findChild(QComboBox, "column_1")
    assert [csv_column.itemText(i) for i in range(csv_column.count())] == ["column 1", "column 2"]
    assert csv_column.currentText() == "column 2"
    assert dialog.findChild(QLabel, "hint_1").text() == "no header row: the first row is a note too"
    assert dialog.findChild(QLabel, "preview_1").toolTip() == HEADERLESS[0][1]
    assert dialog.findChild(QLabel, "problem_2").text().startswith("cannot be read: not a readable .xlsx workbook")
    dialog.grab().save(str(window.repo.path.parent / "import_dialog.png"))

    sheet.setCurrentIndex(0)  # the other sheet: its columns are read in the background, OK waits for them
    assert not dialog.ok_button.isEnabled() and not column.isEnabled()
    qtbot.waitUntil(column.isEnabled, timeout=10000)
    assert dialog.ok_button.isEnabled()
    assert [column.itemText(i) for i in range(column.count())] == ["patient", "remark"]
    assert column.currentText() == "remark" and preview.toolTip() == FOLLOW_UP[0]
    column.setCurrentIndex(0)
    assert preview.toolTip() == "P-1"
    column.setCurrentIndex(1)
    dialog.findChild(QPushButton, "import_choices_ok").click()

    qtbot.waitUntil(lambda: bool(warnings), timeout=30000)
    assert "1 file(s) could not be read" in warnings[0] and f"skipped: {damaged}: not a readable .xlsx" in warnings[0]
    docs = {d.text: d for d in window.repo.documents()}
    assert set(docs) == {*FOLLOW_UP, *(text for _, text in HEADERLESS)}  # the chosen sheet, no note lost to a header
    assert docs[FOLLOW_UP[1]].metadata["patient"] == "P-2"
    assert docs[HEADERLESS[0][1]].metadata["column 1"] == "1001"


def test_cancel_imports_nothing_and_says_so(qtbot, window, spreadsheets):
    book, csv, _ = spreadsheets
    window.import_files([book, csv])
    dialog = choices_dialog(qtbot, window)
    dialog.findChild(QPushButton, "import_choices_cancel").click()
    assert window.statusBar().currentMessage() == "Import cancelled; none of the 2 file(s) was imported"
    qtbot.wait(300)  # an import started by mistake would be storing by now
    assert window.repo.counts()["documents"] == 0


def test_a_column_named_up_front_asks_nothing(qtbot, window, spreadsheets):
    book, csv, _ = spreadsheets
    window.import_files([book], text_column="note")
    qtbot.waitUntil(lambda: window.repo.counts()["documents"] == 2, timeout=30000)
    assert window.import_choices_dialog is None
    assert {d.text for d in window.repo.documents()} == set(NOTES)


def test_conll_columns_in_a_tsv_are_not_offered_as_a_table(qtbot, window, tmp_path):
    tsv = tmp_path / "tokens.tsv"
    tsv.write_text("নাপা\tB-Medicine\nখান\tO\n", encoding="utf-8")
    window.import_files([tsv])
    qtbot.waitUntil(lambda: window.repo.counts()["documents"] == 1, timeout=30000)
    assert window.import_choices_dialog is None


# -- re-importing annotated documents -----------------------------------------------------------------------

def click_when_asked(button_name: str, seen: list[str]) -> None:
    """Answer the re-import question (a modal QMessageBox) with the button of that object name."""
    def click():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or box.objectName() != "reimport_question":
            QTimer.singleShot(20, click)
            return
        seen.append(box.text())
        box.findChild(QPushButton, button_name).click()

    QTimer.singleShot(0, click)


TEXT_A = "রোগীর জ্বর ও মাথা ব্যথা।"
TEXT_B = "নাপা খেতে বলা হয়েছে।"


@pytest.fixture
def reviewed(tmp_path):
    """Two reviewed documents, and the Label Studio tasks exported from them with one label changed."""
    path = tmp_path / "meder.sqlite3"
    repo = Repository(path)
    repo.add_documents([NewDocument("A", TEXT_A, "a.txt", [Entity(6, 10, "Symptom")], metadata={"ward": "2"},
                                    reviewed=True),
                        NewDocument("B", TEXT_B, "b.txt", [Entity(0, 4, "Medicine")], reviewed=True)],
                       origin="human")
    docs = [Document(d.text, [e.span() for e in repo.entities(d.id)], name=d.title, metadata=d.metadata)
            for d in repo.documents()]
    repo.close()
    tasks = tmp_path / "reviewed-in-label-studio.json"
    assert export_documents(docs, tasks, fmt="labelstudio").documents == 2
    exported = json.loads(tasks.read_text(encoding="utf-8"))
    [task] = [t for t in exported if t["data"]["text"] == TEXT_A]
    [region] = task["annotations"][0]["result"]
    region["value"]["labels"] = ["Health Condition"]  # what the reviewer changed
    task["data"]["ward"] = "5"
    tasks.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")
    return path, tasks


def labels(repo, text):
    [doc] = [d for d in repo.documents() if d.text == text]
    return [e.label for e in repo.entities(doc.id)]


def test_reimporting_reviewed_tasks_updates_the_stored_documents_undoably(open_window, qtbot, tmp_path, reviewed):
    path, tasks = reviewed
    window = open_window(Repository(path), tmp_path)
    repo = window.repo
    [a] = repo.documents_with_texts([TEXT_A])[TEXT_A]
    old_ids = [e.id for e in repo.entities(a)]
    seen: list[str] = []
    click_when_asked("reimport_update", seen)
    window.import_files([tasks])
    # stored in the background, then the log is shown
    qtbot.waitUntil(lambda: "updated from the file" in window.statusBar().currentMessage(), timeout=30000)
    assert labels(repo, TEXT_A) == ["Health Condition"]
    assert seen == ["2 imported document(s) with annotations have the same text as stored documents."]
    assert repo.counts()["documents"] == 2  # updated, not added
    assert repo.document(a).metadata == {"ward": "5"}
    message = window.statusBar().currentMessage()
    assert "1 document(s) updated from the file (Edit › Undo reverts)." in message
    assert "1 document(s) were already stored as the file has them." in message  # B: unchanged, no undo step
    assert window.undo_action.text() == "Undo update 1 document(s) from an imported file"
    assert window.current_id == a and [e.label for e in window.entities.rows] == ["Health Condition"]

    window.undo()
    assert labels(repo, TEXT_A) == ["Symptom"] and [e.id for e in repo.entities(a)] == old_ids
    assert repo.document(a).metadata == {"ward": "2"} and repo.document(a).reviewed
    assert [e.label for e in window.entities.rows] == ["Symptom"]  # the view follows the undo

    click_when_asked("reimport_add", seen)
    window.import_files([tasks])
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Imported 2 document(s)"), timeout=30000)
    assert len(seen) == 2 and repo.counts()["documents"] == 4
    assert sorted(label for d in repo.documents() if d.text == TEXT_A for label in labels_of(repo, d.id)) == [
        "Health Condition", "Symptom"]
    repo.close()


def labels_of(repo, doc_id):
    return [e.label for e in repo.entities(doc_id)]


def test_cancel_at_the_reimport_question_stores_nothing(open_window, qtbot, tmp_path, reviewed):
    path, tasks = reviewed
    window = open_window(Repository(path), tmp_path)
    seen: list[str] = []
    click_when_asked("reimport_cancel", seen)
    window.import_files([tasks])
    qtbot.waitUntil(lambda: bool(seen) and "cancelled" in window.statusBar().currentMessage(), timeout=30000)
    assert window.statusBar().currentMessage() == "Import cancelled; none of the 2 document(s) was stored"
    assert labels(window.repo, TEXT_A) == ["Symptom"] and window.repo.counts()["documents"] == 2
    assert window.undo_action.text() == "Undo"
    window.repo.close()


def test_an_import_the_database_refuses_stores_nothing_and_can_be_done_again(open_window, qtbot, tmp_path, reviewed,
                                                                             monkeypatch):
    """Read and stored chunk by chunk, an import holds no more than a chunk in memory: when the database refuses it,
    nothing is stored, the user is told so, and the same files import once the database is free again."""
    path, tasks = reviewed
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text: warnings.append(text)))
    window = open_window(Repository(path, timeout_s=0.1), tmp_path)
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another program holds the database
    window.import_files([tasks])
    qtbot.waitUntil(lambda: bool(warnings), timeout=30000)
    lock.execute("ROLLBACK")
    lock.close()
    assert "The import of 1 file(s) was not saved: the database is busy" in warnings[0]
    assert "Nothing of this import was stored" in warnings[0] and not window.retry_action.isVisible()
    assert labels(window.repo, TEXT_A) == ["Symptom"] and window.undo_action.text() == "Undo"
    seen: list[str] = []
    click_when_asked("reimport_update", seen)
    window.import_files([tasks])
    qtbot.waitUntil(lambda: "updated from the file" in window.statusBar().currentMessage(), timeout=30000)
    assert labels(window.repo, TEXT_A) == ["Health Condition"] and window.repo.counts()["documents"] == 2
    assert len(seen) == 1
    window.repo.close()


def test_a_whole_import_is_one_undo_step_in_the_window(qtbot, window, tmp_path):
    notes = []
    for n, note in enumerate(NOTES):
        notes.append(tmp_path / f"note{n}.txt")
        notes[-1].write_text(note, encoding="utf-8")
    window.import_files(notes)
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith(f"Imported {len(NOTES)} document(s)"),
                    timeout=30000)
    assert len(window.documents.rows) == len(NOTES)
    assert window.undo_action.text() == f"Undo import {len(NOTES)} document(s)"
    window.undo()
    assert window.documents.rows == [] and window.repo.counts()["documents"] == 0
    window.redo()
    assert len(window.documents.rows) == len(NOTES)
