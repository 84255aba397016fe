"""Start the desktop app: fonts, log, crash reports, database, main window."""

from __future__ import annotations

import logging
import platform
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.paths import install_root
from engine.logs import current_log, describe, install_excepthook

log = logging.getLogger(__name__)

EDIT_WAIT_S = 1.0  # seconds a write from the window waits for another program's lock


class CrashReporter(QObject):
    """Tells the user about an unhandled exception (already logged), on the GUI thread, one dialog at a time.

    Without it an exception in a slot only reaches stderr, which the windowed Windows build does not have.
    """

    _failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.box: QMessageBox | None = None
        self._failed.connect(self._on_failed)  # queued when the exception happened in another thread

    def report(self, exc: BaseException) -> None:
        self._failed.emit(describe(exc))

    def _on_failed(self, what: str) -> None:
        if self.box is not None and self.box.isVisible():  # a failing paint or timer would stack up dialogs
            return
        where = current_log()
        log_line = f"The details are in the log:\n{where}" if where else "No log file could be written."
        parent = self.parent() if isinstance(self.parent(), QWidget) else None
        self.box = QMessageBox(QMessageBox.Icon.Critical, "Bangla MedER: something went wrong",
                               f"Something went wrong: {what}\n\nEvery edit is saved the moment you make it; the one "
                               f"you were making may not have been. {log_line}", parent=parent)
        self.box.setObjectName("crash_report")
        self.box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # to copy the log's path
        if QThread.currentThread().loopLevel() == 0:  # before or after the event loop: wait for OK
            self.box.exec()
        else:
            self.box.open()


def install_crash_reporter(parent: QObject | None = None) -> tuple[CrashReporter, Callable[[], None]]:
    """Log and show every unhandled exception from now on; returns the reporter and a function to undo it."""
    reporter = CrashReporter(parent)
    return reporter, install_excepthook(reporter.report)


def register_fonts() -> str | None:
    """Load the bundled Noto Sans Bengali so Bangla renders without system fonts."""
    from PySide6.QtGui import QFontDatabase

    family = None
    for path in sorted((install_root() / "app" / "fonts").glob("*.ttf")):
        font_id = QFontDatabase.addApplicationFont(str(path))
        if font_id >= 0 and family is None:
            family = QFontDatabase.applicationFontFamilies(font_id)[0]
    return family


def run_gui(*, data_dir: str | None, model_dir: Path | None) -> int:
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication

    from app import __version__
    from app.data_dir import data_dir as user_data_dir
    from app.gui.main_window import MainWindow
    from engine.backup import daily_backup
    from engine.errors import MederError, StorageError
    from engine.logs import start_logging, stop_logging
    from engine.model_registry import ModelRegistry

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Bangla MedER")
    family = register_fonts()
    if family:
        font = QFont(app.font())
        font.setFamilies([family, *font.families()])
        font.setPointSize(max(font.pointSize(), 11))
        app.setFont(font)
    try:
        folder = user_data_dir(data_dir)
    except MederError as exc:
        QMessageBox.critical(None, "Bangla MedER", str(exc))
        return 2
    try:
        start_logging(folder)
    except OSError as exc:  # the app works without a log (a crash dialog then says there is none)
        print(f"no log file: {exc}", file=sys.stderr)
    log.info("Bangla MedER %s started (Python %s, %s); data folder %s", __version__, platform.python_version(),
             platform.platform(), folder)
    _, restore_hooks = install_crash_reporter(app)
    from engine.instance_lock import AlreadyRunning, InstanceLock

    lock = InstanceLock(folder)  # one window per data folder: a second would go stale and could disturb a retrain
    try:
        lock.acquire()
    except (AlreadyRunning, OSError) as exc:
        QMessageBox.critical(None, "Bangla MedER", str(exc))
        return 2
    repo = open_repository(folder / "meder.sqlite3")
    if repo is None:
        return 2
    try:
        daily_backup(repo.path)
    except StorageError as exc:  # the app works without it; say so rather than stop
        repo.notices.append(str(exc))
    registry = ModelRegistry(folder / "models", install_root() / "model_assets")
    registry.cleanup_leftovers()  # a retraining killed mid-way leaves a temporary folder
    log.info("model: %s", model_dir or f"version {registry.active().version}")  # a fallback is logged with its cause
    window = MainWindow(repo, registry, model_dir=model_dir)
    window.show()
    code = app.exec()
    repo.close()
    lock.release()
    log.info("Bangla MedER closed")
    restore_hooks()
    stop_logging()
    return code


def open_repository(db_path: Path, parent=None):
    """Open the database, or tell the user why not and offer what can be done; None to quit.

    A damaged file offers a salvage into JSONL and a restore; an empty file (a
    crash leftover) offers a new database with the empty file kept aside, or a restore.
    """
    from PySide6.QtWidgets import QInputDialog, QMessageBox

    from engine.backup import backup_folder, list_backups, restore_backup, set_aside
    from engine.errors import MederError
    from engine.storage import DamagedDatabase, EmptyDatabase, Repository, salvage

    while True:
        try:
            # an edit waits at most a second for another program's lock (a backup or sync tool, a database
            # browser): the window must not freeze; what could not be saved is kept for File › Retry saving
            return Repository(db_path, timeout_s=EDIT_WAIT_S)
        except (DamagedDatabase, EmptyDatabase) as exc:
            problem = exc
        except MederError as exc:
            QMessageBox.critical(parent, "Bangla MedER", str(exc))
            return None
        box = QMessageBox(QMessageBox.Icon.Critical, "Bangla MedER: the database cannot be opened", str(problem),
                          parent=parent)
        first = box.addButton("Salvage to JSONL" if isinstance(problem, DamagedDatabase) else "Start a new database",
                              QMessageBox.ButtonRole.AcceptRole)
        restore = box.addButton("Restore a backup…", QMessageBox.ButtonRole.ActionRole)
        restore.setEnabled(bool(list_backups(db_path)))
        box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        try:
            if box.clickedButton() is first and isinstance(problem, DamagedDatabase):
                stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
                report = salvage(db_path, db_path.with_name(f"{db_path.stem}-salvaged-{stamp}.jsonl"))
                QMessageBox.information(
                    parent, "Bangla MedER",
                    f"{report.documents} documents with {report.entities} entities were saved to {report.path} "
                    f"(File › Import reads it). Unreadable rows, not saved: {report.unreadable_documents} "
                    f"documents, {report.unreadable_entities} entities. The damaged database was not changed.")
            elif box.clickedButton() is first:
                set_aside(db_path, why="empty")
            elif box.clickedButton() is restore:
                names = [p.name for p in list_backups(db_path)]
                name, ok = QInputDialog.getItem(parent, "Restore a backup", "Backup (newest first):", names, 0, False)
                if ok:
                    notices: list[str] = []
                    aside = restore_backup(backup_folder(db_path) / name, db_path, notices=notices)
                    kept = [f"The previous database is kept as {aside}."] if aside is not None else []
                    if kept or notices:
                        QMessageBox.information(parent, "Bangla MedER", "\n\n".join(kept + notices))
            else:
                return None
        except MederError as exc:
            QMessageBox.warning(parent, "Bangla MedER", str(exc))
