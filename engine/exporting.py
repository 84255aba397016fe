"""Write documents to Excel, doccano JSONL, Prodigy JSONL, Label Studio JSON, CoNLL or BRAT.

:func:`export_documents` takes documents (``engine.spans.Document``), not a database, so the headless
``extract`` writes what it read directly; :func:`export` is the GUI's wrapper over the repository.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from engine.atomic import atomic_path, remove_leftovers
from engine.errors import ExportError
from engine.formats import registry
from engine.formats.registry import WriteOptions
from engine.formats.tables import (
    DOCUMENT_COLUMNS,
    NOT_WRITTEN_SHEET,
    SUMMARY_ASSERTION_COLUMNS,
    NotWritten,
    write_workbook,
)
from engine.progress import IsCancelled, Progress, check_cancelled
from engine.review import review_status
from engine.spans import PRESENT, Document
from engine.text import has_bidi_controls

if TYPE_CHECKING:
    from engine.storage import Repository


def format_for(path: Path, fmt: str | None) -> str:
    """The export format's name (the format registry's writers): ``fmt`` if given, else by the file's suffix
    (``.jsonl``: doccano, the first registered); ValueError for neither."""
    return registry.writer_for(path, fmt).name


def dumps(docs: list[Document], fmt: str, *, model_version: str = "") -> str:
    """The text of a text-format export (all but xlsx and brat)."""
    dumper = registry.get(fmt).dumps
    if dumper is None:
        raise ValueError(f"{fmt!r} is not a text format")
    return dumper(docs, WriteOptions(model_version=model_version))


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: the number of documents, and what of them the file could not hold (by document)."""

    documents: int
    not_written: list[NotWritten] = field(default_factory=list)

    def message(self, path: str | Path) -> str:
        """What the user reads when the export is done (the window's box, ``extract``'s last lines)."""
        text = f"Exported {self.documents} documents to {path}"
        if not self.not_written:
            return text
        lines = [n.line() for n in self.not_written[:10]]
        more = f"\n… and {len(self.not_written) - 10} more" if len(self.not_written) > 10 else ""
        return (f"{text}, but {len(self.not_written)} thing(s) could not be written (listed in the sheet "
                f"{NOT_WRITTEN_SHEET!r}):\n" + "\n".join(lines) + more)


def export_documents(docs: list[Document], path: str | Path, *, fmt: str | None = None, model_version: str = "",
                     cancelled: IsCancelled | None = None) -> ExportSummary:
    """Write ``docs`` to ``path`` atomically (see :func:`export`); says how many and what was not written.

    ``doc.status == "annotated"`` marks a reviewed document; its entities are a person's. Excel gets one
    row per document (title, review status, metadata columns) and one per entity.
    """
    path = Path(path)
    fmt = format_for(path, fmt)
    _remove_leftovers(path)
    with _export_errors(path), atomic_path(path) as partial:
        not_written = _write_documents(docs, partial, fmt, model_version=model_version, cancelled=cancelled)
    return ExportSummary(len(docs), not_written)


def _write_documents(docs: list[Document], partial: Path, fmt: str, *, model_version: str,
                     cancelled: IsCancelled | None) -> list[NotWritten]:
    check_cancelled(cancelled)
    return registry.get(fmt).export(docs, partial, WriteOptions(model_version=model_version, cancelled=cancelled))


def write_xlsx_documents(docs: list[Document], partial: Path, *, model_version: str,
                         cancelled: IsCancelled | None) -> list[NotWritten]:
    """The Excel format's writer (registered in :mod:`engine.formats`): documents read from files, numbered."""
    sheet = [_SheetDocument(n, d.name, d.text, reviewed=d.status == "annotated", model_version=model_version,
                            metadata=d.metadata,
                            entities=[_SheetEntity(e.start, e.end, e.label, e.confidence,
                                                   getattr(e, "assertion", PRESENT),
                                                   "manual" if d.status == "annotated" else "suggested")
                                      for e in d.entities])
             for n, d in enumerate(docs, start=1)]
    return _write_xlsx(sheet, partial, cancelled=cancelled)


@dataclass(frozen=True)
class _SheetEntity:
    start: int
    end: int
    label: str
    confidence: float | None
    assertion: str
    status: str  # in the entity table's words: suggested / accepted / manual


@dataclass(frozen=True)
class _SheetDocument:
    id: int
    title: str
    text: str
    reviewed: bool
    model_version: str
    metadata: dict
    entities: list[_SheetEntity]
    created: datetime | str | None = None
    reviewed_at: datetime | str | None = None


def _excel_time(stamp: str | None) -> datetime | str | None:
    """A stored UTC ISO time as the clinic's local time: a real date cell (Excel has no time zones)."""
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp).astimezone().replace(tzinfo=None)
    except ValueError:
        return stamp  # not a time we wrote: shown as it is


# An imported column that names a patient or record (patient id, MRN, reg. no, রোগী নং): the Summary sheet
# keeps it beside the findings, so a register can be filled from it
_IDENTIFIES = re.compile(r"(^|[\s_\-./])(id|ids|no|nr|num|number|mrn|uhid|reg|registration|record|"
                         r"আইডি|নং|নম্বর|নাম্বার|রেজি)([\s_\-./]|$)", re.IGNORECASE)


def identifies(field: str) -> bool:
    """Whether an imported metadata field names the patient or record (``patient id``, ``MRN``, ``Reg. No``)."""
    return bool(_IDENTIFIES.search(field.strip()))


def _write_xlsx(docs: list[_SheetDocument], partial: Path, *, cancelled: IsCancelled | None) -> list[NotWritten]:
    """The rows of the three sheets (their layout: :func:`engine.formats.tables.write_workbook`).

    Summary: one row per document and one column per entity type holding its present findings joined with
    "; "; each other assertion has its own column (Absent, Possible, Past, Family, Hypothetical), each finding
    with its type, so a register built from it never records a finding the patient does not have.
    """
    types = sorted({e.label for d in docs for e in d.entities})
    doc_rows, ent_rows, summary = [], [], []
    for d in docs:
        reviewed = "yes" if d.reviewed else "no"
        doc_rows.append({"document": d.id, "title": d.title, "created": d.created, "reviewed": reviewed,
                         "entities": len(d.entities), "model version": d.model_version, "text": d.text,
                         "hidden direction marks": "yes" if has_bidi_controls(d.text) else "no",
                         "reviewed at": d.reviewed_at,
                         # a clinic's own "created" column must not overwrite ours, nor vanish
                         **{f"{k} (imported)" if k in DOCUMENT_COLUMNS else k: v for k, v in d.metadata.items()}})
        ent_rows += [{"document": d.id, "title": d.title, "entity text": d.text[e.start:e.end], "type": e.label,
                      "assertion": e.assertion, "status": e.status, "confidence": e.confidence, "start": e.start,
                      "end": e.end, "reviewed": reviewed} for e in d.entities]
        cells: dict[str, list[str]] = {t: [] for t in (*types, *SUMMARY_ASSERTION_COLUMNS.values())}
        for e in sorted(d.entities, key=lambda e: e.start):
            words = d.text[e.start:e.end]
            if e.assertion == PRESENT:
                cells[e.label].append(words)
            else:
                cells[SUMMARY_ASSERTION_COLUMNS[e.assertion]].append(f"{words} ({e.label})")
        summary.append({"document": d.id, "title": d.title, "reviewed": reviewed,
                        **{k: v for k, v in d.metadata.items() if identifies(k)},  # the register's patient id
                        **{k: "; ".join(dict.fromkeys(v)) or None for k, v in cells.items()}})
    return write_workbook(partial, doc_rows, ent_rows, summary=summary, cancelled=cancelled)


@contextmanager
def _export_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, IsADirectoryError):
            reason = "that name is a folder"
        elif exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            reason = f"the disk is full ({reason})"
        raise ExportError(f"{path}: cannot write the export: {reason}. Nothing was exported"
                          f"{'; the older file is unchanged' if path.is_file() else ''}") from None


def export(repo: Repository, path: str | Path, *, fmt: str | None = None, reviewed_only: bool | None = None,
           progress: Progress | None = None, cancelled: IsCancelled | None = None) -> ExportSummary:
    """Export stored documents in ``fmt`` (a format registry's name; default by suffix); says how many were written
    and what of them the file could not hold (:class:`ExportSummary`: Excel's limits never stop an export).

    Without ``reviewed_only``, the format's own default applies (``Format.reviewed_only``): Excel and Label
    Studio get every document, the training formats (JSONL, CoNLL, BRAT) reviewed ones only.
    The file is written beside ``path`` under an unpredictable temporary name
    (:func:`engine.atomic.atomic_path`) and renamed over it at the end, so a
    cancelled or failed export never leaves a half-written file (nor damages
    an older export of the same name). That temporary file is created first,
    so a destination that cannot be written is reported before any work.
    """
    path = Path(path)
    fmt = format_for(path, fmt)
    if reviewed_only is None:
        reviewed_only = registry.get(fmt).reviewed_only
    _remove_leftovers(path)
    with _export_errors(path), atomic_path(path) as partial:
        summary = _write(repo, fmt, partial, reviewed_only=reviewed_only, progress=progress, cancelled=cancelled)
    if progress is not None:
        progress(summary.documents, summary.documents)
    return summary


def _remove_leftovers(path: Path) -> None:
    """Temporary files of exports killed midway (this module's, and the predictable name earlier releases used)."""
    if not path.parent.is_dir():
        return  # atomic_path says so, before any work
    remove_leftovers(path.parent)
    legacy = path.with_name(f".{path.name}.part")
    if legacy.is_symlink() or legacy.is_file():
        legacy.unlink(missing_ok=True)  # unlink never follows a symbolic link


def _write(repo: Repository, fmt: str, partial: Path, *, reviewed_only: bool,
           progress: Progress | None, cancelled: IsCancelled | None) -> ExportSummary:
    docs = [d for d in repo.documents() if d.reviewed or not reviewed_only]
    docs.sort(key=lambda d: d.id)
    entities = {}
    for n, d in enumerate(docs):
        check_cancelled(cancelled)
        entities[d.id] = repo.entities(d.id)
        if progress is not None and n % 200 == 0:
            progress(n, len(docs))
    if fmt == "xlsx":
        sheet = [_SheetDocument(d.id, d.title, d.text, reviewed=d.reviewed, model_version=d.model_version,
                                metadata=dict(getattr(d, "metadata", None) or {}), created=_excel_time(d.created),
                                reviewed_at=_excel_time(getattr(d, "reviewed_at", None)),
                                entities=[_SheetEntity(e.start, e.end, e.label, e.confidence,
                                                       getattr(e, "assertion", PRESENT), review_status(e))
                                          for e in entities[d.id]])
                 for d in docs]
        return ExportSummary(len(docs), _write_xlsx(sheet, partial, cancelled=cancelled))
    else:
        plain = [Document(d.text, [e.span() for e in entities[d.id]], name=d.title,
                          status="annotated" if d.reviewed else "suggested",
                          metadata=dict(getattr(d, "metadata", None) or {})) for d in docs]
        versions = {d.model_version for d in docs if d.model_version}
        _write_documents(plain, partial, fmt, model_version=versions.pop() if len(versions) == 1 else "",
                         cancelled=cancelled)
    return ExportSummary(len(docs))
