"""Write stored documents and entities to Excel, doccano JSONL or CoNLL."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

from engine.atomic import atomic_path, remove_leftovers
from engine.errors import ExportError, OperationCancelled
from engine.formats import conll, jsonl
from engine.formats.tables import write_workbook
from engine.spans import Document
from engine.storage import Repository
from engine.text import has_bidi_controls


def export(repo: Repository, path: str | Path, *, reviewed_only: bool | None = None,
           progress: Callable[[int, int], None] | None = None, cancelled: Callable[[], bool] | None = None) -> int:
    """Export by suffix (.xlsx, .jsonl, .conll); returns the number of documents written.

    Excel gets every document unless ``reviewed_only``; JSONL and CoNLL are
    training formats and get reviewed documents only unless told otherwise.
    The file is written beside ``path`` under an unpredictable temporary name
    (:func:`engine.atomic.atomic_path`) and renamed over it at the end, so a
    cancelled or failed export never leaves a half-written file (nor damages
    an older export of the same name). That temporary file is created first,
    so a destination that cannot be written is reported before any work.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".jsonl", ".conll"):
        raise ValueError(f"cannot export to {suffix!r}: choose .xlsx, .jsonl or .conll")
    if reviewed_only is None:
        reviewed_only = suffix != ".xlsx"
    _remove_leftovers(path)
    try:
        with atomic_path(path) as partial:
            count = _write(repo, path, partial, reviewed_only=reviewed_only, progress=progress, cancelled=cancelled)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, IsADirectoryError):
            reason = "that name is a folder"
        elif exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            reason = f"the disk is full ({reason})"
        raise ExportError(f"{path}: cannot write the export: {reason}. Nothing was exported"
                          f"{'; the older file is unchanged' if path.is_file() else ''}") from None
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


def _write(repo: Repository, path: Path, partial: Path, *, reviewed_only: bool,
           progress: Callable[[int, int], None] | None, cancelled: Callable[[], bool] | None) -> int:
    suffix = path.suffix.lower()
    docs = [d for d in repo.documents() if d.reviewed or not reviewed_only]
    docs.sort(key=lambda d: d.id)
    entities = {}
    for n, d in enumerate(docs):
        if cancelled is not None and cancelled():
            raise OperationCancelled()
        entities[d.id] = repo.entities(d.id)
        if progress is not None and n % 200 == 0:
            progress(n, len(docs))
    if suffix == ".xlsx":
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
        plain = [Document(d.text, [e.span() for e in entities[d.id]], name=d.title) for d in docs]
        text = jsonl.dumps_doccano(plain) if suffix == ".jsonl" else conll.dumps(plain)
        if cancelled is not None and cancelled():
            raise OperationCancelled()
        partial.write_text(text, encoding="utf-8")
    return len(docs)
