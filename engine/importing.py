"""Turn files into documents ready to store: annotated formats keep their
entities (as human-reviewed), plain text and spreadsheet rows get tagged.

Runs without Qt and without the database, so the GUI can do it in a
background thread and store the result on its own thread.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import FormatError, MederError, OperationCancelled
from engine.formats import MAX_TEXT_BYTES, iter_documents
from engine.formats.registry import Format, ReadOptions, Source, formats, guess, import_suffixes
from engine.formats.tables import TableLayout
from engine.limits import MAX_DOCUMENT_CHARS
from engine.progress import IsCancelled, MessageProgress, Progress, check_cancelled, titled
from engine.spans import Document, Entity, type_name_problem
from engine.tagger import Tagger

MAX_DOCUMENT_BYTES = MAX_TEXT_BYTES
_SURROGATE = re.compile("[\ud800-\udfff]")

__all__ = ["CHUNK_DOCUMENTS", "MAX_DOCUMENT_CHARS", "FileChunk", "FileReport", "ImportBatch", "ImportReport",
           "PendingDocument", "TableChoice", "check_document", "file_format", "import_files", "is_annotated_file",
           "is_table", "iter_file", "read_chunks", "read_file", "storable", "table_columns"]


def is_table(path: Path) -> bool:
    """Whether ``path`` is named like a spreadsheet (the import dialog asks for its sheet and column)."""
    return any(path.suffix.lower() in f.suffixes for f in formats() if f.table)


@dataclass
class PendingDocument:
    title: str
    text: str
    source: str
    entities: list[Entity]
    origin: str  # "model" (suggestions) or "human" (annotations from the file)
    line: int | None = None  # where it starts in its file, for messages
    reviewed: bool = False  # the file says a person reviewed it (annotations, an accepted Prodigy answer)
    metadata: dict[str, str] = field(default_factory=dict)  # the record's other fields (patient id, date...)
    needs_tagging: bool = False  # no entities in the file: the app's model tags it
    notes: list[str] = field(default_factory=list)  # what of this document was not imported, and why


@dataclass
class FileReport:
    """What one file brought: documents, entities, suggestions, and what was left out (and why)."""

    path: str
    documents: int = 0
    entities: int = 0  # a person's annotations
    suggestions: int = 0  # a model's, to review (the file's predictions, or the app's tagging)
    skipped: list[str] = field(default_factory=list)
    error: str | None = None  # the file was not imported at all

    def line(self) -> str:
        name = Path(self.path).name
        if self.error is not None:
            return f"{name}: not imported — {self.error}"
        parts = [f"{self.documents} document(s)", f"{self.entities} entities", f"{self.suggestions} suggestions"]
        text = f"{name}: {', '.join(parts)}"
        if self.skipped:
            text += f"; {len(self.skipped)} thing(s) left out:\n" + "\n".join(f"    {s}" for s in self.skipped[:20])
            if len(self.skipped) > 20:
                text += f"\n    … and {len(self.skipped) - 20} more"
        return text


@dataclass
class ImportReport:
    """One summary per batch: the GUI and ``extract`` show it after every import."""

    files: list[FileReport] = field(default_factory=list)

    def total(self, what: str) -> int:
        return sum(getattr(f, what) for f in self.files if f.error is None)

    @property
    def skipped(self) -> list[str]:
        return [s for f in self.files for s in f.skipped]

    def summary(self) -> str:
        failed = sum(f.error is not None for f in self.files)
        head = (f"Imported {self.total('documents')} document(s) with {self.total('entities')} entities and "
                f"{self.total('suggestions')} suggestions from {len(self.files) - failed} file(s)")
        if failed:
            head += f"; {failed} file(s) not imported"
        if self.skipped:
            head += f"; {len(self.skipped)} thing(s) left out (listed below)"
        return head + ".\n\n" + "\n".join(f.line() for f in self.files)


@dataclass
class ImportBatch:
    documents: list[PendingDocument] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    model_version: str = ""
    report: ImportReport = field(default_factory=ImportReport)


@dataclass(frozen=True)
class TableChoice:
    """Which sheet and column of a spreadsheet hold the text (None: the reader's guess)."""

    column: str | int | None = None
    sheet: str | None = None


def storable(text: str) -> str:
    """``text`` with lone surrogates shown as U+FFFD: a file name with bytes that are not UTF-8 reaches
    Python as surrogates (``\udcff``), which no database, workbook or dialog can hold."""
    return _SURROGATE.sub("\ufffd", text)


def read_file(path: Path | Source, *, text_column: str | int | None = None, sheet: str | None = None,
              known_types: Collection[str] = (), notes: list[str] | None = None, progress: Progress | None = None,
              cancelled: IsCancelled | None = None) -> list[PendingDocument]:
    """Documents of one file, untagged and checked (:func:`check_document`); raises :class:`FormatError`.

    The whole of :func:`iter_file`, for callers that want a list (the archive).
    """
    return list(iter_file(path, text_column=text_column, sheet=sheet, known_types=known_types, notes=notes,
                          progress=progress, cancelled=cancelled))


def iter_file(path: Path | Source, *, text_column: str | int | None = None, sheet: str | None = None,
              known_types: Collection[str] = (), notes: list[str] | None = None, progress: Progress | None = None,
              cancelled: IsCancelled | None = None) -> Iterator[PendingDocument]:
    """Documents of one file as they are read, untagged and each checked (:func:`check_document`); raises
    :class:`FormatError`, possibly after some documents came (a bad line halfway: drop what came before it).

    The format is the registry's best guess from the file's name and head (:func:`engine.formats.registry.guess`);
    one :class:`Source` may be handed in (the spreadsheet dialog's), whose head is read already.
    File-level notes (examples the file marks rejected, say) are appended to ``notes`` once the file is read.
    """
    source = path if isinstance(path, Source) else Source(path)
    path = source.path
    if source.size == 0 and source.suffix != ".ann":  # an empty .ann: a BRAT document without annotations
        raise FormatError(path, "the file is empty")
    fmt = file_format(source)
    options = ReadOptions(known_types=known_types, column=text_column, sheet=sheet,
                          notes=notes if notes is not None else [], progress=progress, cancelled=cancelled)
    origin, name = storable(str(path)), storable(path.name)
    for i, d in enumerate(iter_documents(source, fmt, options)):
        if i % 1000 == 0 and i:  # readers look too; this covers those that hand over a whole list at once
            check_cancelled(cancelled)
        if d.text.strip() or d.entities:
            doc = _pending(d, f"{name} #{i + 1}", origin)
            check_document(doc)
            yield doc


def file_format(source: Source) -> Format:
    """The registry's format for ``source``; :class:`FormatError` naming what can be imported when none fits."""
    fmt = guess(source)
    if fmt is None:
        hint = "; unzip it and import the files inside" if source.suffix == ".zip" else ""
        raise FormatError(source.path, f"cannot import {source.suffix or 'files without a suffix'}{hint}; files "
                                       f"this app reads end in {', '.join(import_suffixes())}")
    return fmt


def is_annotated_file(path: Path | Source) -> bool:
    """Whether :func:`read_file` reads ``path`` as an annotated file (or refuses it as one), not as text or a table:
    by its name, or for a ``.txt``/``.tsv`` or an unknown suffix (``eng.testb``) by its content (CoNLL columns)."""
    fmt = guess(path if isinstance(path, Source) else Source(path))
    return fmt is not None and not fmt.table and fmt.name != "text"


def _pending(d: Document, default_title: str, source: str) -> PendingDocument:
    """An annotated file's document: a person's annotations, a model's suggestions, or text to tag."""
    title = storable(d.name) or default_title
    metadata = {storable(k): storable(v) for k, v in d.metadata.items()}
    if d.status == "annotated":
        return PendingDocument(title, d.text, source, d.entities, "human", d.line, reviewed=True, metadata=metadata,
                               notes=list(d.notes))
    return PendingDocument(title, d.text, source, d.entities, "model", d.line, metadata=metadata,
                           needs_tagging=d.status == "unannotated", notes=list(d.notes))


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
        trimmed.append(e if (start, end) == (e.start, e.end) else Entity(start, end, e.label, e.confidence, e.assertion))
    trimmed.sort(key=lambda e: (e.start, e.end))
    for a, b in zip(trimmed, trimmed[1:]):
        if a.overlaps(b):
            fail(f"entities [{a.start}, {a.end}) and [{b.start}, {b.end}) overlap")
    doc.entities = trimmed
    doc.title, doc.source = storable(doc.title), storable(doc.source)


def table_columns(path: Path | Source, *, preview_rows: int = 200, sheet: str | None = None) -> tuple[list[str], int]:
    """The header of a .csv/.xlsx and the index of the column that most likely holds the text.

    Reads only the first rows; raises nothing but :class:`MederError` (naming the file), so a
    window can ask "which column?" without a damaged file escaping as a crash. A file without a header
    row gets the names "column 1", "column 2"...
    """
    layout = table_layout(path, preview_rows=preview_rows, sheet=sheet)
    return layout.header, layout.text_column


def table_layout(path: Path | Source, *, preview_rows: int = 200, sheet: str | None = None) -> TableLayout:
    """Sheets, the chosen sheet, its header and the likely text column (see :func:`table_columns`)."""
    from engine.formats.tables import inspect_table

    try:
        return inspect_table(path, max_rows=preview_rows, sheet=sheet)
    except MederError:
        raise
    except (OSError, UnicodeError) as exc:
        raise FormatError(path, f"could not be read ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - same rule as import_files
        raise MederError(_unexpected(path, exc)) from None


def _unexpected(path: Path, exc: Exception) -> str:
    return storable(f"{path}: could not be read ({exc.__class__.__name__}: {exc}); nothing from it was "
                    "imported. Please report this file's problem")


CHUNK_DOCUMENTS = 1000  # documents read, tagged and stored together: memory stays flat, Cancel is heard often


@dataclass
class FileChunk:
    """Documents of one file, read, checked and tagged, in the file's order.

    ``last``: the file ends here. A file that could not be read whole ends with ``report.error`` set and no
    documents: whatever of it came in earlier chunks must be dropped (a file is imported whole or not at all).
    ``errors`` (on the last chunk only): for the batch's list, the file's error or its documents that could not
    be tagged.
    """

    report: FileReport
    documents: list[PendingDocument]
    last: bool = False
    errors: list[str] = field(default_factory=list)


def read_chunks(paths: Sequence[Path], tagger: Tagger | None, *, text_column: str | None = None,
                choices: Mapping[Path, TableChoice] | None = None, known_types: Collection[str] | None = None,
                sources: Mapping[Path, Source] | None = None, progress: MessageProgress | None = None,
                cancelled: IsCancelled | None = None, chunk_size: int = CHUNK_DOCUMENTS) -> Iterator[FileChunk]:
    """Read the files and tag what needs it, ``chunk_size`` documents at a time (see :class:`FileChunk`); raises
    nothing but :class:`OperationCancelled`. Every file gives at least one chunk, its last; memory holds one
    chunk and the file being read, whatever the number of documents.

    Arguments as :func:`import_files`, which is this read whole.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if known_types is None:
        known_types = tagger.entity_types if tagger is not None else ()
    seen_pairs: set[Path] = set()
    for n, path in enumerate(paths):
        check_cancelled(cancelled)
        path = Path(path)
        if progress is not None:
            progress(n, len(paths), storable(f"reading {path.name}"))
        report = FileReport(storable(str(path)))
        pair = _brat_pair(path)
        if pair is not None:  # the .txt and the .ann of one BRAT document, both chosen: import it once
            if pair in seen_pairs:
                continue
            seen_pairs.add(pair)
        companion = _brat_companion(path, paths)
        if companion is not None:  # a whole unzipped BRAT export chosen: the manifest is read with its pairs
            report.skipped.append(companion)
            yield FileChunk(report, [], last=True)
            continue
        choice = (choices or {}).get(path, TableChoice(text_column))
        yield from _file_chunks((sources or {}).get(path, path), path, report, tagger, choice=choice,
                                known_types=known_types, progress=progress, cancelled=cancelled, chunk_size=chunk_size)


def _file_chunks(source: Path | Source, path: Path, report: FileReport, tagger: Tagger | None, *,
                 choice: TableChoice, known_types: Collection[str], progress: MessageProgress | None,
                 cancelled: IsCancelled | None, chunk_size: int) -> Iterator[FileChunk]:
    file_notes: list[str] = []
    doc_notes: list[str] = []
    untagged: list[tuple[str, str]] = []  # (for the batch's errors, for the report) of documents tagging failed on
    chunk: list[PendingDocument] = []
    read = 0

    def ready(docs: list[PendingDocument]) -> list[PendingDocument]:
        pending = [d for d in docs if d.needs_tagging]
        if pending and tagger is not None:
            untaggable = _tag(pending, tagger, progress=progress, cancelled=cancelled,
                              message=storable(f"tagging {path.name}: documents {read - len(docs) + 1}–{read}"))
            for doc, message in untaggable:
                untagged.append((storable(f"{doc.source}{'' if doc.line is None else f':{doc.line}'}: {message}"),
                                 f"{'' if doc.line is None else f'line {doc.line}: '}{message}"))
            dropped = {id(doc) for doc, _ in untaggable}
            docs = [d for d in docs if id(d) not in dropped]
        for doc in docs:
            report.documents += 1
            if doc.origin == "human":
                report.entities += len(doc.entities)
            else:
                report.suggestions += len(doc.entities)
        return docs

    def refused(message: str, error: str) -> FileChunk:
        report.documents = report.entities = report.suggestions = 0
        report.error = error
        return FileChunk(report, [], last=True, errors=[message])

    try:
        for doc in iter_file(source, text_column=choice.column, sheet=choice.sheet, known_types=known_types,
                             notes=file_notes, cancelled=cancelled,
                             progress=titled(progress, storable(f"reading {path.name}"))):
            read += 1
            doc_notes.extend(doc.notes)
            chunk.append(doc)
            if len(chunk) >= chunk_size:
                yield FileChunk(report, ready(chunk))
                chunk = []
    except OperationCancelled:
        raise
    except (MederError, OSError, UnicodeError) as exc:
        yield refused(storable(str(exc)), _reason(str(exc), report.path))
        return
    except Exception as exc:  # noqa: BLE001 - one damaged file must never cost the rest of the batch
        message = _unexpected(path, exc)
        yield refused(message, _reason(message, report.path))
        return
    if not read:
        yield refused(storable(f"{path}: no documents found"),
                     "no documents found" + (f" ({'; '.join(file_notes)})" if file_notes else ""))
        return
    last = ready(chunk)
    # as a whole read says it: the file's notes, its documents' notes, then what could not be tagged
    report.skipped.extend([storable(note) for note in file_notes] + doc_notes + [note for _, note in untagged])
    yield FileChunk(report, last, last=True, errors=[message for message, _ in untagged])


def import_files(paths: Sequence[Path], tagger: Tagger | None, *, text_column: str | None = None,
                 choices: Mapping[Path, TableChoice] | None = None, known_types: Collection[str] | None = None,
                 sources: Mapping[Path, Source] | None = None, progress: MessageProgress | None = None,
                 cancelled: IsCancelled | None = None) -> ImportBatch:
    """Read every file and tag what needs it; raises nothing but :class:`OperationCancelled`.

    A file that cannot be read becomes one message in ``errors`` (naming it, and the line when known)
    and none of its documents are kept: a file is imported whole or not at all. ``batch.report`` says per
    file what came in and what was left out. ``choices`` gives a spreadsheet's sheet and text column
    (``text_column`` is the one for files it doesn't name); ``sources`` hands in files read already (by the
    spreadsheet dialog), so that none is read twice. ``known_types`` (default: the tagger's)
    maps ``Health_Condition`` in CoNLL and BRAT files back to ``Health Condition``.

    The whole of :func:`read_chunks` in memory (``extract``); the window stores the chunks as they come
    (:func:`engine.import_store.import_and_store`).
    """
    batch = ImportBatch(model_version=tagger.version if tagger else "")
    kept: list[PendingDocument] = []  # the file being read, until it ends whole
    for chunk in read_chunks(paths, tagger, text_column=text_column, choices=choices, known_types=known_types,
                             sources=sources, progress=progress, cancelled=cancelled):
        if not batch.report.files or batch.report.files[-1] is not chunk.report:
            batch.report.files.append(chunk.report)
        kept.extend(chunk.documents)
        if chunk.last:
            batch.errors.extend(chunk.errors)
            if chunk.report.error is None:
                batch.documents.extend(kept)
            kept = []
    return batch


def _brat_companion(path: Path, paths: Sequence[Path]) -> str | None:
    """Why ``path`` (our BRAT manifest, brat's annotation.conf) is no document, when pairs beside it are chosen too."""
    from engine.formats import brat

    note = brat.companion_note(path)
    if note is None or not any(Path(p).parent == path.parent and _brat_pair(Path(p)) is not None for p in paths):
        return None
    return note


def _brat_pair(path: Path) -> Path | None:
    from engine.formats import brat

    try:
        found = brat.pair(path)
    except OSError:
        return None
    return found[1].resolve() if found else None


def _reason(message: str, path: str) -> str:
    """The message without the file name in front (the report names the file once)."""
    return message[len(path) + 2:] if message.startswith(path + ": ") else message


def _tag(pending: list[PendingDocument], tagger: Tagger, *, progress: MessageProgress | None,
         cancelled: IsCancelled | None, message: str) -> list[tuple[PendingDocument, str]]:
    """Tag ``pending`` in place; returns the documents that could not be tagged, with why."""
    try:
        tagged = tagger.tag_many([d.text for d in pending], progress=titled(progress, message), cancelled=cancelled)
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
