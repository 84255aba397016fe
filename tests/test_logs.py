"""The log file, the crash dialog, and a damaged retrained model that is replaced visibly."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import threading

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from app.gui.application import install_crash_reporter
from app.gui.main_window import MainWindow
from app.paths import install_root
from engine.logs import LOG_FILE, MASK, log_trainer_output, start_logging, stop_logging
from engine.model_registry import BUNDLED, ModelRegistry
from engine.storage import Repository

NOTE = "রোগীর জ্বর ও মাথা ব্যথা। নাপা ৫০০ মিগ্রা দিনে ৩ বার খেতে বলা হয়েছে।"


@pytest.fixture
def log_file(tmp_path):
    path = start_logging(tmp_path)
    yield path
    stop_logging()


def read(path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8")


def crash_box() -> QMessageBox | None:
    boxes = [w for w in QApplication.topLevelWidgets() if w.objectName() == "crash_report" and w.isVisible()]
    return boxes[0] if boxes else None


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_log_files_are_private_and_rotate(tmp_path):
    path = start_logging(tmp_path, max_bytes=2000)
    try:
        for n in range(150):  # about 12 kB: more than the four 2 kB files hold
            logging.getLogger("engine.test").info("record %d of a long run", n)
    finally:
        stop_logging()
    assert path == tmp_path / LOG_FILE
    rotated = sorted(p.name for p in tmp_path.glob(LOG_FILE + "*"))
    assert rotated == [LOG_FILE, f"{LOG_FILE}.1", f"{LOG_FILE}.2", f"{LOG_FILE}.3"]  # the oldest are dropped
    for name in rotated:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert "record 149 of a long run" in path.read_text(encoding="utf-8")


def test_note_text_never_reaches_the_log(log_file):
    try:
        raise ValueError(f"cannot tag {NOTE!r}")
    except ValueError:
        logging.getLogger("engine.test").exception("tagging failed for document %d", 7)
    text = read(log_file)
    assert "tagging failed for document 7" in text and "ValueError: cannot tag '" + MASK in text
    assert "জ্বর" not in text and "নাপা" not in text


def test_the_trainers_stderr_is_logged_line_by_line(log_file):
    log_trainer_output(b"[W:onnxruntime:, graph.cc:1] a warning\n")
    log_trainer_output(f"Traceback (most recent call last):\n  File \"x.py\"\nerror: no room for {NOTE}\n".encode())
    lines = [line for line in read(log_file).splitlines() if " trainer.process: " in line]
    assert [line.split(" trainer.process: ")[1] for line in lines] == [
        "[W:onnxruntime:, graph.cc:1] a warning", "Traceback (most recent call last):", '  File "x.py"',
        f"error: no room for {MASK}"]


@pytest.mark.qt_no_exception_capture  # our hook, not pytest-qt's, must see the exception
def test_an_exception_in_a_slot_is_logged_and_shown(qtbot, log_file):
    _, restore = install_crash_reporter()
    button = QPushButton("Tag")
    qtbot.addWidget(button)

    def on_tag_clicked():
        raise KeyError(f"no document {NOTE}")

    button.clicked.connect(on_tag_clicked)
    try:
        QTimer.singleShot(0, button.click)  # from the event loop, as in the app
        qtbot.waitUntil(lambda: crash_box() is not None)
        box = crash_box()
        assert box.text().startswith("Something went wrong: KeyError: ")
        assert str(log_file) in box.text()
        text = read(log_file)
        assert "unhandled exception in the main thread" in text
        assert "in on_tag_clicked" in text and "KeyError" in text and "নাপা" not in text
        box.close()
    finally:
        restore()


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_thread_is_shown_on_the_gui_thread(qtbot, log_file):
    _, restore = install_crash_reporter()

    def export_in_background():
        raise OSError("the disk is full")

    try:
        worker = threading.Thread(target=export_in_background, name="export")
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: crash_box() is not None)
        assert "OSError: the disk is full" in crash_box().text()
        assert "unhandled exception in thread export" in read(log_file)
        crash_box().close()
    finally:
        restore()


def damaged_copy(models, version="20261126-0900"):
    """A real retrained-version folder (the bundled INT8 model, copied) chosen as active."""
    shutil.copytree(install_root() / "model_assets" / "student-int8", models / version / "student-int8")
    (models / "active.json").write_text(json.dumps({"version": version}), encoding="utf-8")
    return models / version / "student-int8"


def test_a_damaged_retrained_model_falls_back_with_a_notice(tmp_path, log_file):
    registry = ModelRegistry(tmp_path / "models", install_root() / "model_assets")
    student = damaged_copy(registry.dir)
    assert registry.active().version == "20261126-0900" and registry.take_notices() == []
    with open(student / "tokenizer.json", "ab") as f:  # one byte more: its checksum no longer matches
        f.write(b" ")
    assert registry.active().bundled
    assert registry.active().bundled  # asked again: still one notice
    assert registry.take_notices() == ["Model 20261126-0900 is damaged; using the bundled model. Details in the log."]
    assert registry.take_notices() == []
    text = read(log_file)
    assert "Model 20261126-0900 is damaged; using the bundled model. Why:" in text and "tokenizer.json" in text

    shutil.rmtree(student.parent)
    assert registry.active().bundled
    assert registry.take_notices() == ["Model 20261126-0900 is missing; using the bundled model. Details in the log."]


def test_the_window_says_which_model_runs_instead_of_a_damaged_one(qtbot, tmp_path):
    registry = ModelRegistry(tmp_path / "models", install_root() / "model_assets")
    student = damaged_copy(registry.dir)
    (student / "model.onnx").write_bytes(b"not a model")
    repo = Repository(tmp_path / "meder.sqlite3")
    window = MainWindow(repo, registry)
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: window.tagger is not None, timeout=20000)
        notices = window.findChild(QMessageBox, "model_notices")
        assert notices is not None and notices.isVisible()
        assert notices.text() == "Model 20261126-0900 is damaged; using the bundled model. Details in the log."
        assert window.model_dir == install_root() / "model_assets" / "student-int8"
        assert window.model_label.text() == f"model {BUNDLED}"
    finally:
        repo.close()
