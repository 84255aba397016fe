"""Turn files into documents ready to store: annotated formats keep their
entities (as human-reviewed), plain text and spreadsheet rows get tagged.

Runs without Qt and without the database, so the GUI can do it in a
background thread and store the result on its own thread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import FormatError, MederError, OperationCancelled
from engine.formats import load_documents, read_text_file
from engine.formats.tables import table_texts
from engine.limits import MAX_DOCUMENT_CHARS, MAX_FILE_BYTES
from engine.spans import Entity, type_name_problem
from engine.tagger import Tagger

MAX_DOCUMENT_BYTES = 4 * MAX_DOCUMENT_CHARS  # no encoding we read takes more than 4 bytes a character
TEXT_SUFFIXES = (".txt", ".text", ".md")
TABLE_SUFFIXES = (".csv", ".xlsx")
ANNOTATED_SUFFIXES = (".json", ".jsonl", ".conll")
ALL_SUFFIXES = TEXT_SUFFIXES + TABLE_SUFFIXES + ANNOTATED_SUFFIXES
_SURROGATE = re.compile("[\ud800-\udfff]")

__all__ = ["MAX_DOCUMENT_CHARS", "ImportBatch", "PendingDocument", "check_document", "import_files", "read_file",
           "storable", "table_columns"]


@dataclass
class PendingDocument:
    title: str
    text: str
    source: str
    entities: list[Entity]
    origin: str  # "model" (suggestions) or "human" (annotations from the file)
    line: int | None = None  # where it starts in its file, for messages


@dataclass
class ImportBatch:
    documents: list[PendingDocument] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    model_version: str = ""


def storable(text: str) -> str:
    """``text`` with lone surrogates shown as U+FFFD: a file name with bytes that are not UTF-8 reaches
    Python as surrogates (``\udcff``), which no database, workbook or dialog can hold."""
    return _SURROGATE.sub("\ufffd", text)


def read_file(path: Path, *, text_column: str | None = None) -> list[PendingDocument]:
    """Documents of one file, untagged and checked (:func:`check_document`); raises :class:`FormatError`."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FormatError(path, "no such file")
    size = path.stat().st_size
    if size == 0:
        raise FormatError(path, "the file is empty")
    source, name = storable(str(path)), storable(path.name)
    if suffix in ANNOTATED_SUFFIXES:
        if size > MAX_FILE_BYTES:
            raise FormatError(path, f"the file is {size / 1e6:.0f} MB; an annotated file can be at most "
                                    f"{MAX_FILE_BYTES / 1e6:.0f} MB. Split it into smaller files")
        docs = [PendingDocument(storable(d.name) or f"{name} #{i + 1}", d.text, source, d.entities, "human", d.line)
                for i, d in enumerate(load_documents(path)) if d.text.strip() or d.entities]
    elif suffix in TABLE_SUFFIXES:
        docs = [PendingDocument(f"{name} row {line}", text, source, [], "model", line)
                for line, text in table_texts(path, text_column)]
    else:
        if size > MAX_DOCUMENT_BYTES:
            raise FormatError(path, f"the file is {size / 1e6:.1f} MB; one document can be at most "
                                    f"{MAX_DOCUMENT_CHARS:,} characters. Split it into smaller files")
        text = read_text_file(path)
        if not text.strip():
            raise FormatError(path, "the file has no text")
        docs = [PendingDocument(storable(path.stem), text, source, [], "model")]
    for doc in docs:
        check_document(doc)
    return docs


def check_document(doc: PendingDocument) -> None:
    """Check (and trim) what ``doc`` carries so that storage and every export can hold it.

    Entity spans lose surrounding whitespace (Label Studio selections often end in a space);
    anything else wrong raises :class:`FormatError` naming the file and line.
    """
    def fail(message: str) -> None:
        raise FormatError(doc.source, message, doc.line)

    if not isinstance(doc.text, str) or not doc.text.strip():
        fail("the document has no text")
    if len(doc.text) > MAX_DOCUMENT_CHARS:
        fail(f"the document is {len(doc.text):,} characters long; one document can hold at most "
             f"{MAX_DOCUMENT_CHARS:,}. Split it into smaller ones")
    if _SURROGATE.search(doc.text):
        fail("the text contains an invalid character (a lone UTF-16 surrogate)")
    text, trimmed = doc.text, []
    for e in doc.entities:
        if not isinstance(e, Entity):
            fail(f"expected an entity, got {e!r}")
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (e.start, e.end)):
            fail(f"entity offsets must be whole numbers, got [{e.start!r}, {e.end!r}]")
        if not 0 <= e.start < e.end <= len(text):
            fail(f"entity [{e.start}, {e.end}) is outside the text (length {len(text)})")
        problem = type_name_problem(e.label)
        if problem:
            fail(f"entity type {e.label!r} {problem}")
        start, end = e.start, e.end
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            fail(f"entity [{e.start}, {e.end}) ({e.label}) covers only spaces")
        trimmed.append(e if (start, end) == (e.start, e.end) else Entity(start, end, e.label, e.confidence))
    trimmed.sort(key=lambda e: (e.start, e.end))
    for a, b in zip(trimmed, trimmed[1:]):
        if a.overlaps(b):
            fail(f"entities [{a.start}, {a.end}) and [{b.start}, {b.end}) overlap")
    doc.entities = trimmed
    doc.title, doc.source = storable(doc.title), storable(doc.source)


def table_columns(path: Path, *, preview_rows: int = 200) -> tuple[list[str], int]:
    """The header of a .csv/.xlsx and the index of the column that most likely holds the text.

    Reads only the first rows; raises nothing but :class:`MederError` (naming the file), so a
    window can ask "which column?" without a damaged file escaping as a crash.
    """
    from engine.formats.tables import guess_text_column, read_table

    try:
        header, rows = read_table(path, max_rows=preview_rows)
    except MederError:
        raise
    except (OSError, UnicodeError) as exc:
        raise FormatError(path, f"could not be read ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - same rule as import_files
        raise MederError(_unexpected(path, exc)) from None
    return header, guess_text_column(header, rows) or 0


def _unexpected(path: Path, exc: Exception) -> str:
    return storable(f"{path}: could not be read ({exc.__class__.__name__}: {exc}); nothing from it was "
                    "imported. Please report this file's problem")


def import_files(paths: Sequence[Path], tagger: Tagger | None, *, text_column: str | None = None,
                 progress: Callable[[int, int, str], None] | None = None,
                 cancelled: Callable[[], bool] | None = None) -> ImportBatch:
    """Read every file and tag what needs it; raises nothing but :class:`OperationCancelled`.

    A file that cannot be read becomes one message in ``errors`` (naming it, and the line when known)
    and none of its documents are kept: a file is imported whole or not at all.
    """
    batch = ImportBatch(model_version=tagger.version if tagger else "")
    for n, path in enumerate(paths):
        if cancelled is not None and cancelled():
            raise OperationCancelled()
        path = Path(path)
        if progress is not None:
            progress(n, len(paths), storable(f"reading {path.name}"))
        try:
            docs = read_file(path, text_column=text_column)
        except OperationCancelled:
            raise
        except (MederError, OSError, UnicodeError) as exc:
            batch.errors.append(storable(str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - one damaged file must never cost the rest of the batch
            batch.errors.append(_unexpected(path, exc))
            continue
        if not docs:
            batch.errors.append(storable(f"{path}: no documents found"))
        batch.documents.extend(docs)
    pending = [d for d in batch.documents if d.origin == "model"]
    if pending and tagger is not None:
        failed = _tag(pending, tagger, progress=progress, cancelled=cancelled)
        for doc, message in failed:
            batch.errors.append(storable(f"{doc.source}{'' if doc.line is None else f':{doc.line}'}: {message}"))
        dropped = {id(doc) for doc, _ in failed}
        batch.documents = [d for d in batch.documents if id(d) not in dropped]
    return batch


def _tag(pending: list[PendingDocument], tagger: Tagger, *, progress: Callable[[int, int, str], None] | None,
         cancelled: Callable[[], bool] | None) -> list[tuple[PendingDocument, str]]:
    """Tag ``pending`` in place; returns the documents that could not be tagged, with why."""
    def step(done: int, total: int) -> None:
        if progress is not None:
            progress(done, total, f"tagging {len(pending)} documents")

    try:
        tagged = tagger.tag_many([d.text for d in pending], progress=step, cancelled=cancelled)
    except OperationCancelled:
        raise
    except Exception:  # noqa: BLE001 - find the document(s) at fault one by one; the rest still import
        tagged = None
    failed: list[tuple[PendingDocument, str]] = []
    for i, doc in enumerate(pending):
        try:
            doc.entities = tagged[i] if tagged is not None else tagger.tag(doc.text)
            check_document(doc)  # the model's spans are whole words: a failure here is a bug, and says so
        except OperationCancelled:
            raise
        except Exception as exc:  # noqa: BLE001
            failed.append((doc, f"not imported: tagging failed ({exc.__class__.__name__}: {exc})"))
    return failed
