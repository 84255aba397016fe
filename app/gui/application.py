"""Start the desktop app: fonts, database, main window."""

from __future__ import annotations

import sys
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
    from app.data_dir import database_path
    from app.gui.main_window import MainWindow
    from engine.errors import MederError
    from engine.model_registry import ModelRegistry
    from engine.storage import Repository

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Bangla MedER")
    family = register_fonts()
    if family:
        font = QFont(app.font())
        font.setFamilies([family, *font.families()])
        font.setPointSize(max(font.pointSize(), 11))
        app.setFont(font)
    try:
        repo = Repository(database_path(data_dir))
    except MederError as exc:
        QMessageBox.critical(None, "Bangla MedER", str(exc))
        return 2
    registry = ModelRegistry(user_data_dir(data_dir) / "models", install_root() / "model_assets")
    registry.cleanup_leftovers()  # a retraining killed mid-way leaves a temporary folder
    window = MainWindow(repo, registry, model_dir=model_dir)
    window.show()
    code = app.exec()
    repo.close()
    return code
