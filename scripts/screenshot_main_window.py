"""The main window at 1280×760 as a clinic sees it after importing a spreadsheet (docs/main-window.png).

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshot_main_window.py [--out PATH]

Real texts (Bangla-HealthNER test part, ../shared/data) written to a spreadsheet, imported and tagged by the
bundled model through the app's own import path, in a fresh data folder; two documents reviewed; the window
shows the first unreviewed one with an entity selected.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "bangla-healthner")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "main-window.png")
    args = parser.parse_args()

    from openpyxl import Workbook
    from PySide6.QtWidgets import QApplication

    from app.gui.application import register_fonts
    from app.gui.main_window import MainWindow
    from app.paths import install_root
    from engine.import_store import import_and_store
    from engine.model_registry import ModelRegistry
    from engine.storage import Repository
    from trainer.data import load_dataset, split_dataset

    texts = [d.text for d in split_dataset(load_dataset(args.data)).test if 60 < len(d.text) < 400][:24]
    tmp = Path(tempfile.mkdtemp())
    sheet = tmp / "medicine-outpatient-follow-up-notes-november-2026.xlsx"
    book = Workbook()
    book.active.append(["patient id", "note"])
    for n, text in enumerate(texts, start=1):
        book.active.append([f"P-{1040 + n}", text])
    book.save(sheet)

    app = QApplication(sys.argv[:1])
    register_fonts()
    repo = Repository(tmp / "meder.sqlite3")
    window = MainWindow(repo, ModelRegistry(tmp / "models", install_root() / "model_assets"))
    window.resize(1280, 760)
    window.show()
    while window.tagger is None:
        app.processEvents()
        time.sleep(0.01)
    window._on_stored(import_and_store(repo, [sheet], window.tagger, text_column="note"))
    for doc in window.documents.rows[-2:]:  # the two oldest are reviewed
        repo.set_reviewed(doc.id)
    window.refresh_documents()
    window.goto_unreviewed(False)
    window.step_entity(1)
    window.step_entity(1)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out))
    print(f"{args.out}: {window.width()}x{window.height()}, {len(window.documents.rows)} documents, "
          f"{len(window.entities.rows)} entities in the one shown")
    repo.close()


if __name__ == "__main__":
    main()
