"""How long one edit holds the window up while another program holds the database's write lock (prints figures).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/bench_locked_edit.py

The window is opened as the app opens it (``open_repository``), a second connection takes the write lock
(``BEGIN IMMEDIATE``, as a database browser or a sync tool in the middle of a write does), and one relabel key is
pressed; the "Not saved" box is answered at once. Issue 23 measured about 11 s per failed edit before.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOTE = "রোগীর জ্বর ও মাথা ব্যথা। নাপা ৫০০ মিগ্রা দিনে ৩ বার খেতে বলা হয়েছে।"


def main() -> int:
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.gui.application import EDIT_WAIT_S, open_repository
    from app.gui.main_window import MainWindow
    from app.paths import install_root
    from engine.model_registry import ModelRegistry
    from engine.spans import Entity

    app = QApplication.instance() or QApplication([])
    said: list[str] = []
    for kind in ("warning", "information"):  # boxes answered at once
        setattr(QMessageBox, kind, staticmethod(lambda parent, title, text, *a: said.append(text)))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "meder.sqlite3"
        repo = open_repository(db)
        doc = repo.add_documents([("n", NOTE, "paste", [Entity(25, 29, "Medicine", 0.9)])], origin="model")[0]
        window = MainWindow(repo, ModelRegistry(Path(tmp) / "models", install_root() / "model_assets"))
        window.show()
        while window.tagger is None:
            app.processEvents()
            time.sleep(0.05)
        window.show_document(doc)
        lock = sqlite3.connect(db, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        times = []
        for _ in range(3):
            window.view.select_entity(repo.entities(doc)[0].id)
            started = time.perf_counter()
            window.label_key("Symptom")
            times.append(time.perf_counter() - started)
        lock.execute("ROLLBACK")
        lock.close()
        started = time.perf_counter()
        window.retry_action.trigger()
        retry_s = time.perf_counter() - started
        labels = [e.label for e in repo.entities(doc)]
        print(f"window wait for a lock: {EDIT_WAIT_S:.1f} s; one refused edit held the window "
              f"{', '.join(f'{t:.2f}' for t in times)} s; {len(said)} box(es); the 3 kept edits replayed "
              f"by File › Retry saving (the 2nd and 3rd no longer apply: the 1st replaced the entity) in {retry_s:.2f} s, stored labels {labels}")
        window.unsaved_edits.clear()
        window.close()
        repo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
