"""Benchmark of the desktop app's speed targets (prints figures; not a test).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/bench_app.py [--accept-only]

1. start-up: window shown, and model loaded in the background;
2. paste of a 1,000-word note -> text shown, visible part highlighted, all highlighted and stored;
3. scrolling and repainting with 500 highlighted entities;
4. importing 1,000 short notes from a CSV (read, tag, store): notes per second;
5. re-tagging 1,000 unreviewed documents as Model › Re-tag unreviewed does (tag_many, then one
   ``Repository.retag_documents`` transaction): documents per second;
6. one Accept (the A key on a selected suggestion, stored and every view refreshed) with 2,000 documents stored.

Figures with a target print as "figure: value (target ..., met/missed)".
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NOTE = ("রোগীর বয়স ৪৫ বছর। গত তিন দিন ধরে জ্বর, মাথা ব্যথা ও শুকনো কাশি। ডায়াবেটিস আছে। "
        "নাপা ৫০০ মিগ্রা দিনে ৩ বার এবং অ্যাজিথ্রোমাইসিন ৫০০ মিগ্রা দিনে ১ বার ৫ দিন। "
        "রক্ত পরীক্ষা ও বুকের এক্স-রে করতে হবে। প্রয়োজনে মেডিসিন বিশেষজ্ঞ দেখান। ")


def wait_until(app, condition) -> None:
    """Process events until ``condition()``; sleeps between rounds (a hot processEvents loop
    trips a reference-count bug of PySide6 on Python 3.11)."""
    while not condition():
        app.processEvents()
        time.sleep(0.001)


PASTE_TARGET_MS = 200  # median, paste of 1,000 words -> highlights
SHOWN_TARGET_MS = 1000  # window shown after start
ACCEPT_TARGET_MS = 30  # one Accept, stored and shown, with 2,000 documents stored


def against(value: float, target: float, unit: str = "ms") -> str:
    return f"(target <= {target:.0f} {unit}, {'met' if value <= target else 'missed'})"


def bench_accept(app, window, repo) -> None:
    """6. One Accept with 2,000 documents stored: the A key as the user presses it, through every refresh."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    sentences = [s.strip() + " ।" for s in NOTE.split("।") if s.strip()]
    tagged = [(s, window.tagger.tag(s)) for s in sentences]
    more = 2000 - repo.counts()["documents"]
    repo.add_documents([(f"note {i}", f"{text} ({i})", "bench", ents)
                        for i, (text, ents) in zip(range(more), tagged * (more // len(tagged) + 1))],
                       origin="model", model_version=window.tagger.version)
    window.refresh_documents()
    window.show_document(window.documents.rows[0].id)
    window.refresh_documents()
    app.processEvents()
    stored = repo.counts()
    times, cpu = [], []
    while len(times) < 15:
        pending = [e for e in window.entities.rows if e.status == "suggested"]
        if not pending:  # the next document with suggestions
            window.goto_unreviewed(False)
            app.processEvents()
            continue
        window.view.select_entity(pending[0].id)
        window.view.setFocus()
        t, c = time.perf_counter(), time.thread_time()
        QTest.keyClick(window.view, Qt.Key.Key_A)
        app.processEvents()
        times.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        assert repo.entity(window.view.selected_id).status == "accepted"
    median = statistics.median(times) * 1000
    # on a shared machine the wall time grows with the load; the UI thread's CPU time much less
    print(f"one Accept with {stored['documents']:,} documents ({stored['entities']:,} entities) stored, median of "
          f"{len(times)}: {median:.1f} ms {against(median, ACCEPT_TARGET_MS)}; UI-thread CPU "
          f"{statistics.median(cpu) * 1000:.1f} ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from app.gui.application import register_fonts
    from app.gui.main_window import MainWindow
    from app.paths import install_root
    from engine.importing import import_files
    from engine.model_registry import ModelRegistry
    from engine.storage import Repository

    tmp = Path(tempfile.mkdtemp())
    started = time.perf_counter()
    app = QApplication(sys.argv[:1])
    register_fonts()
    repo = Repository(tmp / "bench.sqlite3")
    window = MainWindow(repo, ModelRegistry(tmp / "models", install_root() / "model_assets"))
    window.show()
    app.processEvents()
    shown = time.perf_counter() - started
    wait_until(app, lambda: window.tagger is not None)
    loaded = time.perf_counter() - started
    print(f"window shown: {shown * 1000:.0f} ms {against(shown * 1000, SHOWN_TARGET_MS)}")
    print(f"model ready (background): {loaded * 1000:.0f} ms")
    if "--accept-only" in sys.argv:  # just figure 6
        bench_accept(app, window, repo)
        repo.close()
        return

    words = NOTE.split()
    note = " ".join((words * (1000 // len(words) + 1))[:1000])
    # the text shows at once; the visible part is highlighted first (a preview), then the stored document
    shown, first, times = [], [], []
    for _ in range(5):
        QGuiApplication.clipboard().setText(note)
        before = repo.counts()["documents"]
        t = time.perf_counter()
        window.new_from_clipboard()
        window.view.viewport().repaint()
        shown.append(time.perf_counter() - t)
        wait_until(app, lambda before=before: bool(window.view._entities) or repo.counts()["documents"] > before)
        window.view.viewport().repaint()
        first.append(time.perf_counter() - t)
        wait_until(app, lambda before=before: repo.counts()["documents"] > before and window.entities.rows)
        window.view.viewport().repaint()
        times.append(time.perf_counter() - t)
    n = len(times)
    print(f"paste -> text shown, 1,000 words, median of {n}: {statistics.median(shown) * 1000:.0f} ms")
    median = statistics.median(first) * 1000
    print(f"paste -> highlights in the visible part, median of {n}: {median:.0f} ms {against(median, PASTE_TARGET_MS)}")
    median = statistics.median(times) * 1000
    print(f"paste -> all highlights, stored ({len(window.entities.rows)} entities), median of {n}: {median:.0f} ms")

    big = " ".join([NOTE] * 45)
    QGuiApplication.clipboard().setText(big)
    before = repo.counts()["documents"]
    window.new_from_clipboard()
    wait_until(app, lambda: repo.counts()["documents"] > before)
    n = len(window.entities.rows)
    bar = window.view.verticalScrollBar()
    frames = []
    for value in range(bar.minimum(), bar.maximum() + 1, max(1, bar.maximum() // 100)):
        t = time.perf_counter()
        bar.setValue(value)
        window.view.viewport().repaint()
        frames.append(time.perf_counter() - t)
    print(f"scrolling with {n} highlighted entities: median frame {statistics.median(frames) * 1000:.1f} ms, "
          f"worst {max(frames) * 1000:.1f} ms over {len(frames)} frames")

    csv = tmp / "notes.csv"
    sentences = [s.strip() for s in NOTE.split("।") if s.strip()]
    rows = [f'{i},"{sentences[i % len(sentences)]} । রোগী নম্বর {i}"' for i in range(1000)]
    csv.write_text("id,note\n" + "\n".join(rows) + "\n", encoding="utf-8")
    t = time.perf_counter()
    batch = import_files([csv], window.tagger, text_column="note")
    imported = repo.add_documents([(d.title, d.text, d.source, d.entities) for d in batch.documents], origin="model",
                       model_version=batch.model_version)
    elapsed = time.perf_counter() - t
    print(f"import 1,000 short notes (read + tag + store): {elapsed:.1f} s = {1000 / elapsed:.0f} notes/s "
          f"on {os.cpu_count()} cores")

    # 5. Re-tag: the same engine steps as MainWindow.retag_unreviewed/_on_retagged.
    ids = set(imported)  # the 1,000 imported notes, all unreviewed
    docs = [d for d in repo.documents() if d.id in ids and not d.reviewed]
    tagger = window.tagger
    t = time.perf_counter()
    results = tagger.tag_many([d.text for d in docs])
    change = repo.retag_documents({d.id: ents for d, ents in zip(docs, results)}, tagger.version)
    elapsed = time.perf_counter() - t
    done = len(change.documents) if change is not None else 0
    print(f"re-tag {len(docs)} unreviewed documents (tag + store, {done} changed): {elapsed:.1f} s = "
          f"{len(docs) / elapsed:.0f} documents/s on {os.cpu_count()} cores")

    bench_accept(app, window, repo)
    repo.close()
    QCoreApplication.quit()


if __name__ == "__main__":
    main()
