"""Import one large doccano JSONL file: when progress first moves, the longest silence, peak memory (prints figures).

    .venv/bin/python scripts/bench_large_import.py [--megabytes 50]

The file is written first (notes of about 300 characters with an entity every 40 characters, in a temporary
folder); then ``engine.importing.import_files`` reads it as the window does, with a progress callback. Targets
(issue 23): progress that moves while the file is read within 2 s of the start, peak memory at most 1 GB.
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


def write_file(path: Path, megabytes: float) -> None:
    text = NOTE * 3
    spans = [[i, i + 4, "Symptom"] for i in range(0, len(text) - 4, 40)]
    with path.open("w", encoding="utf-8") as f:
        n = 0
        while f.tell() < megabytes * 1_000_000:
            f.write(json.dumps({"text": f"{text}{n}", "label": spans, "id": n}, ensure_ascii=False) + "\n")
            n += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=50)
    args = parser.parse_args()
    from engine.importing import import_files

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.jsonl"
        write_file(path, args.megabytes)
        before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        calls: list[tuple[float, int, int, str]] = []
        began = time.perf_counter()
        batch = import_files([path], None, progress=lambda done, total, what: calls.append(
            (time.perf_counter() - began, done, total, what)))
        seconds = time.perf_counter() - began
        moving = [c for c in calls if c[3].startswith("reading") and c[1] > 0]
        times = [0.0] + [c[0] for c in calls] + [seconds]
        report = {
            "file_mb": round(path.stat().st_size / 1e6, 1), "documents": len(batch.documents),
            "errors": batch.errors[:3], "seconds": round(seconds, 1), "progress_calls": len(calls),
            "first_moving_progress_s": round(moving[0][0], 2) if moving else None,
            "longest_silence_s": round(max(b - a for a, b in zip(times, times[1:])), 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "rss_before_import_mb": round(before_mb),
        }
    print(json.dumps(report, ensure_ascii=False, indent=1))
    ok = report["first_moving_progress_s"] is not None and report["first_moving_progress_s"] <= 2
    return 0 if ok and report["peak_rss_mb"] <= 1024 else 1


if __name__ == "__main__":
    sys.exit(main())
