"""Turn files into documents ready to store: annotated formats keep their
entities (as human-reviewed), plain text and spreadsheet rows get tagged.

Runs without Qt and without the database, so the GUI can do it in a
background thread and store the result on its own thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import FormatError, MederError, OperationCancelled
from engine.formats import load_documents, read_text_file
from engine.formats.tables import table_texts
from engine.spans import Entity
from engine.tagger import Tagger

MAX_DOCUMENT_BYTES = 2_000_000  # ~300 pages; larger notes are almost surely not one document
MAX_DOCUMENT_CHARS = 1_000_000  # one document (a file, a cell, a paste); the README names this limit
TEXT_SUFFIXES = (".txt", ".text", ".md")
TABLE_SUFFIXES = (".csv", ".xlsx")
ANNOTATED_SUFFIXES = (".json", ".jsonl", ".conll")
ALL_SUFFIXES = TEXT_SUFFIXES + TABLE_SUFFIXES + ANNOTATED_SUFFIXES


@dataclass
class PendingDocument:
    title: str
    text: str
    source: str
    entities: list[Entity]
    origin: str  # "model" (suggestions) or "human" (annotations from the file)


@dataclass
class ImportBatch:
    documents: list[PendingDocument] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    model_version: str = ""


def read_file(path: Path, *, text_column: str | None = None) -> list[PendingDocument]:
    """Documents of one file, untagged; raises :class:`FormatError` naming the file."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FormatError(path, "no such file")
    size = path.stat().st_size
    if size == 0:
        raise FormatError(path, "the file is empty")
    if suffix in ANNOTATED_SUFFIXES and not (suffix == ".conll" and size > 50 * MAX_DOCUMENT_BYTES):
        return [PendingDocument(d.name or f"{path.name} #{i + 1}", d.text, str(path), d.entities, "human")
                for i, d in enumerate(load_documents(path)) if d.text.strip()]
    if suffix in TABLE_SUFFIXES:
        return [PendingDocument(f"{path.name} row {line}", text, str(path), [], "model")
                for line, text in table_texts(path, text_column)]
    if size > MAX_DOCUMENT_BYTES:
        raise FormatError(path, f"the file is {size / 1e6:.1f} MB; one document can be at most "
                                f"{MAX_DOCUMENT_BYTES / 1e6:.0f} MB. Split it into smaller files")
    text = read_text_file(path)
    if not text.strip():
        raise FormatError(path, "the file has no text")
    return [PendingDocument(path.stem, text, str(path), [], "model")]


def import_files(paths: Sequence[Path], tagger: Tagger | None, *, text_column: str | None = None,
                 progress: Callable[[int, int, str], None] | None = None,
                 cancelled: Callable[[], bool] | None = None) -> ImportBatch:
    """Read every file (bad ones become error messages) and tag what needs it."""
    batch = ImportBatch(model_version=tagger.version if tagger else "")
    for n, path in enumerate(paths):
        if cancelled is not None and cancelled():
            raise OperationCancelled()
        if progress is not None:
            progress(n, len(paths), f"reading {Path(path).name}")
        try:
            docs = read_file(Path(path), text_column=text_column)
        except (MederError, OSError, UnicodeError) as exc:
            batch.errors.append(str(exc))
            continue
        if not docs:
            batch.errors.append(f"{path}: no documents found")
        batch.documents.extend(docs)
    pending = [d for d in batch.documents if d.origin == "model"]
    if pending and tagger is not None:
        def step(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total, f"tagging {len(pending)} documents")

        for doc, ents in zip(pending, tagger.tag_many([d.text for d in pending], progress=step, cancelled=cancelled)):
            doc.entities = ents
    return batch
