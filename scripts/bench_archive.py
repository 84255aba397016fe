"""Notes per second and peak memory per worker of ``extract -o FOLDER`` on a local Dask cluster.

    .venv/bin/python scripts/bench_archive.py [--notes 10000 50000] [--workers 1 2] [--partition-size 500]
        [--notes-per-file 5000] [--model FOLDER] [--data ../shared/data/bangla-health-text/health-text.jsonl]

The archive is the real notes of ``--data`` repeated to each size, as CSV files of 5,000 notes (what a records
system exports; ``--notes-per-file``). For each worker count and size, a fresh local cluster as ``--workers``
starts it (one thread per worker, no profiler) runs the same code as ``extract --scheduler``; the figures are the wall time from planning to the manifest, the workers' CPU
time (notes per CPU second: what one core of its own would do), and each worker process's peak resident memory
(``ru_maxrss``) over the run. The per-core figure (one worker, one thread) is the one the README's sizing table
uses. The machine's load average is printed beside them: on shared cores the wall-clock figures are lower bounds.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.archive_run import extract_archive, local_cluster  # noqa: E402
from app.paths import bundled_model  # noqa: E402
from engine.archive import MANIFEST  # noqa: E402


def write_archive(folder: Path, texts: list[str], count: int, *, per_file: int) -> list[Path]:
    """``count`` notes (``texts`` over and over) as CSV files of ``per_file`` rows."""
    files = []
    for first in range(0, count, per_file):
        path = folder / f"notes-{first // per_file:04d}.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["note_id", "text"])
            out.writerows([n, texts[n % len(texts)]] for n in range(first, min(first + per_file, count)))
        files.append(path)
    return files


def worker_usage() -> tuple[float, float]:
    """This process's peak resident memory (MB) and CPU seconds (user + system) since it started."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # Linux: ru_maxrss in KiB


def run(files: list[Path], out: Path, *, workers: int, model: Path,
        partition_size: int) -> tuple[float, float, list[float]]:
    """notes/s, notes per CPU second of the workers, and each worker's peak memory (MB) of one run on a fresh
    local cluster of ``workers`` processes (their CPU time counts their start and model loading too)."""
    from distributed import Client

    with local_cluster(workers) as cluster, Client(cluster) as client:
        started = time.perf_counter()
        status = extract_archive(files, out, model_folder=model, scheduler=cluster.scheduler_address,
                                 partition_size=partition_size)
        seconds = time.perf_counter() - started
        if status != 0:
            raise SystemExit(f"extract failed with status {status}")
        usage = list(client.run(worker_usage).values())
    documents = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["documents"]
    return documents / seconds, documents / sum(cpu for _, cpu in usage), sorted(peak for peak, _ in usage)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--partition-size", type=int, default=500)
    # a worker keeps the file it reads: sizes that all exceed one file show that memory follows the file, not the
    # archive
    parser.add_argument("--notes-per-file", type=int, default=5000)
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the bundled INT8 model)")
    parser.add_argument("--data", type=Path,
                        default=ROOT.parent / "shared" / "data" / "bangla-health-text" / "health-text.jsonl")
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    # the longest notes first, so that every size holds them: ONNX Runtime keeps memory for the longest input it
    # has seen, and the sizes are compared for what the archive's size adds, not for their longest note
    longest = sorted(range(len(texts)), key=lambda i: -len(texts[i]))[:20]
    first = frozenset(longest)
    texts = [texts[i] for i in longest] + [t for i, t in enumerate(texts) if i not in first]
    model = args.model or bundled_model()
    print(f"{len(texts)} real notes from {args.data}, repeated; model {model}; {os.cpu_count()} CPU(s); "
          f"load average {os.getloadavg()[0]:.1f}")
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    try:
        for count in args.notes:
            files = write_archive(scratch, texts, count, per_file=args.notes_per_file)
            for workers in args.workers:
                out = scratch / f"out-{count}-{workers}"
                rate, per_cpu_s, peaks = run(files, out, workers=workers, model=model,
                                             partition_size=args.partition_size)
                shutil.rmtree(out)
                load = os.getloadavg()[0]
                rows.append((workers, count, rate, per_cpu_s, peaks, load))
                print(f"\n{workers} worker(s), {count:,} notes: {rate:.1f} notes/s ({rate / workers:.1f} per worker), "
                      f"{per_cpu_s:.1f} notes per CPU second; peak memory per worker "
                      f"{', '.join(f'{p:.0f}' for p in peaks)} MB; load average {load:.1f}", flush=True)
            for f in files:
                f.unlink()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("\nworkers   notes  notes/s  per worker  notes/CPU-s  peak MB per worker  load")
    for workers, count, rate, per_cpu_s, peaks, load in rows:
        print(f"{workers:>7}  {count:>6,}  {rate:>7.1f}  {rate / workers:>10.1f}  {per_cpu_s:>11.1f}  "
              f"{'/'.join(f'{p:.0f}' for p in peaks):>18}  {load:>4.1f}")
    single = [(rate, per_cpu_s) for workers, _, rate, per_cpu_s, _, _ in rows if workers == 1]
    if single:
        # on cores of its own a worker gets one CPU second a second: notes per CPU second is its notes/s there;
        # on shared cores the wall-clock figure is lower and says more about the neighbours than about the code
        print(f"\nper core (1 worker, 1 thread; the README's sizing figure): {min(r for r, _ in single):.1f} notes/s "
              f"wall clock here, {min(c for _, c in single):.1f} notes per CPU second (slowest of {len(single)} run(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
