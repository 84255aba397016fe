"""The real main window, driven offscreen with pytest-qt."""

from __future__ import annotations

import json

import pytest
from openpyxl import Workbook, load_workbook
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QTextCursor

from engine.errors import ModelError
from engine.model_registry import BUNDLED, ModelRegistry
from engine.storage import Repository

NOTE = "রোগীর জ্বর ও মাথা ব্যথা। নাপা ৫০০ মিগ্রা দিনে ৩ বার খেতে বলা হয়েছে।"


def paste(qtbot, w, text=NOTE):
    before = w.repo.counts()["documents"]
    QGuiApplication.clipboard().setText(text)
    qtbot.keyClick(w, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: w.repo.counts()["documents"] == before + 1, timeout=20000)


def select(w, start, end):
    cursor = w.view.textCursor()
    cursor.setPosition(w.view.to_qt(start))
    cursor.setPosition(w.view.to_qt(end), QTextCursor.MoveMode.KeepAnchor)
    w.view.setTextCursor(cursor)


def shown(w):
    return [(w.entities.text[e.start:e.end], e.label) for e in w.entities.rows]


def test_paste_highlights_entities(qtbot, window):
    paste(qtbot, window)
    labels = {label for _, label in shown(window)}
    assert {"Symptom", "Medicine"} <= labels
    for e in window.entities.rows:  # every entity is painted in its type's colour
        colour = window.view.format_at(e.start).background().color()
        full = QColor(window.view.colors[e.label])
        assert e.status == "suggested"  # suggestions: half the type's colour (accepted ones get all of it)
        assert abs(colour.redF() - (0.5 + full.redF() / 2)) < 0.01 and abs(colour.blueF() - (0.5 + full.blueF() / 2)) < 0.01
    assert window.view.format_at(0).background().style() == Qt.BrushStyle.NoBrush
    assert window.documents.rowCount() == 1
    assert window.model_label.text() == f"model {BUNDLED}"  # a fresh data folder runs the bundled model


def test_add_relabel_delete_undo_redo_with_keys(qtbot, window):
    paste(qtbot, window, "রোগী খুব ক্লান্ত।")
    for e in list(window.entities.rows):
        window.repo.delete(e.id)
    window._refresh_entities()
    select(window, 5, 8)  # part of "খুব" snaps to the word
    qtbot.keyClick(window, Qt.Key.Key_1)  # first type's hotkey
    first_type = window.types[0]
    assert shown(window) == [("খুব", first_type)]
    window._on_entity_clicked(window.entities.rows[0].id)
    window.view.setTextCursor(QTextCursor(window.view.document()))  # no selection: hotkey relabels
    qtbot.keyClick(window, Qt.Key.Key_2)
    assert shown(window) == [("খুব", window.types[1])]
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    assert shown(window) == []
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert shown(window) == [("খুব", window.types[1])]
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert shown(window) == [("খুব", first_type)]
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert shown(window) == [("খুব", window.types[1])]


def test_entity_table_shows_review_status(qtbot, window):
    paste(qtbot, window)
    model = window.entities

    def statuses():
        return {model.data(model.index(r, 0)): model.data(model.index(r, 3)) for r in range(model.rowCount())}

    assert model.headerData(3, Qt.Orientation.Horizontal) == "Status"
    assert set(statuses().values()) == {"suggested"}
    first = model.rows[0]
    window._on_entity_clicked(first.id)
    window.view.setTextCursor(QTextCursor(window.view.document()))
    qtbot.keyClick(window, Qt.Key.Key_A)
    after = statuses()
    assert after.pop(NOTE[first.start:first.end]) == "accepted"
    assert set(after.values()) == {"suggested"}
    start = NOTE.index("খেতে")
    select(window, start, start + len("খেতে"))
    qtbot.keyClick(window, Qt.Key.Key_1)
    assert statuses()["খেতে"] == "manual"


def test_overlap_is_refused_with_a_message(qtbot, window):
    paste(qtbot, window)
    first = window.entities.rows[0]
    select(window, first.start, first.end)
    qtbot.keyClick(window, Qt.Key.Key_3)
    assert "overlaps" in window.statusBar().currentMessage()


def test_mark_reviewed_accepts_and_moves_on(qtbot, window):
    paste(qtbot, window, "কাশি আছে")
    paste(qtbot, window)
    newest = window.current_id
    qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.repo.document(newest).reviewed
    assert {e.status for e in window.repo.entities(newest)} <= {"accepted"}
    assert window.current_id != newest  # went to the next unreviewed document


def test_import_every_format_and_report_bad_files(qtbot, window, tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text(NOTE, encoding="utf-16")
    (tmp_path / "b.csv").write_text(f"id,note\n1,{NOTE}\n2,জ্বর আছে\n", encoding="utf-8")
    wb = Workbook()
    wb.active.append(["note"])
    wb.active.append(["মাথা ব্যথা"])
    wb.save(tmp_path / "c.xlsx")
    (tmp_path / "d.json").write_text(json.dumps([{"text": "নাপা খাই", "labels": ["B-Medicine", "O"]}],
                                                ensure_ascii=False), encoding="utf-8")
    (tmp_path / "e.jsonl").write_text(json.dumps({"text": "জ্বর", "label": [[0, 4, "Symptom"]]}, ensure_ascii=False)
                                      + "\n", encoding="utf-8")
    (tmp_path / "f.conll").write_text("কাশি\tB-Symptom\n", encoding="utf-8")
    (tmp_path / "g.jsonl").write_text("{broken\n", encoding="utf-8")
    (tmp_path / "h.txt").write_bytes(b"")
    files = sorted(tmp_path.glob("*.*"))
    files = [f for f in files if f.suffix != ".sqlite3" and "meder" not in f.name]
    from PySide6.QtWidgets import QMessageBox
    warnings = []
    # the warning dialog is modal; capture its text instead of blocking the test
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text: warnings.append(text)))
    window.import_files(files, text_column="note")
    # 8 files, 2 unreadable, 7 texts: b.csv's first row repeats a.txt's text and is skipped as already stored
    qtbot.waitUntil(lambda: window.repo.counts()["documents"] == 6, timeout=30000)
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert "g.jsonl:1: this line is not JSON" in warnings[0] and "h.txt: the file is empty" in warnings[0]
    human = [d for d in window.repo.documents() if d.title.startswith(("d.json", "e.jsonl", "f.conll"))]
    assert {e.source for d in human for e in window.repo.entities(d.id)} == {"human"}


def test_export_excel_reads_back(qtbot, window, tmp_path):
    paste(qtbot, window, "=HYPERLINK(1) " + NOTE)
    path = tmp_path / "out.xlsx"
    window.export_to(path)  # what File > Export to Excel does once a file name is chosen
    qtbot.waitUntil(lambda: "Exported 1 documents" in window.statusBar().currentMessage(), timeout=20000)
    assert [p.name for p in tmp_path.iterdir() if p.suffix in (".xlsx", ".part")] == ["out.xlsx"]
    wb = load_workbook(path)
    rows = list(wb["Entities"].iter_rows(values_only=True))
    assert rows[0][:4] == ("document", "title", "entity text", "type") and len(rows) == len(window.entities.rows) + 1
    assert wb["Documents"]["G2"].value.startswith("=HYPERLINK(1)")
    assert wb["Documents"]["G2"].data_type == "s"


def test_retrain_dialog_runs_the_trainer_and_lists_the_version(qtbot, tmp_path, tiny_bundle):
    from test_retrain import make_db

    from app.gui.retrain_dialog import RetrainDialog
    from app.gui.versions_dialog import VersionsDialog

    repo = Repository(make_db(tmp_path / "clinic.sqlite3"))
    registry = ModelRegistry(tmp_path / "models", tiny_bundle)
    dialog = RetrainDialog(None, repo, registry, tiny_bundle)
    qtbot.addWidget(dialog)
    assert "30 reviewed documents" in dialog.summary.text()
    with qtbot.waitSignal(dialog.finished_report, timeout=180000) as finished:
        dialog.start()
    report = finished.args[0]
    assert dialog.verdict.text() == report.verdict()
    versions = VersionsDialog(None, registry, lambda: None)
    qtbot.addWidget(versions)
    assert versions.table.rowCount() == 2 and versions.table.item(1, 0).text() == report.version
    versions.table.selectRow(0)
    versions._on_activate()  # roll back to the bundled model
    assert registry.active().version == "bundled"
    versions.table.selectRow(1)
    versions._on_delete(confirm=False)  # discard the retrained version
    assert [v.version for v in registry.versions()] == ["bundled"] and versions.table.rowCount() == 1
    with pytest.raises(ModelError, match="bundled model cannot be deleted"):
        registry.delete("bundled")
    repo.close()


def test_retrain_dialog_cancel_changes_nothing(qtbot, tmp_path, tiny_bundle):
    from test_retrain import make_db

    from app.gui.retrain_dialog import RetrainDialog

    repo = Repository(make_db(tmp_path / "clinic.sqlite3"))
    registry = ModelRegistry(tmp_path / "models", tiny_bundle)
    dialog = RetrainDialog(None, repo, registry, tiny_bundle)
    qtbot.addWidget(dialog)
    dialog.start()
    qtbot.waitUntil(lambda: "Learning from your corrections" in dialog.stage.text(), timeout=60000)
    dialog._on_cancel()
    qtbot.waitUntil(lambda: dialog.process is None, timeout=30000)
    assert "Cancelled" in dialog.stage.text()
    assert [v.version for v in registry.versions()] == ["bundled"]
    assert not list((tmp_path / "models").glob(".meder-tmp-*"))
    repo.close()


def test_types_from_another_tools_file_get_their_own_colours_and_a_legend_entry(qtbot, window, tmp_path):
    from PySide6.QtWidgets import QLabel

    from app.gui.colors import color_for, type_colors

    conll = tmp_path / "news.conll"
    conll.write_text("EU\tB-ORG\nrejects\tO\nPeter\tB-PER\nBlackburn\tI-PER\n", encoding="utf-8")
    window.import_files([conll])
    qtbot.waitUntil(lambda: window.legend.findChild(QLabel, "legend_other_ORG") is not None, timeout=20000)
    known = type_colors(window.types)
    assert {color_for(t, known) for t in ("ORG", "PER")}.isdisjoint(known.values())  # never a clinical type's colour
    assert window.legend.findChild(QLabel, "legend_other_ORG") is not None
    assert window.legend.findChild(QLabel, "legend_other_PER") is not None
    window.show_document(None)
    window.show_document(window.repo.documents()[0].id)
    paste(qtbot, window, NOTE)  # a note with only the model's types: the foreign ones leave the legend
    qtbot.waitUntil(lambda: window.legend.findChild(QLabel, "legend_other_ORG") is None, timeout=20000)
