"""Start the desktop app: fonts, database, main window."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from app.paths import install_root


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
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.data_dir import data_dir as user_data_dir
    from app.gui.main_window import MainWindow
    from engine.backup import daily_backup
    from engine.errors import MederError, StorageError
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
    repo = open_repository(folder / "meder.sqlite3")
    if repo is None:
        return 2
    try:
        daily_backup(repo.path)
    except StorageError as exc:  # the app works without it; say so rather than stop
        repo.notices.append(str(exc))
    registry = ModelRegistry(folder / "models", install_root() / "model_assets")
    registry.cleanup_leftovers()  # a retraining killed mid-way leaves a temporary folder
    window = MainWindow(repo, registry, model_dir=model_dir)
    window.show()
    code = app.exec()
    repo.close()
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
            return Repository(db_path)
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
                    aside = restore_backup(backup_folder(db_path) / name, db_path)
                    if aside is not None:
                        QMessageBox.information(parent, "Bangla MedER", f"The previous database is kept as {aside}.")
            else:
                return None
        except MederError as exc:
            QMessageBox.warning(parent, "Bangla MedER", str(exc))
