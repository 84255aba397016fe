"""Write stored documents and entities to Excel, doccano JSONL or CoNLL."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from engine.errors import OperationCancelled
from engine.formats import conll, jsonl
from engine.formats.tables import write_workbook
from engine.spans import Document
from engine.storage import Repository


def export(repo: Repository, path: str | Path, *, reviewed_only: bool | None = None,
           progress: Callable[[int, int], None] | None = None, cancelled: Callable[[], bool] | None = None) -> int:
    """Export by suffix (.xlsx, .jsonl, .conll); returns the number of documents written.

    Excel gets every document unless ``reviewed_only``; JSONL and CoNLL are
    training formats and get reviewed documents only unless told otherwise.
    The file is written beside ``path`` and renamed over it at the end, so a
    cancelled or failed export never leaves a half-written file (nor damages
    an older export of the same name).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".jsonl", ".conll"):
        raise ValueError(f"cannot export to {suffix!r}: choose .xlsx, .jsonl or .conll")
    if reviewed_only is None:
        reviewed_only = suffix != ".xlsx"
    docs = [d for d in repo.documents() if d.reviewed or not reviewed_only]
    docs.sort(key=lambda d: d.id)
    entities = {}
    for n, d in enumerate(docs):
        if cancelled is not None and cancelled():
            raise OperationCancelled()
        entities[d.id] = repo.entities(d.id)
        if progress is not None and n % 200 == 0:
            progress(n, len(docs))
    partial = path.with_name(f".{path.name}.part")
    try:
        if suffix == ".xlsx":
            doc_rows, ent_rows = [], []
            for d in docs:
                ents = entities[d.id]
                doc_rows.append({"document": d.id, "title": d.title, "created": d.created,
                                 "reviewed": "yes" if d.reviewed else "no", "entities": len(ents),
                                 "model version": d.model_version, "text": d.text})
                ent_rows += [{"document": d.id, "entity text": d.text[e.start:e.end], "type": e.label,
                              "start": e.start, "end": e.end, "confidence": e.confidence, "source": e.source,
                              "reviewed": "yes" if d.reviewed else "no"} for e in ents]
            write_workbook(partial, doc_rows, ent_rows)
        else:
            plain = [Document(d.text, [e.span() for e in entities[d.id]], name=d.title) for d in docs]
            text = jsonl.dumps_doccano(plain) if suffix == ".jsonl" else conll.dumps(plain)
            partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    if progress is not None:
        progress(len(docs), len(docs))
    return len(docs)
