"""Write stored documents and entities to Excel, doccano JSONL or CoNLL."""

from __future__ import annotations

from pathlib import Path

from engine.formats import conll, jsonl
from engine.formats.tables import write_workbook
from engine.spans import Document
from engine.storage import Repository


def export(repo: Repository, path: str | Path, *, reviewed_only: bool | None = None) -> int:
    """Export by suffix (.xlsx, .jsonl, .conll); returns the number of documents written.

    Excel gets every document unless ``reviewed_only``; JSONL and CoNLL are
    training formats and get reviewed documents only unless told otherwise.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".jsonl", ".conll"):
        raise ValueError(f"cannot export to {suffix!r}: choose .xlsx, .jsonl or .conll")
    if reviewed_only is None:
        reviewed_only = suffix != ".xlsx"
    docs = [d for d in repo.documents() if d.reviewed or not reviewed_only]
    docs.sort(key=lambda d: d.id)
    if suffix == ".xlsx":
        doc_rows, ent_rows = [], []
        for d in docs:
            ents = repo.entities(d.id)
            doc_rows.append({"document": d.id, "title": d.title, "created": d.created,
                             "reviewed": "yes" if d.reviewed else "no", "entities": len(ents),
                             "model version": d.model_version, "text": d.text})
            ent_rows += [{"document": d.id, "entity text": d.text[e.start:e.end], "type": e.label, "start": e.start,
                          "end": e.end, "confidence": e.confidence, "source": e.source,
                          "reviewed": "yes" if d.reviewed else "no"} for e in ents]
        write_workbook(path, doc_rows, ent_rows)
        return len(docs)
    plain = [Document(d.text, [e.span() for e in repo.entities(d.id)], name=d.title) for d in docs]
    text = jsonl.dumps_doccano(plain) if suffix == ".jsonl" else conll.dumps(plain)
    path.write_text(text, encoding="utf-8")
    return len(docs)
