"""An import being stored: one transaction, one savepoint per file, and one undo step, in memory that does not
grow with the number of documents (opened by :meth:`engine.storage.Repository.importing`).

Documents come in chunks as their files are read and tagged; a file that turns out bad halfway is rolled back
to its savepoint (a file is stored whole or not at all) while the files before it stay; a cancel or a failure
rolls the whole transaction back. The undo step records the new documents as ranges of ids (undo hides them as a
deletion does, redo brings them back), not one state per document; updated stored documents keep one state
each (they are few: annotated documents whose text was stored already).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, overload

from engine.errors import OperationCancelled

if TYPE_CHECKING:
    from engine.storage.repository import NewDocument, Repository

_CANCEL_EVERY = 200  # documents between two looks at Cancel
_SAVEPOINT = "import_file"


class IdRanges(Sequence[int]):
    """Ids kept as runs of consecutive numbers: a million imported documents take a few bytes, not 36 MB."""

    def __init__(self, ranges: Iterable[Sequence[int]] = ()) -> None:
        self._ranges: list[tuple[int, int]] = [(int(a), int(b)) for a, b in ranges]
        self._len = sum(b - a + 1 for a, b in self._ranges)

    @classmethod
    def of(cls, ids: Iterable[int]) -> IdRanges:
        out = cls()
        for i in ids:
            out.append(i)
        return out

    def append(self, i: int) -> None:
        if self._ranges and self._ranges[-1][1] == i - 1:
            self._ranges[-1] = (self._ranges[-1][0], i)
        else:
            self._ranges.append((i, i))
        self._len += 1

    @property
    def ranges(self) -> list[list[int]]:
        return [[a, b] for a, b in self._ranges]

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[int]:
        for a, b in self._ranges:
            yield from range(a, b + 1)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and any(a <= value <= b for a, b in self._ranges)

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> list[int]: ...
    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError("id index out of range")
        for a, b in self._ranges:
            if index <= b - a:
                return a + index
            index -= b - a + 1
        raise AssertionError("unreachable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(other) == self._len and list(self) == list(other)

    def __add__(self, other: Iterable[int]) -> IdRanges:
        out = IdRanges(self._ranges)
        for a, b in other._ranges if isinstance(other, IdRanges) else ((i, i) for i in other):
            if out._ranges and out._ranges[-1][1] == a - 1:
                out._ranges[-1] = (out._ranges[-1][0], b)
            else:
                out._ranges.append((a, b))
            out._len += b - a + 1
        return out

    def __repr__(self) -> str:
        return f"IdRanges({self.ranges})"


class ImportSession:
    """Stores an import's documents inside :meth:`Repository.importing`'s transaction (see the module's notes)."""

    def __init__(self, repo: Repository, db: sqlite3.Connection, *, model_version: str, skip_duplicates: bool,
                 cancelled: Callable[[], bool] | None) -> None:
        self._repo, self._db = repo, db
        self.model_version = model_version
        self.skip_duplicates = skip_duplicates
        self._cancelled = cancelled
        self.ids = IdRanges()  # new documents
        self.before: list[dict] = []  # updated documents' states, for the undo step
        self.after: list[dict] = []
        self.touched: list[int] = []
        self.entity_ids: list[int] = []  # entity rows the updates made
        self.duplicates = 0
        self._done = 0
        self._mark: tuple | None = None
        self.result = None  # the StoredImport, once Repository.importing's block has ended
        # what was stored before this import began: only those documents are "already stored" for an update
        self.stored_before: int = db.execute("SELECT COALESCE(MAX(id), 0) FROM documents").fetchone()[0]
        # the texts this import stored, by their hash (Python's, for this import only): in the temporary database,
        # which the transaction and the files' savepoints cover too
        db.execute("CREATE TEMP TABLE IF NOT EXISTS import_texts (hash INTEGER NOT NULL, id INTEGER NOT NULL)")
        db.execute("CREATE INDEX IF NOT EXISTS temp.import_texts_by_hash ON import_texts (hash)")
        db.execute("DELETE FROM temp.import_texts")

    def _tick(self) -> None:
        if self._done % _CANCEL_EVERY == 0 and self._cancelled is not None and self._cancelled():
            raise OperationCancelled()
        self._done += 1

    def begin_file(self) -> None:
        """A file's documents follow: :meth:`end_file` keeps them all or none."""
        assert self._mark is None, "end_file first"
        self._db.execute(f"SAVEPOINT {_SAVEPOINT}")
        self._mark = (self.ids.ranges, len(self.before), len(self.entity_ids), self.duplicates)

    def end_file(self, *, keep: bool) -> None:
        """Keep the file's documents, or drop every one of them (a bad row found after some were stored)."""
        assert self._mark is not None, "begin_file first"
        if not keep:
            self._db.execute(f"ROLLBACK TO {_SAVEPOINT}")
            ranges, updates, entities, self.duplicates = self._mark
            self.ids = IdRanges(ranges)
            del self.before[updates:], self.after[updates:], self.touched[updates:], self.entity_ids[entities:]
        self._db.execute(f"RELEASE {_SAVEPOINT}")
        self._mark = None

    def stored_texts(self, texts: Iterable[str]) -> dict[str, list[int]]:
        """Documents stored before this import (not deleted) holding each of ``texts``, newest first."""
        if not self.stored_before:  # an empty database: nothing to look for among the rows this import adds
            return {}
        return self._repo.documents_with_texts(texts, up_to=self.stored_before)

    def add(self, doc: NewDocument, origin: str) -> int | None:
        """Store a new document (``origin`` "model": suggestions, "human": annotations); None when it is an
        un-annotated text stored already (before or earlier in this import), skipped and counted."""
        from engine.storage.repository import _insert_document

        if origin not in ("model", "human"):
            raise ValueError(f"origin must be 'model' or 'human', got {origin!r}")
        self._tick()
        if self.skip_duplicates and origin == "model" and self._stored(doc.text):
            self.duplicates += 1
            return None
        document_id = _insert_document(self._db, doc, origin=origin, model_version=self.model_version,
                                       status="suggested" if origin == "model" else "accepted")
        self._db.execute("INSERT INTO temp.import_texts (hash, id) VALUES (?, ?)", (hash(doc.text), document_id))
        self.ids.append(document_id)
        return document_id

    def _stored(self, text: str) -> bool:
        """Whether ``text`` was stored before this import (not deleted), or earlier in it: the first among the
        documents of its length stored before, the second by its hash (a match confirmed by the text), so that
        neither grows with the documents this import adds."""
        from engine.storage.repository import _STORED_TEXT

        if self._db.execute("SELECT 1 FROM documents WHERE id IN (SELECT id FROM temp.import_texts WHERE hash = ?)"
                            " AND text = ?", (hash(text), text)).fetchone():
            return True
        return bool(self.stored_before) and self._db.execute(
            f"{_STORED_TEXT} AND id <= ?", (len(text), text, self.stored_before)).fetchone() is not None

    def update(self, document_id: int, doc: NewDocument) -> bool:
        """Give a stored document the file's entities, review and metadata; False when it already has them."""
        self._tick()
        states = self._repo._updated_from_file(self._db, document_id, doc)
        if states is None:
            return False
        self.before.append(states[0])
        self.after.append(states[1])
        self.touched.append(document_id)
        self.entity_ids += [r["id"] for r in states[1]["entities"]]
        return True

    def move_onto_stored(self, pairs: Sequence[tuple[int, int]]) -> int:
        """Documents this import stored as new while the user was not yet asked, each matching a stored one: each
        updates its stored document instead (as :meth:`update`) and is removed. Returns how many stored documents
        already were as the file has them."""
        from engine.spans import Entity
        from engine.storage.repository import NewDocument

        unchanged, gone = 0, set()
        for new_id, stored_id in pairs:
            row = self._db.execute("SELECT title, text, source, metadata, reviewed FROM documents WHERE id = ?",
                                   (new_id,)).fetchone()
            entities = [Entity(e["start"], e["end"], e["label"], None, e["assertion"]) for e in self._db.execute(
                "SELECT start, end, label, assertion FROM entities WHERE document_id = ? ORDER BY start, end",
                (new_id,))]
            self._db.execute("DELETE FROM entities WHERE document_id = ?", (new_id,))
            self._db.execute("DELETE FROM documents WHERE id = ?", (new_id,))
            gone.add(new_id)
            doc = NewDocument(row["title"], row["text"], row["source"], entities, metadata=json.loads(row["metadata"]),
                              reviewed=bool(row["reviewed"]))
            unchanged += not self.update(stored_id, doc)
        self.ids = IdRanges.of(i for i in self.ids if i not in gone)
        return unchanged

    def finish(self, now: str):
        """Record the one undo step (nothing when nothing changed); returns the :class:`StoredImport`."""
        from engine.storage.repository import Change, StoredImport

        assert self._mark is None, "a file was begun and not ended"
        self._db.execute("DELETE FROM temp.import_texts")
        if not self.ids and not self.touched:
            return StoredImport(self.ids, (), self.duplicates, None)
        parts = ([f"import {len(self.ids)} document(s)"] if self.ids else []) + \
            ([f"update {len(self.touched)} document(s) from an imported file"] if self.touched else [])
        description = " and ".join(parts)
        first = self.touched[0] if self.touched else self.ids[0]
        ranges = self.ids.ranges
        # undone: the new documents hidden, as a deleted document is; redone: shown again
        self._repo._record(self._db, first, description,
                           {"batch": self.before, "imported": {"ranges": ranges, "deleted_at": now}},
                           {"batch": self.after, "imported": {"ranges": ranges, "deleted_at": None}})
        return StoredImport(self.ids, tuple(self.touched), self.duplicates,
                            Change(first, description, tuple(self.entity_ids),
                                   documents=IdRanges.of(self.touched) + self.ids))


__all__ = ["IdRanges", "ImportSession"]
