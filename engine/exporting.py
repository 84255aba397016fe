"""Write documents to Excel, doccano JSONL, Prodigy JSONL, Label Studio JSON, CoNLL or BRAT.

:func:`export_documents` takes documents (``engine.spans.Document``), not a database, so the headless
``extract`` writes what it read directly; :func:`export` is the GUI's wrapper over the repository.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from engine.atomic import atomic_path, remove_leftovers
from engine.errors import ExportError
from engine.formats import brat, conll, jsonl, labelstudio
from engine.formats.tables import write_workbook
from engine.progress import IsCancelled, Progress, check_cancelled
from engine.spans import Document
from engine.text import has_bidi_controls

if TYPE_CHECKING:
    from engine.storage import Repository


# format name -> (suffix, what the user sees); "doccano" and "prodigy" share .jsonl
FORMATS = {"xlsx": (".xlsx", "Excel workbook"), "doccano": (".jsonl", "doccano JSONL"),
           "prodigy": (".jsonl", "Prodigy JSONL"), "labelstudio": (".json", "Label Studio JSON"),
           "conll": (".conll", "CoNLL"), "brat": (".zip", "BRAT standoff (.zip of .txt/.ann pairs)")}
_BY_SUFFIX = {".xlsx": "xlsx", ".jsonl": "doccano", ".json": "labelstudio", ".conll": "conll", ".zip": "brat"}


def format_for(path: Path, fmt: str | None) -> str:
    """The export format: ``fmt`` if given, else by the file's suffix; ValueError for neither."""
    if fmt is None:
        fmt = _BY_SUFFIX.get(path.suffix.lower())
    if fmt not in FORMATS:
        choices = ", ".join(sorted({s for s, _ in FORMATS.values()}))
        raise ValueError(f"cannot export to {path.suffix!r}: choose {choices}")
    return fmt


def dumps(docs: list[Document], fmt: str, *, model_version: str = "") -> str:
    """The text of a text-format export (all but xlsx and brat)."""
    if fmt == "doccano":
        return jsonl.dumps_doccano(docs)
    if fmt == "prodigy":
        return jsonl.dumps_prodigy(docs)
    if fmt == "labelstudio":
        return labelstudio.dumps(docs, model_version=model_version)
    if fmt == "conll":
        return conll.dumps(docs)
    raise ValueError(f"{fmt!r} is not a text format")


def export_documents(docs: list[Document], path: str | Path, *, fmt: str | None = None, model_version: str = "",
                     cancelled: IsCancelled | None = None) -> int:
    """Write ``docs`` to ``path`` atomically (see :func:`export`); returns the number written.

    ``doc.status == "annotated"`` marks a reviewed document; its entities are a person's. Excel gets one
    row per document (title, review status, metadata columns) and one per entity.
    """
    path = Path(path)
    fmt = format_for(path, fmt)
    _remove_leftovers(path)
    with _export_errors(path), atomic_path(path) as partial:
        _write_documents(docs, partial, fmt, model_version=model_version, cancelled=cancelled)
    return len(docs)


def _write_documents(docs: list[Document], partial: Path, fmt: str, *, model_version: str,
                     cancelled: IsCancelled | None) -> None:
    if fmt == "xlsx":
        doc_rows, ent_rows = [], []
        for n, d in enumerate(docs, start=1):
            reviewed = "yes" if d.status == "annotated" else "no"
            doc_rows.append({"document": n, "title": d.name, "reviewed": reviewed, "entities": len(d.entities),
                             "model version": model_version, "text": d.text,
                             "hidden direction marks": "yes" if has_bidi_controls(d.text) else "no", **d.metadata})
            ent_rows += [{"document": n, "entity text": d.text[e.start:e.end], "type": e.label, "start": e.start,
                          "end": e.end, "confidence": e.confidence, "source": "human" if reviewed == "yes" else "model",
                          "reviewed": reviewed} for e in d.entities]
        write_workbook(partial, doc_rows, ent_rows, cancelled=cancelled)
        return
    check_cancelled(cancelled)
    if fmt == "brat":
        with open(partial, "wb") as out:
            brat.write_zip(out, docs)
        return
    partial.write_text(dumps(docs, fmt, model_version=model_version), encoding="utf-8")


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
           progress: Progress | None = None, cancelled: IsCancelled | None = None) -> int:
    """Export stored documents in ``fmt`` (:data:`FORMATS`; default by suffix); returns the number written.

    Excel gets every document unless ``reviewed_only``; JSONL and CoNLL are
    training formats and get reviewed documents only unless told otherwise.
    The file is written beside ``path`` under an unpredictable temporary name
    (:func:`engine.atomic.atomic_path`) and renamed over it at the end, so a
    cancelled or failed export never leaves a half-written file (nor damages
    an older export of the same name). That temporary file is created first,
    so a destination that cannot be written is reported before any work.
    """
    path = Path(path)
    fmt = format_for(path, fmt)
    if reviewed_only is None:  # training formats get reviewed documents; Excel and Label Studio (to review) all
        reviewed_only = fmt not in ("xlsx", "labelstudio")
    _remove_leftovers(path)
    with _export_errors(path), atomic_path(path) as partial:
        count = _write(repo, fmt, partial, reviewed_only=reviewed_only, progress=progress, cancelled=cancelled)
    if progress is not None:
        progress(count, count)
    return count


def _remove_leftovers(path: Path) -> None:
    """Temporary files of exports killed midway (this module's, and the predictable name earlier releases used)."""
    if not path.parent.is_dir():
        return  # atomic_path says so, before any work
    remove_leftovers(path.parent)
    legacy = path.with_name(f".{path.name}.part")
    if legacy.is_symlink() or legacy.is_file():
        legacy.unlink(missing_ok=True)  # unlink never follows a symbolic link


def _write(repo: Repository, fmt: str, partial: Path, *, reviewed_only: bool,
           progress: Progress | None, cancelled: IsCancelled | None) -> int:
    docs = [d for d in repo.documents() if d.reviewed or not reviewed_only]
    docs.sort(key=lambda d: d.id)
    entities = {}
    for n, d in enumerate(docs):
        check_cancelled(cancelled)
        entities[d.id] = repo.entities(d.id)
        if progress is not None and n % 200 == 0:
            progress(n, len(docs))
    if fmt == "xlsx":
        doc_rows, ent_rows = [], []
        for d in docs:
            ents = entities[d.id]
            doc_rows.append({"document": d.id, "title": d.title, "created": d.created,
                             "reviewed": "yes" if d.reviewed else "no", "entities": len(ents),
                             "model version": d.model_version, "text": d.text,
                             "hidden direction marks": "yes" if has_bidi_controls(d.text) else "no"})
            ent_rows += [{"document": d.id, "entity text": d.text[e.start:e.end], "type": e.label,
                          "start": e.start, "end": e.end, "confidence": e.confidence, "source": e.source,
                          "reviewed": "yes" if d.reviewed else "no"} for e in ents]
        write_workbook(partial, doc_rows, ent_rows, cancelled=cancelled)
    else:
        plain = [Document(d.text, [e.span() for e in entities[d.id]], name=d.title,
                          status="annotated" if d.reviewed else "suggested",
                          metadata=dict(getattr(d, "metadata", None) or {})) for d in docs]
        versions = {d.model_version for d in docs if d.model_version}
        _write_documents(plain, partial, fmt, model_version=versions.pop() if len(versions) == 1 else "",
                         cancelled=cancelled)
    return len(docs)
