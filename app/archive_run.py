"""``extract FILES -o FOLDER``: an archive extracted into shards, in this process or on a Dask cluster.

``--workers N`` starts a local cluster of N worker processes, ``--scheduler ADDRESS`` uses a running one; without
either, the same partitions run one after another here. Dask is an optional extra (``pip install
'bangla-meder[distributed]'``): the app and its bundle never import it. The partitions, shards, manifest and
resuming are ``engine/archive.py``'s; this module only runs them and shows the progress.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.archive import (
    DEFAULT_PARTITION_SIZE,
    DONE_FOLDER,
    MANIFEST,
    InputFile,
    ModelRef,
    PartitionJob,
    PartitionSummary,
    finished,
    make_plan,
    open_plan,
    run_partition,
    save_plan,
    scan_file,
    stat_inputs,
    write_manifest,
)
from engine.atomic import remove_leftovers
from engine.errors import MederError
from engine.model_config import ModelConfig

EXIT_SOME_FILES_FAILED = 3  # as app.extract: the readable files were extracted, the manifest names the others
PROGRESS_TOPIC = "bangla-meder-extract"  # the workers' "n more documents tagged" events
NEED_DASK = ("--workers and --scheduler need Dask, an optional extra: .venv/bin/pip install 'dask[distributed]' "
             "(or pip install 'bangla-meder[distributed]'); without them extract runs in this process")


def is_archive_output(out: Path | None) -> bool:
    """Whether ``-o`` names a folder of shards (an existing folder, or a name without a suffix) rather than a file."""
    return out is not None and (out.is_dir() or not out.suffix)


def extract_archive(files: Sequence[Path], out: Path, *, model_folder: Path, workers: int | None = None,
                    scheduler: str | None = None, partition_size: int | None = None,
                    text_column: str | None = None) -> int:
    """Extract ``files`` into the folder ``out`` (resuming a run there); returns an exit status as ``extract``."""
    if workers is not None and scheduler is not None:
        print("error: give --workers or --scheduler, not both", file=sys.stderr)
        return 2
    if workers is not None and workers < 1:
        print(f"error: --workers must be at least 1, got {workers}", file=sys.stderr)
        return 2
    if partition_size is not None and partition_size < 1:
        print(f"error: --partition-size must be at least 1, got {partition_size}", file=sys.stderr)
        return 2
    try:
        with _executor(workers=workers, scheduler=scheduler) as run:
            return _extract(files, out, run, model_folder=model_folder,
                            partition_size=partition_size or DEFAULT_PARTITION_SIZE, text_column=text_column,
                            local=scheduler is None)
    except ImportError as exc:
        if exc.name in ("dask", "distributed"):
            print(f"error: {NEED_DASK}", file=sys.stderr)
            return 2
        raise
    except MederError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nstopped; the finished partitions are kept in {out}: run the same command again to finish",
              file=sys.stderr)
        return 130


def _extract(files: Sequence[Path], out: Path, run: Runner, *, model_folder: Path, partition_size: int,
             text_column: str | None, local: bool) -> int:
    model = ModelRef.of(model_folder)
    known_types = tuple(ModelConfig.load(model_folder).entity_types)
    inputs = stat_inputs(files)
    plan = open_plan(out, inputs, model, partition_size=partition_size, text_column=text_column)
    if plan is not None and local:  # what a killed run's writes left (a cluster's workers may still be writing)
        remove_leftovers(out)
        remove_leftovers(out / DONE_FOLDER)
    if plan is None:
        scanned: list[InputFile | None] = [None] * len(inputs)
        for i, f in run.map(scan_file, inputs, text_column=text_column, known_types=known_types):
            scanned[i] = f
            print(f"\rreading {sum(s is not None for s in scanned)}/{len(inputs)} file(s)", end="", file=sys.stderr)
        print(file=sys.stderr)
        plan = make_plan([f for f in scanned if f is not None], model, partition_size=partition_size,
                         text_column=text_column)
        save_plan(out, plan)
    summaries: dict[int, PartitionSummary] = {}
    todo = []
    for p in plan.partitions:
        done = finished(out, p)
        if done is None:
            todo.append(p)
        else:
            summaries[p.number] = done
    resumed = sum(p.stop - p.first for p in plan.partitions if p.number in summaries)
    if resumed:
        print(f"resuming: {len(summaries)} of {len(plan.partitions)} partitions ({resumed} documents) were finished "
              "by an earlier run", file=sys.stderr)
    meter = Meter(total=plan.documents, done=resumed)
    run.on_documents = meter.add
    for summary in run.partitions([plan.job(p, out) for p in todo]):
        summaries[summary.number] = summary
    meter.finish()
    manifest = write_manifest(out, plan, list(summaries.values()))
    for f in manifest["files"]:
        if f["error"] is not None:
            print(f"skipped: {f['error']}", file=sys.stderr)
        elif f["left_out"]:
            print(f"left out: {f['path']}: {len(f['left_out'])} thing(s), listed in {out / MANIFEST}", file=sys.stderr)
    print(f"wrote {manifest['documents']} documents with {manifest['suggestions']} suggestions and "
          f"{manifest['entities']} annotated entities in {len(manifest['shards'])} shard(s) to {out} "
          f"(model {model.version}; {MANIFEST} lists them)", file=sys.stderr)
    if not manifest["documents"]:
        print("error: nothing to extract", file=sys.stderr)
        return 1
    return EXIT_SOME_FILES_FAILED if manifest["files_not_read"] else 0


class Meter:
    """Documents per second and the time left, on one terminal line (thread-safe: Dask reports on its own thread)."""

    def __init__(self, *, total: int, done: int = 0, stream: Any = None) -> None:
        self.total, self.done, self.start_done = total, done, done
        self.started = time.monotonic()
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._shown = 0.0

    def add(self, n: int) -> None:
        with self._lock:
            self.done = min(self.total, self.done + n)
            now = time.monotonic()
            if now - self._shown >= 0.5 or self.done == self.total:
                self._shown = now
                print(f"\r{self.line(now)}", end="", file=self.stream, flush=True)

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = (self.done - self.start_done) / elapsed
        left = (self.total - self.done) / rate if rate > 0 else None
        return (f"tagged {self.done:,}/{self.total:,} documents  {rate:.1f} notes/s  "
                f"{'time left ' + _duration(left) if left is not None else 'starting'}   ")

    def finish(self) -> None:
        with self._lock:
            print(f"\r{self.line(time.monotonic())}", file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Runner:
    """Runs functions over items, yielding ``(index, result)`` as each finishes: here, in order, one by one."""

    def __init__(self) -> None:
        self.on_documents: Callable[[int], None] | None = None  # n more documents tagged

    def map(self, fn: Callable, items: Sequence, **kwargs: Any) -> Iterator[tuple[int, Any]]:
        for i, item in enumerate(items):
            yield i, fn(item, **kwargs)

    def partitions(self, jobs: Sequence[PartitionJob]) -> Iterator[PartitionSummary]:
        for job in jobs:
            yield run_partition(job, on_documents=self.on_documents)


class DaskRunner(Runner):
    """The same over a Dask cluster: a few tasks per worker thread in flight, so neither side queues the archive."""

    def __init__(self, client: Any) -> None:
        super().__init__()
        self.client = client
        client.subscribe_topic(PROGRESS_TOPIC, self._on_event)

    def _on_event(self, event: tuple[float, int]) -> None:
        if self.on_documents is not None:
            self.on_documents(event[1])

    def map(self, fn: Callable, items: Sequence, **kwargs: Any) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        threads = sum(w["nthreads"] for w in self.client.scheduler_info(n_workers=-1)["workers"].values()) or 1
        pending = iter(enumerate(items))
        index: dict[str, int] = {}

        def submit() -> Any:
            for i, item in pending:
                future = self.client.submit(fn, item, pure=False, **kwargs)
                index[future.key] = i
                return future
            return None

        first = [f for f in (submit() for _ in range(2 * threads)) if f is not None]
        if not first:
            return
        queue = as_completed(first)
        for future in queue:
            result = future.result()  # a worker's error (a changed file, another model) stops the run here
            yield index.pop(future.key), result
            future.release()
            following = submit()
            if following is not None:
                queue.add(following)

    def partitions(self, jobs: Sequence[PartitionJob]) -> Iterator[PartitionSummary]:
        for _, summary in self.map(_partition_on_worker, jobs):
            yield summary


def _partition_on_worker(job: PartitionJob) -> PartitionSummary:
    from distributed import get_worker

    worker = get_worker()
    return run_partition(job, on_documents=lambda n: worker.log_event(PROGRESS_TOPIC, n))


@contextmanager
def _executor(*, workers: int | None, scheduler: str | None) -> Iterator[Runner]:
    if workers is None and scheduler is None:
        yield Runner()
        return
    from distributed import Client

    if scheduler is not None:
        with Client(scheduler, timeout="30s") as client:
            yield DaskRunner(client)
        return
    with local_cluster(workers or 1) as cluster, Client(cluster) as client:
        yield DaskRunner(client)


@contextmanager
def local_cluster(workers: int) -> Iterator[Any]:
    """A ``distributed.LocalCluster`` of ``workers`` processes as ``--workers`` starts it."""
    import dask
    from distributed import LocalCluster

    # Dask's profiler samples each worker's stack every 10 ms and keeps 1,000 seconds of it: a worker grew about
    # 1 MB per 1,000 notes for the first 17 minutes of a run with it (scripts/bench_archive.py); the workers
    # take the config they are started with
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        # processes, one thread each: ONNX Runtime runs one thread per worker and Python's lock is not shared
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
    with cluster:
        yield cluster
