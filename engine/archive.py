"""Extracting a whole archive into a folder of shards, one partition at a time, resumably.

The archive is split into partitions (a file and a range of its documents); each partition is read, tagged and
written on its own, by whichever process runs it (this one, or a worker of a cluster: ``app/archive_run.py``),
so a process's memory holds one file and one partition, never the archive. The output folder::

    plan.json            the inputs (paths, sizes, times), the model and the partitions: a rerun resumes only this
    part-00000.jsonl     one JSON object per document of partition 0, in file order (see :func:`record`)
    done/part-00000.json partition 0's counts and what it left out, written after its shard: "finished"
    manifest.json        written last: counts, the model version, the shards and what was left out and why

Each file is replaced atomically (``engine.atomic``), so a killed run leaves finished partitions whole and the
others absent; the manifest holds no times, so a resumed run ends with the same bytes as an uninterrupted one.
Documents are tagged one call each (``tag_one``): a document's entities never depend on its neighbours, however
the archive is split, even with a tagger that batched them (before issue 21, dynamic INT8 moved a note's entities
with its batch); it also lets progress count documents.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from engine.atomic import write_bytes, write_text
from engine.errors import MederError, ModelError
from engine.importing import PendingDocument, check_document, read_file, storable
from engine.model_config import ModelConfig
from engine.model_layout import MANIFEST_FILE
from engine.spans import Entity
from engine.tagger import Tagger

ARCHIVE_FORMAT = "bangla-meder archive 1"
PLAN_FILE = "plan.json"
MANIFEST = "manifest.json"
DONE_FOLDER = "done"
DEFAULT_PARTITION_SIZE = 500  # documents: ~1 min of one core, so a kill loses little and progress moves
OFFSETS = "start/end count characters (Unicode code points) of text; end is exclusive"


class ArchiveError(MederError):
    """The output folder or the inputs do not allow the run (another run's folder, a file changed meanwhile)."""


@dataclass(frozen=True)
class ModelRef:
    """Which model folder tags, and the sha256 of its manifest: every worker checks it loaded this one."""

    folder: str
    version: str
    digest: str

    @classmethod
    def of(cls, folder: str | Path) -> ModelRef:
        folder = Path(folder).resolve()
        try:
            digest = hashlib.sha256((folder / MANIFEST_FILE).read_bytes()).hexdigest()
        except OSError as exc:
            raise ModelError(f"{folder}: no readable {MANIFEST_FILE} ({exc})") from None
        return cls(str(folder), ModelConfig.load(folder).version, digest)


@dataclass
class InputFile:
    """One input file as planned: its size and time (a resumed run checks them) and its documents."""

    path: str  # as the user gave it; it names the file in records and messages
    resolved: str  # absolute: what workers open
    size: int
    mtime_ns: int
    documents: int = 0
    error: str | None = None  # why the file could not be read (naming it): none of it is extracted
    notes: list[str] = field(default_factory=list)  # what the reader left out of it, and why


@dataclass(frozen=True)
class Partition:
    number: int
    file: int  # index into the plan's files
    first: int  # the documents [first, stop) of that file, in reading order
    stop: int

    @property
    def name(self) -> str:
        return f"part-{self.number:05d}"


@dataclass
class Plan:
    model: ModelRef
    files: list[InputFile]
    partitions: list[Partition]
    partition_size: int
    text_column: str | None = None

    def to_json(self) -> str:
        return json.dumps({"format": ARCHIVE_FORMAT, **asdict(self)}, ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> Plan:
        try:
            raw = json.loads(text)
            if raw.get("format") != ARCHIVE_FORMAT:
                raise ArchiveError(f"{where}: written by another version ({raw.get('format')!r}); use a new folder")
            return cls(ModelRef(**raw["model"]), [InputFile(**f) for f in raw["files"]],
                       [Partition(**p) for p in raw["partitions"]], raw["partition_size"], raw["text_column"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ArchiveError(f"{where}: not a plan this app can read ({exc}); use a new output folder") from None

    @property
    def documents(self) -> int:
        return sum(f.documents for f in self.files)

    def job(self, partition: Partition, out: Path) -> PartitionJob:
        f = self.files[partition.file]
        return PartitionJob(str(out.resolve()), partition, f.path, f.resolved, f.size, f.mtime_ns, self.model,
                            self.text_column)


@dataclass(frozen=True)
class PartitionJob:
    """Everything a worker needs for one partition (small, so a cluster ships it cheaply)."""

    out: str
    partition: Partition
    path: str
    resolved: str
    size: int
    mtime_ns: int
    model: ModelRef
    text_column: str | None


@dataclass
class PartitionSummary:
    """What one finished partition holds; saved in ``done/`` as the mark that it is finished."""

    number: int
    shard: str
    documents: int
    entities: int  # a person's, from annotated input files
    suggestions: int  # the model's
    sha256: str
    left_out: list[str] = field(default_factory=list)


def stat_inputs(paths: Sequence[str | Path]) -> list[InputFile]:
    """The inputs as a plan records them (no reading yet); a missing file is planned as one that cannot be read."""
    files = []
    for p in paths:
        resolved = Path(p).resolve()
        try:
            st = resolved.stat()
            files.append(InputFile(storable(str(p)), str(resolved), st.st_size, st.st_mtime_ns))
        except OSError as exc:
            files.append(InputFile(storable(str(p)), str(resolved), -1, -1,
                                   error=storable(f"{p}: cannot be read ({exc.strerror})")))
    return files


def scan_file(file: InputFile, *, text_column: str | None, known_types: Sequence[str]) -> InputFile:
    """``file`` with its number of documents, or why it cannot be read (never raises for a bad file)."""
    if file.error is not None:
        return file
    notes: list[str] = []
    try:
        docs = _read(file.resolved, text_column=text_column, known_types=tuple(known_types), notes=notes)
    except (MederError, OSError, UnicodeError) as exc:
        return InputFile(**{**asdict(file), "error": storable(str(exc))})
    except Exception as exc:  # noqa: BLE001 - one damaged file must never stop the archive (as import_files)
        return InputFile(**{**asdict(file), "error": f"{file.path}: could not be read ({exc.__class__.__name__}: {exc})"})
    if not docs:
        return InputFile(**{**asdict(file), "error": f"{file.path}: no documents found"})
    return InputFile(**{**asdict(file), "documents": len(docs), "notes": [storable(n) for n in notes]})


def make_plan(files: list[InputFile], model: ModelRef, *, partition_size: int = DEFAULT_PARTITION_SIZE,
              text_column: str | None = None) -> Plan:
    """Partitions of at most ``partition_size`` documents, each within one file, in file and reading order."""
    if partition_size < 1:
        raise ValueError(f"partition_size must be at least 1, got {partition_size}")
    partitions = []
    for i, f in enumerate(files):
        for first in range(0, f.documents, partition_size):
            partitions.append(Partition(len(partitions), i, first, min(first + partition_size, f.documents)))
    return Plan(model, files, partitions, partition_size, text_column)


def open_plan(out: Path, files: list[InputFile], model: ModelRef, *, partition_size: int,
              text_column: str | None) -> Plan | None:
    """The plan of the earlier run in ``out`` if it was for these inputs and this model; None for a new folder.

    Raises :class:`ArchiveError` for a folder that holds something else or another run's results, so that a
    resumed run never mixes two models or two versions of a file.
    """
    path = out / PLAN_FILE
    if not path.is_file():
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise ArchiveError(f"{out}: is not empty and holds no earlier run of extract; choose a new or empty "
                               "folder")
        return None
    plan = Plan.from_json(path.read_text(encoding="utf-8"), path)
    if plan.model.digest != model.digest:
        raise ArchiveError(f"{out}: was started with model {plan.model.version} ({plan.model.folder}), not "
                           f"{model.version} ({model.folder}); resume with that model or choose a new folder")
    if (plan.partition_size, plan.text_column) != (partition_size, text_column):
        raise ArchiveError(f"{out}: was started with --partition-size {plan.partition_size} and --text-column "
                           f"{plan.text_column!r}; resume with the same options or choose a new folder")
    planned = [f.resolved for f in plan.files]
    if planned != [f.resolved for f in files]:
        shown = ", ".join(planned[:3]) + (" …" if len(planned) > 3 else "")
        raise ArchiveError(f"{out}: was started on other input files ({len(planned)}: {shown}); give the same "
                           "files to resume, or choose a new folder")
    changed = [f.path for f, p in zip(files, plan.files) if (f.size, f.mtime_ns) != (p.size, p.mtime_ns)]
    if changed:
        raise ArchiveError(f"{out}: {', '.join(changed[:5])} changed since the run there started; choose a new "
                           "folder for these inputs")
    return plan


def save_plan(out: Path, plan: Plan) -> None:
    out.mkdir(parents=True, exist_ok=True, mode=0o700)  # shards hold patient notes
    (out / DONE_FOLDER).mkdir(exist_ok=True, mode=0o700)
    write_text(out / PLAN_FILE, plan.to_json())


def finished(out: Path, partition: Partition) -> PartitionSummary | None:
    """The summary of a finished partition, or None: a shard without its summary was cut off and is redone."""
    path = out / DONE_FOLDER / f"{partition.name}.json"
    try:
        summary = PartitionSummary(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    return summary if (out / summary.shard).is_file() else None


# One model and one file per process: a worker loads the model folder once and keeps only the file it is in.
_TAGGERS: dict[tuple[str, str], Tagger] = {}
_LAST_FILE: list[tuple[tuple, list[PendingDocument]]] = []


def worker_tagger(model: ModelRef) -> Tagger:
    """This process's tagger for ``model``, loaded (and checked against its manifest) on first use, one thread."""
    key = (model.folder, model.digest)
    if key not in _TAGGERS:
        from engine.runtime import load_tagger

        here = ModelRef.of(model.folder)
        if here.digest != model.digest:
            raise ModelError(f"{model.folder}: on this machine it is model {here.version}, not {model.version} "
                             "that the run was planned with; give every worker the same model folder")
        _TAGGERS.clear()
        # one thread: the cluster's processes share the cores; the thread count never changes the entities
        _TAGGERS[key] = load_tagger(model.folder, threads=1)
    return _TAGGERS[key]


def run_partition(job: PartitionJob, *, on_documents: Callable[[int], None] | None = None) -> PartitionSummary:
    """Read, tag and write one partition (nothing if it is finished already); returns its summary.

    ``on_documents(n)`` is told every few documents how many more are tagged, for progress.
    """
    out, part = Path(job.out), job.partition
    done = finished(out, part)
    if done is not None:  # a retried task, or a worker that outlived a killed run: never twice
        return done
    tagger = worker_tagger(job.model)
    docs = _documents(job, known_types=tuple(tagger.entity_types))[part.first:part.stop]
    if len(docs) != part.stop - part.first:  # same bytes, another reader (a newer app version): not this plan's
        raise ArchiveError(f"{job.path}: now reads as other documents than when the run was planned; start again "
                           "with a new output folder")
    lines, left_out = [], []
    entities = suggestions = 0
    reported = 0
    for n, doc in enumerate(docs, start=1):
        if on_documents is not None and (n - reported >= 20):
            on_documents(n - reported)
            reported = n
        where = f"{job.path}{'' if doc.line is None else f':{doc.line}'}"
        left_out.extend(f"{where}: {note}" for note in doc.notes)
        if doc.needs_tagging:
            doc = replace(doc)  # the file's documents stay as read: a retried partition starts from them
            try:
                doc.entities = tag_one(tagger, doc.text)
                check_document(doc)  # the model's spans are whole words: a failure here is a bug, and says so
            except Exception as exc:  # noqa: BLE001 - one note must never stop the archive
                left_out.append(f"{where}: not extracted: tagging failed ({exc.__class__.__name__}: {exc})")
                continue
        if doc.origin == "human":
            entities += len(doc.entities)
        else:
            suggestions += len(doc.entities)
        lines.append(json.dumps(record(doc, job.path), ensure_ascii=False))
    if on_documents is not None and len(docs) > reported:
        on_documents(len(docs) - reported)
    shard = f"{part.name}.jsonl"
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    write_bytes(out / shard, data)
    summary = PartitionSummary(part.number, shard, len(lines), entities, suggestions,
                               hashlib.sha256(data).hexdigest(), left_out)
    write_text(out / DONE_FOLDER / f"{part.name}.json", json.dumps(asdict(summary), ensure_ascii=False) + "\n")
    return summary


def tag_one(tagger: Tagger, text: str) -> list[Entity]:
    """One document's entities, tagged alone: the same whatever it is split or batched with."""
    return tagger.tag_many([text])[0]


def record(doc: PendingDocument, path: str) -> dict:
    """One line of a shard: where the document came from, its text and its entities (code-point offsets)."""
    return {"file": path, "line": doc.line, "title": doc.title, "text": doc.text,
            "reviewed": doc.reviewed, "origin": doc.origin,
            "entities": [{"start": e.start, "end": e.end, "type": e.label, "text": doc.text[e.start:e.end],
                          "assertion": e.assertion, "confidence": e.confidence} for e in doc.entities],
            "metadata": doc.metadata}


def write_manifest(out: Path, plan: Plan, summaries: Sequence[PartitionSummary]) -> dict:
    """The manifest of a finished run (the same bytes whether or not the run was resumed)."""
    by_number = sorted(summaries, key=lambda s: s.number)
    if [s.number for s in by_number] != [p.number for p in plan.partitions]:
        raise ArchiveError(f"{out}: not every partition is finished; run extract again to finish it")
    files = []
    for i, f in enumerate(plan.files):
        mine = [s for s, p in zip(by_number, plan.partitions) if p.file == i]
        left_out = [note for s in mine for note in s.left_out]
        files.append({"path": f.path, "read": f.error is None, "documents": sum(s.documents for s in mine),
                      "error": f.error, "left_out": f.notes + left_out})
    manifest = {
        "format": ARCHIVE_FORMAT,
        "model": {"version": plan.model.version, "folder": plan.model.folder, "manifest_sha256": plan.model.digest},
        "offsets": OFFSETS,
        "documents": sum(s.documents for s in by_number),
        "entities": sum(s.entities for s in by_number),
        "suggestions": sum(s.suggestions for s in by_number),
        "files_not_read": sum(f.error is not None for f in plan.files),
        "left_out": sum(len(f["left_out"]) for f in files),
        "partition_size": plan.partition_size,
        "shards": [{"shard": s.shard, "file": plan.files[p.file].path, "documents_in_file": [p.first, p.stop],
                    "documents": s.documents, "entities": s.entities, "suggestions": s.suggestions,
                    "sha256": s.sha256} for s, p in zip(by_number, plan.partitions)],
        "files": files,
    }
    write_text(out / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    return manifest


def read_records(out: str | Path) -> list[dict]:
    """Every document record of a finished run, in shard order (= the inputs' order); for checks and small runs."""
    out = Path(out)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    records = []
    for shard in manifest["shards"]:
        with open(out / shard["shard"], encoding="utf-8") as fh:
            records.extend(json.loads(line) for line in fh)
    return records


def _documents(job: PartitionJob, *, known_types: tuple[str, ...]) -> list[PendingDocument]:
    """The file's documents, read once per process while its partitions come (the last file only is kept)."""
    try:
        st = os.stat(job.resolved)
    except OSError as exc:
        raise ArchiveError(f"{job.path}: cannot be read any more ({exc.strerror}); the run stops") from None
    if (st.st_size, st.st_mtime_ns) != (job.size, job.mtime_ns):
        raise ArchiveError(f"{job.path}: changed while it was being extracted; start again with a new output folder")
    key = (job.resolved, job.size, job.mtime_ns, job.text_column, known_types)
    if not _LAST_FILE or _LAST_FILE[0][0] != key:
        _LAST_FILE.clear()
        _LAST_FILE.append((key, _read(job.resolved, text_column=job.text_column, known_types=known_types)))
    return _LAST_FILE[0][1]


def _read(path: str, *, text_column: str | None, known_types: tuple[str, ...],
          notes: list[str] | None = None) -> list[PendingDocument]:
    return read_file(Path(path), text_column=text_column, known_types=known_types, notes=notes)
