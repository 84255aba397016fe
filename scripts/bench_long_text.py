"""Tag one long pasted document with the bundled model: time, peak memory, progress calls (prints figures).

    .venv/bin/python scripts/bench_long_text.py [--chars 1000000] [--model model_assets/student-int8]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.model_layout import student_int8  # noqa: E402

NOTE = ("রোগী: করিম, বয়স ৪৫ বছর। সমস্যা: তিন দিন ধরে জ্বর ও মাথা ব্যথা। ওষুধ: নাপা ৫০০ মিগ্রা দিনে ৩ বার খাবেন। "
        "Patient has fever and cough, took Napa 500 mg twice daily; refer to a medicine specialist.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=1_000_000)
    parser.add_argument("--model", type=Path, default=student_int8(ROOT / "model_assets"))
    args = parser.parse_args()
    from engine.runtime import load_tagger

    tagger = load_tagger(args.model)
    text = (NOTE * (args.chars // len(NOTE) + 1))[:args.chars]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    calls = []
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime  # CPU time: steadier than wall time on a busy machine
    started = time.perf_counter()
    entities = tagger.tag_many([text], progress=lambda done, total, *_: calls.append(done))[0]
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu
    peak = usage.ru_maxrss  # KiB on Linux
    print(json.dumps({"characters": len(text), "entities": len(entities), "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
                      "peak_rss_mb": round(peak / 1024), "rss_before_mb": round(before / 1024),
                      "progress_calls": len(calls)}))


if __name__ == "__main__":
    main()
