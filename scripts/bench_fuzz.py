"""Fuzz the importers longer than the test suite does, and time a 50 MB HealthNER file.

    .venv/bin/python scripts/bench_fuzz.py [--count 2100] [--seed 1] [--timeout 60]

Mutants come from ``tests/import_mutants.py`` (the same mutator as ``tests/test_fuzz_import.py``: flipped bytes,
cuts, huge lines, deep nesting, wrong values and offsets, bad labels, damaged workbook parts, and the cases of
issue 23: formula-like type names and metadata keys, rows wider than Excel's 16,384 columns, NULs in a BOM'd
header, doccano lines with empty label lists, one-line notes of about 2 MB, byte-order marks before byte soup).
Each is imported between two good files, exported to Excel (no formula cell, no document left out) and stored
into a real temporary database, in a worker process that is
killed and replaced when one input takes longer than ``--timeout`` seconds (a hang). Prints counts: inputs,
imported, clear errors, crashes (an exception, or a reader failing in a way it did not plan), silently
wrong (a broken batch rule or a stored span that is not what the file states), hangs, and peak memory.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _worker(tasks: mp.Queue, results: mp.Queue) -> None:
    from import_mutants import Wrong, check_import, good_pair

    from engine.storage import Repository

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        good = good_pair(folder)
        repo = Repository(folder / "fuzz.sqlite3")
        while (task := tasks.get()) is not None:
            n, fmt, suffix, data = task
            path = folder / f"mutant-{n}{suffix}"
            path.write_bytes(data)
            try:
                outcome, detail = check_import(path, fmt, data, good, repo), ""
            except Wrong as exc:
                outcome, detail = "silently wrong", str(exc)[:300]
            except Exception as exc:  # noqa: BLE001 - a crash is what we count
                outcome, detail = "crash", f"{exc.__class__.__name__}: {str(exc)[:300]}"
            if outcome == "silently wrong" and "failed unexpectedly" in detail:
                outcome = "crash"
            path.unlink()
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            results.put((n, outcome, detail, rss_mb))
        repo.close()


class Pool:
    """One worker process; replaced when an input hangs."""

    def __init__(self) -> None:
        self.ctx = mp.get_context("spawn")
        self._start()

    def _start(self) -> None:
        self.tasks, self.results = self.ctx.Queue(), self.ctx.Queue()
        self.proc = self.ctx.Process(target=_worker, args=(self.tasks, self.results), daemon=True)
        self.proc.start()

    def run(self, task: tuple, timeout: float) -> tuple | None:
        self.tasks.put(task)
        try:
            return self.results.get(timeout=timeout)
        except Exception:  # noqa: BLE001 - queue.Empty: a hang (or the worker died, e.g. out of memory)
            self.proc.kill()
            self.proc.join()
            self._start()
            return None

    def close(self) -> None:
        self.tasks.put(None)
        self.proc.join(timeout=30)


def _parse_healthner(path: str, results: mp.Queue) -> None:
    sys.path[:0] = [str(ROOT)]
    from engine.importing import import_files

    began = time.perf_counter()
    batch = import_files([Path(path)], None)
    seconds = time.perf_counter() - began
    results.put((seconds, len(batch.documents), batch.errors,
                 resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def time_healthner(megabytes: int = 50) -> dict:
    """Parse time and peak memory of a generated HealthNER file of about ``megabytes`` MB."""
    from import_mutants import _healthner

    items = _healthner()
    one = json.dumps(items, ensure_ascii=False, indent=1)[1:-1].encode()  # two elements, no brackets
    copies = megabytes * 1_000_000 // len(one) + 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.json"
        with path.open("wb") as f:
            f.write(b"[")
            f.write(b",".join([one] * copies))
            f.write(b"]\n")
        ctx = mp.get_context("spawn")
        results = ctx.Queue()
        proc = ctx.Process(target=_parse_healthner, args=(str(path), results))
        proc.start()
        seconds, documents, errors, rss_mb = results.get(timeout=900)
        proc.join()
        return {"file_mb": round(path.stat().st_size / 1e6, 1), "documents": documents, "errors": errors,
                "parse_s": round(seconds, 1), "peak_rss_mb": round(rss_mb)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2100,
                        help="inputs in all (split evenly over the formats of tests/import_mutants.py)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before an input counts as a hang")
    parser.add_argument("--skip-healthner", action="store_true", help="skip timing the 50 MB HealthNER file")
    args = parser.parse_args()
    from import_mutants import FORMATS, mutants

    pool = Pool()
    counts: Counter = Counter()
    by_format: dict[str, Counter] = {fmt: Counter() for fmt in FORMATS}
    by_mutation: dict[str, Counter] = {}
    slowest = (0.0, "")
    examples: dict[str, list[str]] = {}
    peak = (0.0, "")
    began = time.perf_counter()
    per_format = -(-args.count // len(FORMATS))
    for n, (fmt, mutation, suffix, data) in enumerate(mutants(per_format, args.seed)):
        started = time.perf_counter()
        result = pool.run((n, fmt, suffix, data), args.timeout)
        took = time.perf_counter() - started
        if took > slowest[0]:
            slowest = (took, f"{fmt} #{n} ({mutation}, {len(data):,} bytes)")
        outcome, detail, rss_mb = ("hang", f"over {args.timeout:.0f} s", 0.0) if result is None else result[1:]
        counts[outcome] += 1
        by_format[fmt][outcome] += 1
        by_mutation.setdefault(mutation.split(" + ")[0], Counter())[outcome] += 1
        if outcome not in ("ok", "error"):
            examples.setdefault(outcome, []).append(f"{fmt} #{n} ({mutation}): {detail}")
        if rss_mb > peak[0]:
            peak = (rss_mb, f"{fmt} #{n} ({mutation}, {len(data):,} bytes)")
        if (n + 1) % 200 == 0:
            print(f"  {n + 1} inputs, {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
    pool.close()
    report = {
        "inputs": sum(counts.values()), "seed": args.seed,
        "imported": counts["ok"], "clear_errors": counts["error"], "crashes": counts["crash"],
        "silently_wrong": counts["silently wrong"], "hangs_over_timeout": counts["hang"],
        "peak_worker_rss_mb": round(peak[0]), "peak_after": peak[1],
        "children_max_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "seconds": round(time.perf_counter() - began, 1),
        "slowest_input_s": round(slowest[0], 1), "slowest_input": slowest[1],
        "by_format": {fmt: dict(c) for fmt, c in by_format.items()},
        "by_mutation": {name: dict(c) for name, c in sorted(by_mutation.items())},
        "examples": {k: v[:5] for k, v in examples.items()},
    }
    if not args.skip_healthner:
        report["healthner_50mb"] = time_healthner(50)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0 if not (counts["crash"] or counts["silently wrong"] or counts["hang"]) else 1


if __name__ == "__main__":
    sys.exit(main())
