"""Import one large file into a real database as the window does: when progress first moves, the longest silence,
the time, and peak memory (prints figures; one import per run, so the peak is that import's).

    .venv/bin/python scripts/bench_large_import.py [--megabytes 50]        # a 50 MB doccano JSONL
    .venv/bin/python scripts/bench_large_import.py --rows 100000           # short annotated JSONL lines
    .venv/bin/python scripts/bench_large_import.py --rows 1000000
    .venv/bin/python scripts/bench_large_import.py --rows 20000 --unannotated  # texts checked as stored or not
    ... [--whole]  # the file read whole, then stored (import_files + store_import: the path before chunks)

The file is written first, in a temporary folder (``--megabytes``: notes of about 300 characters with an entity
every 40 characters; ``--rows``: one short annotated note a line, so nothing needs the model and the figures are
the reading and storing alone). Then ``engine.import_store.import_and_store`` reads, checks and stores it, chunk by
chunk, into a new SQLite database beside it, with a progress callback, and the database is checked to hold every
document. Targets (issue 23): progress moving within 2 s of the start; at most 1 GB; memory that does not grow
with the number of documents (compare ``--rows 100000`` with ``--rows 1000000``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOTE = "রোগী: করিম, বয়স ৪৫ বছর। সমস্যা: তিন দিন ধরে জ্বর ও মাথা ব্যথা। ওষুধ: নাপা ৫০০ মিগ্রা দিনে ৩ বার খাবেন। "


def write_megabytes(path: Path, megabytes: float) -> None:
    text = NOTE * 3
    spans = [[i, i + 4, "Symptom"] for i in range(0, len(text) - 4, 40)]
    with path.open("w", encoding="utf-8") as f:
        n = 0
        while f.tell() < megabytes * 1_000_000:
            f.write(json.dumps({"text": f"{text}{n}", "label": spans, "id": n}, ensure_ascii=False) + "\n")
            n += 1


def write_rows(path: Path, rows: int, *, annotated: bool = True) -> None:
    label = [[0, 4, "Symptom"]] if annotated else []  # none: texts for the model, each looked up as stored or not
    with path.open("w", encoding="utf-8") as f:
        for n in range(rows):
            f.write(json.dumps({"text": f"জ্বর আছে {n}", "label": label}, ensure_ascii=False) + "\n")


def rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=50)
    parser.add_argument("--rows", type=int, default=None, help="short annotated lines instead of --megabytes")
    parser.add_argument("--unannotated", action="store_true",
                        help="--rows without labels: un-annotated texts, each checked against those stored")
    parser.add_argument("--whole", action="store_true", help="read the file whole, then store it (the old path)")
    args = parser.parse_args()
    from engine.import_store import store_import
    from engine.importing import import_files
    from engine.storage import Repository

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.jsonl"
        if args.rows is not None:
            write_rows(path, args.rows, annotated=not args.unannotated)
        else:
            write_megabytes(path, args.megabytes)
        repo = Repository(Path(tmp) / "meder.sqlite3")
        before_mb = rss_mb()
        calls: list[tuple[float, int, int, str]] = []
        began = time.perf_counter()

        def progress(done: int, total: int, what: str) -> None:
            calls.append((time.perf_counter() - began, done, total, what))

        if args.whole:
            log = store_import(repo, import_files([path], None, progress=progress))
        else:
            from engine.import_store import import_and_store

            log = import_and_store(repo, [path], None, progress=progress)
        seconds = time.perf_counter() - began
        stored = repo.counts()["documents"]
        undo = repo.undo_status()[0]
        repo.close()
        moving = [c for c in calls if c[1] > 0]
        times = [0.0] + [c[0] for c in calls] + [seconds]
        report = {
            "path": "read whole, then stored" if args.whole else "chunks read, tagged and stored as they come",
            "file_mb": round(path.stat().st_size / 1e6, 1), "documents_read": log.report.total("documents"),
            "documents_stored": stored, "undo": undo, "errors": log.errors[:3], "seconds": round(seconds, 1),
            "progress_calls": len(calls),
            "first_moving_progress_s": round(moving[0][0], 2) if moving else None,
            "longest_silence_s": round(max(b - a for a, b in zip(times, times[1:])), 2),
            "peak_rss_mb": rss_mb(), "rss_before_import_mb": before_mb,
        }
    print(json.dumps(report, ensure_ascii=False, indent=1))
    ok = report["first_moving_progress_s"] is not None and report["first_moving_progress_s"] <= 2
    return 0 if ok and report["peak_rss_mb"] <= 1024 and stored == report["documents_read"] else 1


if __name__ == "__main__":
    sys.exit(main())
