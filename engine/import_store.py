"""A read import in, a log with the changes out (Anki's ``import_csv(request) -> ImportLogWithChanges``).

:func:`import_and_store` reads, tags and stores files chunk by chunk (:func:`engine.importing.read_chunks`): one
transaction, one undo step, memory flat in the number of documents, the question about annotated documents already
stored asked once the files are read; it returns one :class:`ImportLog`. The window runs it in the background and
shows the log. :func:`engine.importing.import_files` reads and tags files whole without the database (an
:class:`ImportBatch`); :func:`store_import` stores such a batch the same way; ``extract`` prints the same log, of a
read without a store.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from engine.errors import OperationCancelled
from engine.formats.registry import Source
from engine.importing import (
    CHUNK_DOCUMENTS,
    FileChunk,
    ImportBatch,
    ImportReport,
    PendingDocument,
    TableChoice,
    read_chunks,
)
from engine.progress import IsCancelled, MessageProgress, check_cancelled

if TYPE_CHECKING:
    from engine.storage import Change, NewDocument, Repository
    from engine.tagger import Tagger

OnExisting = Literal["update", "add"]  # annotated documents whose text is stored: update those, or add as new
MAX_SHOWN = 30  # files listed in a log; the rest are counted


@dataclass
class ImportLog:
    """What an import did: the files' report, the files not read, and (once stored) what the database took."""

    report: ImportReport
    errors: list[str] = field(default_factory=list)
    stored: bool = False  # False: a read without a store (``extract``)
    added: Sequence[int] = field(default_factory=list)  # ids of the new documents
    updated: int = 0  # stored documents given the file's annotations
    unchanged: int = 0  # stored documents already as the file has them
    duplicates: int = 0  # un-annotated texts already stored, skipped
    stored_twice: int = 0  # matching texts stored more than once (the newest was updated)
    change: Change | None = None  # the one undo step, for screens to refresh

    @property
    def complete(self) -> bool:
        """Every file read whole and stored as it is: nothing for the user to read beyond the head."""
        return not self.errors and not self.report.skipped and not self.stored_twice

    def head(self) -> str:
        """The first lines: what came in, and what the database did with it."""
        head = self.report.summary().split("\n\n")[0]
        if self.duplicates or self.updated or self.unchanged:  # "Imported 8" alone would hide what happened
            head = head.replace("Imported ", "Read ", 1) + f"\n{len(self.added)} added as new document(s)."
        if self.duplicates:
            head += f"\n{self.duplicates} document(s) were already stored and were skipped."
        if self.updated:
            head += f"\n{self.updated} document(s) updated from the file (Edit › Undo reverts)."
        if self.unchanged:
            head += f"\n{self.unchanged} document(s) were already stored as the file has them."
        if self.stored_twice:
            head += (f"\n{self.stored_twice} of the matching texts are stored more than once; the most recent "
                     "document was updated.")
        return head

    def text(self) -> str:
        """The whole log: the head, the files not read, and per file what was left out and why."""
        text = self.head()
        if self.errors:
            shown = self.errors[:MAX_SHOWN]
            more = len(self.errors) - len(shown)
            text += (f"\n\n{len(self.errors)} file(s) could not be read; nothing from them was imported:\n"
                     + "\n".join(f"skipped: {m}" for m in shown) + (f"\n… and {more} more" if more else ""))
        left_out = [f.line() for f in self.report.files if f.error is None and f.skipped]
        if left_out:  # one line per file, then its notes: ``grep '^left out:'`` finds the files
            text += "\n\nLeft out of imported files:\n" + "\n".join(f"left out: {line}" for line in left_out[:MAX_SHOWN])
        return text


def read_log(batch: ImportBatch) -> ImportLog:
    """The log of a read that is not stored (``extract``)."""
    return ImportLog(batch.report, list(batch.errors))


def stored_matches(repo: Repository, batch: ImportBatch) -> int:
    """How many texts of annotated documents of ``batch`` are stored already (the documents an "update" updates)."""
    texts = {d.text for d in batch.documents if d.origin == "human"}
    return len(repo.documents_with_texts(texts)) if texts else 0


def store_import(repo: Repository, batch: ImportBatch, *, on_existing: OnExisting = "update",
                 cancelled: IsCancelled | None = None) -> ImportLog:
    """Store ``batch`` (read whole, in memory) as :func:`import_and_store` stores files, in one transaction and one
    undo step; returns its log.

    Annotated documents whose text is stored update the newest such document (``on_existing="update"``) or come in
    as new ones (``"add"``); un-annotated texts already stored are skipped and counted. A failure stores nothing
    (:class:`engine.errors.StorageError`); so does a cancel (:class:`engine.errors.OperationCancelled`).
    """
    if on_existing not in ("update", "add"):
        raise ValueError(f"on_existing must be 'update' or 'add', got {on_existing!r}")
    by_file: dict[str, list[PendingDocument]] = {}
    for doc in batch.documents:
        by_file.setdefault(doc.source, []).append(doc)
    chunks = [FileChunk(report, by_file.pop(report.path, []), last=True) for report in batch.report.files]
    if by_file:
        raise ValueError(f"documents of files the batch's report does not name: {sorted(by_file)[:3]}")
    log = _store_chunks(repo, chunks, not_done=f"The import of {len(batch.documents)} document(s) was not saved",
                        model_version=batch.model_version, on_existing=on_existing, cancelled=cancelled)
    log.errors = list(batch.errors)
    return log


def _new_document(d: PendingDocument) -> NewDocument:
    from engine.storage import NewDocument

    return NewDocument(d.title, d.text, d.source, d.entities, metadata=d.metadata, reviewed=d.reviewed)


# (annotated documents matching stored ones, documents read) -> the user's answer; None stores nothing
Ask = Callable[[int, int], "OnExisting | None"]


def import_and_store(repo: Repository, paths: Sequence[Path], tagger: Tagger | None, *,
                     on_existing: OnExisting | Ask = "update", text_column: str | None = None,
                     choices: Mapping[Path, TableChoice] | None = None, known_types: Collection[str] | None = None,
                     sources: Mapping[Path, Source] | None = None, progress: MessageProgress | None = None,
                     cancelled: IsCancelled | None = None, chunk_size: int = CHUNK_DOCUMENTS) -> ImportLog:
    """Read, tag and store ``paths`` chunk by chunk (:func:`engine.importing.read_chunks`) in one transaction and
    one undo step; returns the log :func:`store_import` gives for the same files read whole.

    Memory holds one chunk and the file being read, whatever the number of documents. Each file is stored
    whole or not at all (a bad line halfway drops the rows stored before it; the files before it stay). A cancel
    or a failure stores nothing.

    ``on_existing`` is the answer for annotated documents whose text was stored before the import, or a function
    asked once the files are read (``ask(matches, documents read)``: "update", "add", or None to store nothing).
    Until it answers, such documents are stored as new ones; "update" then moves each onto the stored document it
    matches. (Asked at the end, the question counts every match; held back meanwhile in memory, a re-import of a
    million annotated rows would not be flat.)
    """
    if not callable(on_existing) and on_existing not in ("update", "add"):
        raise ValueError(f"on_existing must be 'update' or 'add' or a function, got {on_existing!r}")
    chunks = read_chunks(paths, tagger, text_column=text_column, choices=choices, known_types=known_types,
                         sources=sources, progress=progress, cancelled=cancelled, chunk_size=chunk_size)
    return _store_chunks(repo, chunks, not_done=f"The import of {len(paths)} file(s) was not saved",
                         model_version=tagger.version if tagger else "", on_existing=on_existing,
                         cancelled=cancelled, progress=progress, files=len(paths))


def _store_chunks(repo: Repository, chunks: Iterable[FileChunk], *, not_done: str, model_version: str,
                  on_existing: OnExisting | Ask, cancelled: IsCancelled | None,
                  progress: MessageProgress | None = None, files: int = 0) -> ImportLog:
    """Store ``chunks`` (each file's documents, ending with its ``last`` chunk) as :func:`import_and_store` says."""
    ask = on_existing if callable(on_existing) else None
    answer = None if ask is not None else on_existing
    report, errors = ImportReport(), []
    # the texts matched (the first annotated document of each updates; a later one is new), by their 64-bit hash
    # (two texts sharing one: about 1 in 10^19): how many stored documents hold each. Kept per match, as the
    # updates' undo states are (a few; a re-import of a whole large file, all)
    matched: dict[int, int] = {}
    file_matched: list[int] = []  # the file's, dropped with it
    waiting: list[tuple[int, int]] = []  # matches not asked about yet, stored as new: (new id, the stored one)
    unchanged = 0
    with repo.importing(not_done, model_version=model_version, cancelled=cancelled) as session:
        current = None
        for chunk in chunks:
            check_cancelled(cancelled)  # between chunks too: a small file's chunk is stored in a blink
            if chunk.report is not current:
                current = chunk.report
                report.files.append(current)
                session.begin_file()
                file_matched, file_waiting, file_unchanged = [], len(waiting), unchanged
            annotated = [d.text for d in chunk.documents if d.origin == "human" and hash(d.text) not in matched]
            found = session.stored_texts(annotated) if annotated and answer != "add" else {}
            for doc in chunk.documents:
                stored = found.get(doc.text) if doc.origin == "human" and hash(doc.text) not in matched else None
                if not stored:
                    session.add(_new_document(doc), doc.origin)
                    continue
                matched[hash(doc.text)] = len(stored)
                file_matched.append(hash(doc.text))
                if answer == "update":
                    unchanged += not session.update(stored[0], _new_document(doc))
                else:
                    waiting.append((session.add(_new_document(doc), doc.origin), stored[0]))
            if chunk.last:
                session.end_file(keep=chunk.report.error is None)
                errors.extend(chunk.errors)
                if chunk.report.error is not None:  # none of its matches either
                    for key in file_matched:
                        del matched[key]
                    del waiting[file_waiting:]
                    unchanged = file_unchanged
        if waiting:
            answer = ask(len(waiting), report.total("documents"))
            if answer is None:
                raise OperationCancelled()
            if answer == "update":
                unchanged += session.move_onto_stored(waiting)
        stored_twice = sum(n > 1 for n in matched.values()) if answer == "update" else 0
        if progress is not None:  # writing a large import to disk takes a moment of its own
            progress(files, files, f"saving {report.total('documents')} document(s)")
    result = session.result
    return ImportLog(report, errors, stored=True, added=result.ids, updated=len(result.updated),
                     unchanged=unchanged, duplicates=result.duplicates, stored_twice=stored_twice,
                     change=result.change)


__all__ = ["Ask", "ImportLog", "OnExisting", "import_and_store", "read_log", "store_import", "stored_matches"]
