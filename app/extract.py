"""Headless extraction: files (or text) -> entities -> JSONL / CoNLL / stdout."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.errors import MederError
from engine.formats import conll, jsonl, read_text_file
from engine.spans import Document
from engine.tagger import Tagger


def tag_documents(tagger: Tagger, texts: list[tuple[str, str]]) -> list[Document]:
    """(name, text) pairs -> tagged documents, with a progress line on stderr."""
    def progress(done: int, total: int) -> None:
        print(f"\rtagging: {done}/{total} windows", end="", file=sys.stderr, flush=True)

    entities = tagger.tag_many([t for _, t in texts], progress=progress if len(texts) > 1 else None)
    if len(texts) > 1:
        print(file=sys.stderr)
    return [Document(text, ents, name=name) for (name, text), ents in zip(texts, entities)]


def extract(tagger: Tagger, files: list[Path], out: Path | None) -> int:
    """Tag each text file (one document per file); write by suffix of ``out`` or print."""
    texts, failures = [], 0
    for path in files:
        try:
            text = read_text_file(path)
        except (MederError, OSError) as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            failures += 1
            continue
        if not text.strip():
            print(f"skipped: {path}: the file is empty", file=sys.stderr)
            failures += 1
            continue
        texts.append((str(path), text))
    docs = tag_documents(tagger, texts)
    if out is None:
        for doc in docs:
            print_entities(doc)
    elif out.suffix.lower() == ".jsonl":
        out.write_text(jsonl.dumps_doccano(docs), encoding="utf-8")
    elif out.suffix.lower() in (".conll", ".tsv"):
        out.write_text(conll.dumps(docs), encoding="utf-8")
    else:
        print(f"error: cannot write {out.suffix!r}; use .jsonl or .conll", file=sys.stderr)
        return 2
    if out is not None:
        print(f"wrote {sum(len(d.entities) for d in docs)} entities from {len(docs)} documents to {out}", file=sys.stderr)
    return 1 if failures and not docs else 0


def print_entities(doc: Document) -> None:
    if doc.name:
        print(f"# {doc.name}")
    for e in doc.entities:
        print(f"{doc.text[e.start:e.end]}\t{e.label}\t{e.start}-{e.end}\t{e.confidence:.2f}")
