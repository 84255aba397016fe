"""Headless extraction: the GUI's import -> tag -> export path, from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.errors import ExportError
from engine.exporting import export_documents
from engine.formats import registry
from engine.import_store import read_log
from engine.importing import import_files
from engine.spans import Document
from engine.tagger import Tagger

EXIT_SOME_FILES_FAILED = 3  # the readable files were extracted; the others are listed on stderr
EXIT_CODES = ("exit status: 0 every file was extracted; 1 no file could be read; 2 bad arguments, model or "
              f"database; {EXIT_SOME_FILES_FAILED} the readable files were extracted and written, the files "
              "listed as 'skipped' were not")


def output_help() -> str:
    """What ``-o`` can write, from the format registry."""
    return "; ".join(f"{f.export_suffix} {f.title}" for f in registry.writers()
                     if registry.writer_for(Path(f"x{f.export_suffix}")) is f) + " (default: print)"


def _progress(done: int, total: int, message: str) -> None:
    width = 30
    filled = int(width * done / total) if total else 0
    print(f"\r{message[:40]:40} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
          end="", file=sys.stderr, flush=True)


def extract(tagger: Tagger, files: list[Path], out: Path | None, *, text_column: str | None = None) -> int:
    """Import and tag ``files``; write ``out`` (any suffix the format registry writes) or print the entities.

    Returns an exit status (:data:`EXIT_CODES`): files that cannot be read never stop the others.
    """
    if out is not None and out.suffix.lower() not in registry.export_suffixes():
        print(f"error: cannot write {out.suffix!r}; use one of {', '.join(registry.export_suffixes())}",
              file=sys.stderr)
        return 2
    batch = import_files(files, tagger, text_column=text_column, progress=_progress)
    print(file=sys.stderr)
    print(read_log(batch).text(), file=sys.stderr)  # the window's import log, word for word
    if not batch.documents:
        print("error: nothing to extract", file=sys.stderr)
        return 1
    status = EXIT_SOME_FILES_FAILED if batch.errors else 0
    if out is None:
        for d in batch.documents:
            print_entities(Document(d.text, d.entities, name=d.title))
        return status
    docs = [Document(d.text, d.entities, name=d.title, status="annotated" if d.origin == "human" else "suggested",
                     metadata=d.metadata) for d in batch.documents]
    try:
        summary = export_documents(docs, out, model_version=batch.model_version)
    except (ExportError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    entities = sum(len(d.entities) for d in docs)
    print(f"wrote {entities} entities from {summary.documents} documents to {out}", file=sys.stderr)
    for item in summary.not_written:
        print(f"not written: {item.line()}", file=sys.stderr)
    if batch.errors:
        print(f"{len(batch.errors)} file(s) not extracted (listed above as 'skipped')", file=sys.stderr)
    return status


def print_entities(doc: Document) -> None:
    if doc.name:
        print(f"# {doc.name}")
    for e in doc.entities:  # words, type, span, confidence (empty for a person's), assertion
        confidence = "" if e.confidence is None else f"{e.confidence:.2f}"
        print(f"{doc.text[e.start:e.end]}\t{e.label}\t{e.start}-{e.end}\t{confidence}\t{e.assertion}")
