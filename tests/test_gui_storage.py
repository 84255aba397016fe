"""What the window and the start-up say when the database refuses a write or cannot be opened."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from app.gui.application import open_repository, run_gui
from engine.errors import StorageError
from engine.spans import Entity
from engine.storage import Repository
from tests.test_backup import schema_2_database
from tests.test_storage_faults import damage, make_db

ROOT = Path(__file__).resolve().parent.parent
NOTE = "রোগীর জ্বর ও মাথা ব্যথা। নাপা ৫০০ মিগ্রা দিনে ৩ বার খেতে বলা হয়েছে।"


@pytest.fixture
def messages(monkeypatch):
    seen = []
    for kind in ("warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(
            lambda parent, title, text, *a, kind=kind: seen.append((kind, text))))
    return seen


def test_a_failed_edit_is_shown_and_the_view_shows_what_is_stored(open_window, qtbot, tmp_path, messages):
    db = tmp_path / "meder.sqlite3"
    repo = Repository(db, timeout_s=0.1)
    doc = repo.add_documents([("n", NOTE, "paste", [Entity(25, 29, "Medicine", 0.9)])], origin="model")[0]
    w = open_window(repo, tmp_path)
    w.show_document(doc)
    w.view.select_entity(repo.entities(doc)[0].id)
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        w.label_key("Symptom")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    [(kind, text)] = messages
    assert kind == "warning" and text.startswith("The edit “change to Symptom” was not saved: the database is busy")
    assert [(e.label, e.status) for e in w.entities.rows] == [("Medicine", "suggested")]
    assert w.undo_action.text() == "Undo"  # nothing pretends to be undoable
    w.retry_action.trigger()  # the lock is gone: the kept edit is saved
    assert [e.label for e in w.entities.rows] == ["Symptom"] and not w.retry_action.isVisible()
    w.view.select_entity(repo.entities(doc)[0].id)
    w.label_key("Medicine")  # and keys work again
    assert [e.label for e in w.entities.rows] == ["Medicine"]


def test_refused_edits_are_kept_in_order_and_retry_saves_what_still_applies(open_window, qtbot, tmp_path, messages,
                                                                             monkeypatch):
    db = tmp_path / "meder.sqlite3"
    repo = Repository(db, timeout_s=0.1)
    doc = repo.add_documents([("n", NOTE, "paste", [Entity(25, 29, "Medicine", 0.9), Entity(5, 9, "Symptom", 0.8)])],
                             origin="model")[0]
    w = open_window(repo, tmp_path)
    w.show_document(doc)
    medicine, symptom = sorted(repo.entities(doc), key=lambda e: -e.start)
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        w.view.select_entity(medicine.id)
        w.label_key("Dosage")  # kept
        w.view.select_entity(medicine.id)
        w.delete_selected()  # kept too, but the relabel replaces the entity first: it will no longer apply
        w.view.select_entity(symptom.id)
        w.accept_selected()  # kept
        w.undo()  # not kept: what Undo undoes moves
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert len(messages) == 4 and all(kind == "warning" for kind, _ in messages)
    assert "File › Retry saving 1 edit(s) saves it" in messages[0][1]
    assert "The edit is kept" not in messages[3][1]
    assert w.retry_action.isVisible() and w.retry_action.text() == "Retry saving 3 edit(s)"
    assert [(e.label, e.status) for e in repo.entities(doc)] == [("Symptom", "suggested"), ("Medicine", "suggested")]
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a: QMessageBox.StandardButton.No))
    w.close()  # quitting would lose them: the user said No
    assert w.isVisible()
    messages.clear()
    w.retry_action.trigger()
    assert [(e.label, e.status) for e in repo.entities(doc)] == [("Symptom", "accepted"), ("Dosage", "accepted")]
    [(kind, text)] = messages
    assert kind == "information" and "1 kept edit(s) no longer apply" in text and "no longer exists" in text
    assert not w.retry_action.isVisible() and w.unsaved_edits == []
    assert [(e.label, e.status) for e in w.entities.rows] == [("Symptom", "accepted"), ("Dosage", "accepted")]
    w.undo()  # the replayed edits are ordinary undo steps
    assert [(e.label, e.status) for e in repo.entities(doc)] == [("Symptom", "suggested"), ("Dosage", "accepted")]


def test_a_window_edit_waits_about_a_second_for_a_lock_not_ten(tmp_path):
    from app.gui.application import EDIT_WAIT_S, open_repository

    repo = open_repository(tmp_path / "meder.sqlite3")
    doc = repo.add_documents([("n", NOTE, "paste", [Entity(25, 29, "Medicine", 0.9)])], origin="model")[0]
    lock = sqlite3.connect(tmp_path / "meder.sqlite3", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        started = time.perf_counter()
        with pytest.raises(StorageError, match="busy"):
            repo.set_reviewed(doc)
        edit_s = time.perf_counter() - started
        started = time.perf_counter()
        with pytest.raises(StorageError, match="busy"):
            repo.set_setting("last_document", str(doc))  # a convenience: no wait at all
        setting_s = time.perf_counter() - started
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert EDIT_WAIT_S * 0.9 <= edit_s < EDIT_WAIT_S + 2 and setting_s < 0.5
    repo.set_reviewed(doc)  # the wait is back to the connection's after a no-wait write
    assert repo.document(doc).reviewed
    repo.close()


def test_a_paste_the_database_refuses_is_kept_for_retry(open_window, qtbot, tmp_path, messages, monkeypatch):
    db = tmp_path / "meder.sqlite3"
    repo = Repository(db, timeout_s=0.1)
    w = open_window(repo, tmp_path)
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    QGuiApplication.clipboard().setText(NOTE)
    w.new_from_clipboard()
    qtbot.waitUntil(lambda: bool(messages), timeout=20000)
    lock.execute("ROLLBACK")
    lock.close()
    [(kind, text)] = messages
    assert kind == "warning" and "The 1 new document(s) were not saved: the database is busy" in text
    assert "File › Retry saving 1 document(s)" in text
    assert repo.counts()["documents"] == 0 and w.retry_action.isVisible()
    assert w.retry_action.text() == "Retry saving 1 document(s)"
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a: QMessageBox.StandardButton.No))
    w.close()  # quitting would lose them: the user said No
    assert w.isVisible()
    w.retry_action.trigger()
    assert repo.counts()["documents"] == 1 and repo.entities(repo.documents()[0].id)  # tagged work kept
    assert w.unsaved == [] and not w.retry_action.isVisible()


def answer(qtbot, button_texts):
    """Click the named buttons of the modal dialogs, in turn, recording their texts."""
    seen = []

    def click():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        seen.append(box.text())
        name = button_texts.pop(0)
        [button] = [b for b in box.buttons() if b.text() == name]
        button.click()
        if button_texts:
            QTimer.singleShot(20, click)

    QTimer.singleShot(0, click)
    return seen


def test_a_damaged_database_offers_salvage_and_never_a_traceback(qtbot, tmp_path, messages):
    good = make_db(tmp_path / "good.sqlite3", n=150, filler=" কাশি" * 40)
    (tmp_path / "data").mkdir()
    db = damage(good, tmp_path / "data" / "meder.sqlite3", how="zero")
    before = db.read_bytes()
    dialogs = answer(qtbot, ["Salvage to JSONL", "Quit"])
    assert open_repository(db) is None
    assert "cannot open the database: the file is damaged" in dialogs[0] and len(dialogs) == 2
    [(kind, text)] = messages
    [salvaged] = (tmp_path / "data").glob("meder-salvaged-*.jsonl")
    assert kind == "information" and str(salvaged) in text and "The damaged database was not changed" in text
    assert len(salvaged.read_text(encoding="utf-8").splitlines()) > 50
    assert db.read_bytes() == before


def test_an_empty_database_is_set_aside_only_when_the_user_says_so(qtbot, tmp_path, messages):
    db = tmp_path / "meder.sqlite3"
    db.write_bytes(b"")
    dialogs = answer(qtbot, ["Start a new database"])
    repo = open_repository(db)
    assert "is empty (0 bytes)" in dialogs[0] and repo is not None and repo.counts()["documents"] == 0
    [aside] = tmp_path.glob("meder.sqlite3.empty-*")
    assert aside.stat().st_size == 0
    repo.close()


def test_the_crlf_migration_is_said_once_at_start(open_window, qtbot, tmp_path):
    schema_2_database(tmp_path / "meder.sqlite3")
    repo = Repository(tmp_path / "meder.sqlite3")
    w = open_window(repo, tmp_path)
    box = w.findChild(QMessageBox, "storage_notices")
    assert box is not None and box.isVisible() and "1 document(s) with Windows line ends" in box.text()
    assert repo.notices == []
    box.close()
    repo.close()


def test_an_uncreatable_data_folder_is_a_message(qtbot, tmp_path, messages):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert run_gui(data_dir=str(blocker / "data"), model_dir=None) == 2
    [(kind, text)] = messages
    assert kind == "critical" and "cannot be created" in text and "--data-dir" in text


def test_selftest_and_extract_write_nothing_in_the_data_folder(tmp_path):
    data = tmp_path / "data"  # does not exist: a read-only command must not create it
    env = {"BANGLA_MEDER_DATA": str(data), "PATH": "/usr/bin:/bin"}
    selftest = subprocess.run([sys.executable, "-m", "app", "--selftest"], cwd=ROOT, capture_output=True,
                              text=True, timeout=300, env=env)
    assert selftest.returncode == 0, selftest.stderr
    note = tmp_path / "note.txt"
    note.write_text(NOTE, encoding="utf-8")
    blocked = tmp_path / "file"
    blocked.write_text("")
    extract = subprocess.run([sys.executable, "-m", "app", "--data-dir", str(blocked / "sub"), "extract", str(note)],
                             cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert extract.returncode == 0, extract.stderr
    assert "\tMedicine\t" in extract.stdout and "Traceback" not in extract.stderr
    assert not data.exists()
