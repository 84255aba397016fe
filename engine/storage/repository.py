"""The repository: the one owner of the database connection, its transactions, the reads, the edits
(as recorded commands) and undo/redo.

Every edit is one transaction that also records what it changed (the entity
rows, review state and document fields before and after), so undo/redo are
plain data operations that work in tests without Qt and survive a restart.
WAL mode and a commit per edit mean that nothing shown as done is lost when
the app is closed or killed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from engine.assertion import Rules, load_rules
from engine.errors import MederError, StorageError
from engine.spans import ASSERTIONS, PRESENT, Entity
from engine.storage.import_session import IdRanges, ImportSession
from engine.storage.rules import EditRefused, check_spans, human_row, nudge, occurrences, overlapping, snap
from engine.storage.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    _create_private,
    _make_private,
    _reason,
    check_database_file,
    drop_foreign_objects,
)


@dataclass(frozen=True)
class StoredDocument:
    id: int
    title: str
    text: str
    source: str
    created: str
    reviewed: bool
    model_version: str
    entity_count: int
    min_confidence: float | None
    needs_recheck: str | None = None  # why the document must be reviewed again (e.g. "line ends")
    metadata: dict = field(default_factory=dict)  # source file, row and other columns of an imported row
    labels: tuple[str, ...] = ()  # the entity types the document holds
    reviewed_at: str | None = None


@dataclass(frozen=True)
class StoredEntity:
    id: int
    document_id: int
    start: int
    end: int
    label: str
    source: str  # "model" | "human"
    status: str  # "suggested" | "accepted"
    confidence: float | None
    model_version: str
    assertion: str = PRESENT  # absent, possible, past, family, hypothetical: see engine.assertion

    def span(self) -> Entity:
        return Entity(self.start, self.end, self.label, self.confidence, self.assertion)


@dataclass(frozen=True)
class Change:
    """What an operation changed, so screens know what to refresh."""

    document_id: int
    description: str
    added: tuple[int, ...] = ()  # ids of the entity rows the change created (a relabel makes a new row)
    documents: tuple[int, ...] = ()  # every document touched, when more than one (a re-tag)
    removed: bool = False  # the document is gone from the list (deleted, or its addition undone)


@dataclass(frozen=True)
class NewDocument:
    """A document to store: its text and, from an annotated file or the model, its entities."""

    title: str
    text: str
    source: str = ""
    entities: list[Entity] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    reviewed: bool = False  # the file says a person reviewed it (an annotation tool's export)


@dataclass(frozen=True)
class StoredBatch:
    """What storing an import batch did: the new ids, and the texts skipped as already stored."""

    ids: list[int]
    duplicates: int = 0


@dataclass(frozen=True)
class StoredImport:
    """What :meth:`Repository.importing` stored: new documents, stored ones updated, texts skipped as already
    stored, and the one undo step (None: nothing changed)."""

    ids: list[int]
    updated: tuple[int, ...] = ()
    duplicates: int = 0
    change: Change | None = None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Repository:
    """The one owner of the database connection.

    An existing file is checked before anything is written to it (see
    :func:`check_database_file`); a file due for a migration is copied to
    ``backups/`` first. ``read_only`` opens without migrating or writing
    (self-test, salvage, a write-protected data folder). ``notices`` lists what
    the opening changed that the user must hear about once.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False, timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.timeout_s = timeout_s  # how long a write waits for another program's lock before it fails
        self.notices: list[str] = []
        # the model's assertion judge (Tagger.assertions): an entity added, resized or relabelled by hand gets
        # its assertion as a suggestion the user can cycle; None keeps what it had (present for a new one)
        self.judge: Callable[[str, Sequence[Entity]], list[str]] | None = None
        if self.path.exists():
            version = check_database_file(self.path)
        elif read_only:
            raise StorageError(f"{self.path}: no such database")
        else:
            version = 0
            _create_private(self.path)
        target = f"file:{quote(str(self.path.resolve()))}?mode=ro" if read_only else str(self.path)
        try:
            self._db = sqlite3.connect(target, uri=read_only, isolation_level=None, check_same_thread=False,
                                       timeout=timeout_s)
            self._db.row_factory = sqlite3.Row
            if read_only:
                return
            _make_private(self.path)  # -wal and -shm take the database file's mode
            if version and (cleaned := drop_foreign_objects(self._db, self.path)):  # before any write fires them
                self.notices.append(cleaned)
            if 0 < version < SCHEMA_VERSION:
                from engine.backup import make_backup

                make_backup(self.path, reason="before-migration", source=self._db)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: each edit is on disk when its commit returns, so a power cut (frequent where clinics
            # run on batteries and generators) cannot roll back a correction already shown as saved
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            for suffix in ("-wal", "-shm"):
                _make_private(Path(f"{self.path}{suffix}"))
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.path}: cannot open the database: {_reason(exc)}") from None

    def close(self) -> None:
        self._db.close()

    # -- schema -----------------------------------------------------------
    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise MederError(f"{self.path}: made by a newer Bangla MedER (schema {version}); please update the app")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            try:  # DDL and the version bump commit together or not at all
                self._db.executescript(f"BEGIN; {MIGRATIONS[target]}; PRAGMA user_version={target}; COMMIT;")
            except sqlite3.DatabaseError:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        if 0 < version < 3:
            flagged = self.needs_recheck()
            if flagged:
                titles = "\n".join(f"• {d.title}" for d in flagged[:10]) + ("\n…" if len(flagged) > 10 else "")
                self.notices.append(
                    f"{len(flagged)} document(s) with Windows line ends (CRLF) were edited with an earlier version "
                    "that placed highlights and selections on the wrong words there. Their corrections may be "
                    "misplaced, so they were marked unreviewed and are not used for retraining until you check "
                    f"them again (Review › Next unreviewed finds them):\n\n{titles}")

    @contextmanager
    def _transaction(self, not_done: str, *, wait_s: float | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction; a failure rolls it all back and raises ``"<not_done>: <why>"``.

        ``wait_s``: how long to wait for another program's write lock instead of the connection's ``timeout_s``.
        """
        try:
            if wait_s is not None:
                self._db.execute(f"PRAGMA busy_timeout = {int(wait_s * 1000)}")
            try:
                self._db.execute("BEGIN IMMEDIATE")
            finally:
                if wait_s is not None:
                    self._db.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
        except sqlite3.Error as exc:
            raise StorageError(f"{not_done}: {_reason(exc)}") from None
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite rolls back itself when it cannot write; nothing committed is touched
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"{not_done}: {_reason(exc)}") from None
            raise

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._db
        except sqlite3.Error as exc:
            raise StorageError(f"The database could not be read: {_reason(exc)}") from None

    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._reading() as db:
            return db.execute(sql, params).fetchall()

    def _one(self, sql: str, params: tuple = ()) -> sqlite3.Row | None:
        with self._reading() as db:
            return db.execute(sql, params).fetchone()

    def needs_recheck(self) -> list[StoredDocument]:
        """Documents flagged for another review (see migration 3), oldest first."""
        if "needs_recheck" not in self._columns("documents"):
            return []
        return [d for d in reversed(self.documents()) if d.needs_recheck]

    def _columns(self, table: str) -> set[str]:
        with self._reading() as db:
            return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}

    # -- documents --------------------------------------------------------
    def add_documents(self, items: list[NewDocument | tuple[str, str, str, list[Entity]]], *, origin: str,
                      model_version: str = "") -> list[int]:
        """Store documents (or ``(title, text, source, entities)`` tuples) in one transaction.

        ``origin`` is "model" (suggestions to review) or "human" (annotations
        imported from a file, stored as accepted).
        """
        return self.store_batch(items, origin=origin, model_version=model_version, skip_duplicates=False).ids

    def store_batch(self, items: list[NewDocument | tuple[str, str, str, list[Entity]]], *, origin: str,
                    model_version: str = "", skip_duplicates: bool = True) -> StoredBatch:
        """Store an import batch in one transaction, skipping un-annotated texts already stored.

        With ``skip_duplicates``, a document of ``origin="model"`` (a text without
        annotations) whose text is already stored, or repeats an earlier one in
        the batch, is not stored again but counted. Annotated documents are
        always stored.
        """
        if origin not in ("model", "human"):
            raise ValueError(f"origin must be 'model' or 'human', got {origin!r}")
        docs = [item if isinstance(item, NewDocument) else NewDocument(*item) for item in items]
        ids, seen, duplicates = [], set(), 0
        status = "suggested" if origin == "model" else "accepted"
        with self._transaction(f"The {len(docs)} new document(s) were not saved") as db:
            for doc in docs:
                if skip_duplicates and origin == "model":
                    if _stored_twice(db, doc.text, seen):
                        duplicates += 1
                        continue
                ids.append(_insert_document(db, doc, origin=origin, status=status, model_version=model_version))
        return StoredBatch(ids, duplicates)

    @contextmanager
    def importing(self, not_done: str, *, model_version: str = "", skip_duplicates: bool = True,
                  cancelled: Callable[[], bool] | None = None) -> Iterator[ImportSession]:
        """An import stored chunk by chunk in one transaction and one undo step (see
        :mod:`engine.storage.import_session`); its outcome is ``session.result`` once the block ends. A failure
        raises ``"<not_done>: <why>"`` and stores nothing; so does a cancel (:class:`OperationCancelled`)."""
        with self._transaction(not_done) as db:
            session = ImportSession(self, db, model_version=model_version, skip_duplicates=skip_duplicates,
                                    cancelled=cancelled)
            yield session
            session.result = session.finish(_now())

    def documents(self, *, search: str = "", order: str = "created") -> list[StoredDocument]:
        """All documents, optionally filtered by a title/text substring.

        ``order``: "created" (newest first) or "least_confident" (lowest
        model confidence first; unreviewed before reviewed).
        """
        orders = {"created": "d.id DESC",
                  "least_confident": "d.reviewed, COALESCE(e.min_confidence, 1.0), d.id"}
        if order not in orders:
            raise ValueError(f"order must be one of {sorted(orders)}, got {order!r}")
        rows = self._query(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents d LEFT JOIN ({_ENTITY_SUMMARY.format(where='')}) e"
            " ON e.document_id = d.id"
            " WHERE d.deleted_at IS NULL AND (? = '' OR d.title LIKE '%' || ? || '%' OR d.text LIKE '%' || ? || '%')"
            f" ORDER BY {orders[order]}", (search, search, search))
        return [_document(r) for r in rows]

    def document(self, document_id: int) -> StoredDocument:
        row = self._one(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents d"
            f" LEFT JOIN ({_ENTITY_SUMMARY.format(where='WHERE document_id = ?')}) e ON e.document_id = d.id"
            " WHERE d.id = ? AND d.deleted_at IS NULL", (document_id, document_id))
        if row is None:
            raise MederError(f"document {document_id} does not exist (it was deleted)")
        return _document(row)

    def exists(self, document_id: int) -> bool:
        """Whether the document is in the list (not deleted)."""
        return self._one("SELECT 1 FROM documents WHERE id = ? AND deleted_at IS NULL", (document_id,)) is not None

    def entities(self, document_id: int) -> list[StoredEntity]:
        rows = self._query("SELECT * FROM entities WHERE document_id = ? ORDER BY start", (document_id,))
        return [StoredEntity(**{k: r[k] for k in r.keys()}) for r in rows]

    def entity(self, entity_id: int) -> StoredEntity:
        row = self._one("SELECT * FROM entities WHERE id = ?", (entity_id,))
        if row is None:
            raise EditRefused(f"entity {entity_id} no longer exists")
        return StoredEntity(**{k: row[k] for k in row.keys()})

    def counts(self) -> dict[str, int]:
        row = self._one("SELECT COUNT(*), COALESCE(SUM(reviewed), 0) FROM documents WHERE deleted_at IS NULL")
        entities = self._one("SELECT COUNT(*) FROM entities e JOIN documents d ON d.id = e.document_id"
                             " WHERE d.deleted_at IS NULL")[0]
        return {"documents": row[0], "reviewed": row[1], "entities": entities}

    def neighbour_unreviewed(self, document_id: int | None, *, backwards: bool = False) -> int | None:
        """The next (or previous) unreviewed document id in list order (newest first)."""
        if backwards:
            sql = "SELECT id FROM documents WHERE reviewed = 0 AND deleted_at IS NULL AND id > ? ORDER BY id LIMIT 1"
        else:
            sql = ("SELECT id FROM documents WHERE reviewed = 0 AND deleted_at IS NULL AND id < ?"
                   " ORDER BY id DESC LIMIT 1")
        start = document_id if document_id is not None else (-1 if backwards else 1 << 62)
        row = self._one(sql, (start,))
        return row[0] if row else None

    # -- edits ------------------------------------------------------------
    def _apply(self, document_id: int, description: str, remove: list[StoredEntity], add: list[dict],
               *, reviewed: bool | None = None) -> Change | None:
        """Replace entities ``remove`` by new rows ``add`` (and maybe the review flag), as one edit.

        An edit that would change nothing returns None and is not recorded (it would end the redo history).
        """
        with self._transaction(f"The edit “{description}” was not saved") as db:
            doc = db.execute("SELECT reviewed, reviewed_at FROM documents WHERE id = ? AND deleted_at IS NULL",
                             (document_id,)).fetchone()
            if doc is None:
                raise EditRefused(f"document {document_id} does not exist (it was deleted)")
            if not remove and not add and (reviewed is None or reviewed == bool(doc["reviewed"])):
                return None
            for e in remove:
                db.execute("DELETE FROM entities WHERE id = ?", (e.id,))
            after = []
            for row in add:
                row = {"assertion": PRESENT} | row
                after.append(_insert_entity(db, row))
            before_state = {"entities": [asdict(e) for e in remove], "reviewed": bool(doc["reviewed"]),
                            "reviewed_at": doc["reviewed_at"]}
            after_state = {"entities": after, "reviewed": bool(doc["reviewed"]), "reviewed_at": doc["reviewed_at"]}
            if reviewed is not None:
                after_state.update(reviewed=reviewed, reviewed_at=_now() if reviewed else None)
                db.execute("UPDATE documents SET reviewed = ?, reviewed_at = ? WHERE id = ?",
                           (int(reviewed), after_state["reviewed_at"], document_id))
                if reviewed:  # checked again: the flag of migration 3 has done its job
                    db.execute("UPDATE documents SET needs_recheck = NULL WHERE id = ?", (document_id,))
            self._record(db, document_id, description, before_state, after_state)
        return Change(document_id, description, tuple(row["id"] for row in after))

    def add_entity(self, document_id: int, start: int, end: int, label: str, *, replace: bool = False) -> Change:
        """Add a human entity over the words of ``[start, end)``; overlaps are refused unless ``replace``."""
        doc = self.document(document_id)
        span = snap(doc.text, start, end)
        clashes = [e for e in self.entities(document_id) if e.start < span[1] and span[0] < e.end]
        if clashes and not replace:
            names = ", ".join(f"“{doc.text[e.start:e.end]}” ({e.label})" for e in clashes)
            raise EditRefused(f"the selection overlaps {names}; delete or resize that entity first")
        row = self._judged(doc.text, human_row(document_id, span[0], span[1], label), keep=clashes)
        return self._apply(document_id, f"add {label}", clashes, [row])

    def _judged(self, text: str, row: dict, *, keep: Sequence[StoredEntity]) -> dict:
        """``row`` with the judge's assertion in the context of the document's other entities (not ``keep``,
        which the edit replaces): a trigger inside another finding belongs to that finding."""
        if self.judge is None:
            return row
        gone = {e.id for e in keep}
        others = [e.span() for e in self.entities(row["document_id"]) if e.id not in gone]
        mine = Entity(row["start"], row["end"], row["label"])
        ordered = sorted([*others, mine], key=lambda e: (e.start, e.end))
        return row | {"assertion": self.judge(text, ordered)[ordered.index(mine)]}

    def relabel(self, entity_id: int, label: str) -> Change:
        e = self.entity(entity_id)
        row = human_row(e.document_id, e.start, e.end, label) | {"assertion": e.assertion}
        row = self._judged(self.document(e.document_id).text, row, keep=[e])
        return self._apply(e.document_id, f"change to {label}", [e], [row])

    def cycle_assertion(self, entity_id: int, rules: Rules | None = None) -> Change:
        """Give the entity the next assertion (present → absent → possible → past → family → hypothetical →
        present) and accept it, as a relabel does, so re-tagging never overwrites the correction."""
        e = self.entity(entity_id)
        rules = rules or load_rules()
        if not rules.carries(e.label):
            raise EditRefused(f"{e.label} entities carry no assertion (the assertion rules name the types that do)")
        current = e.assertion if e.assertion in ASSERTIONS else PRESENT
        following = ASSERTIONS[(ASSERTIONS.index(current) + 1) % len(ASSERTIONS)]
        row = {k: v for k, v in asdict(e).items() if k != "id"} | {"status": "accepted", "assertion": following}
        return self._apply(e.document_id, f"mark {following}", [e], [row])

    def resize(self, entity_id: int, start: int, end: int) -> Change:
        e = self.entity(entity_id)
        doc = self.document(e.document_id)
        span = snap(doc.text, start, end)
        clashes = [x for x in self.entities(e.document_id) if x.id != e.id and x.start < span[1] and span[0] < x.end]
        if clashes:
            raise EditRefused("the new boundaries overlap another entity")
        row = human_row(e.document_id, span[0], span[1], e.label) | {"assertion": e.assertion}
        return self._apply(e.document_id, "resize", [e], [self._judged(doc.text, row, keep=[e])])

    def delete(self, entity_id: int) -> Change:
        e = self.entity(entity_id)
        return self._apply(e.document_id, "delete" if e.source == "human" else "reject", [e], [])

    reject = delete

    def accept(self, entity_id: int) -> Change:
        e = self.entity(entity_id)
        row = {k: v for k, v in asdict(e).items() if k != "id"} | {"status": "accepted"}
        return self._apply(e.document_id, "accept", [e], [row])

    def accept_all(self, document_id: int) -> Change | None:
        pending = [e for e in self.entities(document_id) if e.status == "suggested"]
        rows = [{k: v for k, v in asdict(e).items() if k != "id"} | {"status": "accepted"} for e in pending]
        return self._apply(document_id, "accept all", pending, rows)

    def mark_all_occurrences(self, entity_id: int) -> Change | None:
        """Give every other occurrence of this entity's words the same type (skipping overlaps)."""
        e = self.entity(entity_id)
        doc = self.document(e.document_id)
        needle = doc.text[e.start:e.end]
        spans = occurrences(doc.text, needle, [x.span() for x in self.entities(e.document_id)])
        rows = [human_row(e.document_id, start, end, e.label) for start, end in spans]
        return self._apply(e.document_id, f"mark {len(rows)} more “{needle}”", [], rows)

    def nudge(self, entity_id: int, which: str) -> Change:
        """Move one boundary of the entity by one word (see :func:`engine.storage.rules.nudge`)."""
        e = self.entity(entity_id)
        doc = self.document(e.document_id)
        start, end = nudge(doc.text, e.start, e.end, which)
        clashes = overlapping(self.entities(e.document_id), start, end, ignore=e)
        if any(x.id != e.id for x in clashes):
            names = ", ".join(f"“{doc.text[x.start:x.end]}” ({x.label})" for x in clashes if x.id != e.id)
            raise EditRefused(f"the entity would overlap {names}")
        row = human_row(e.document_id, start, end, e.label) | {"assertion": e.assertion}
        return self._apply(e.document_id, "move a boundary", [e], [self._judged(doc.text, row, keep=[e])])

    def set_reviewed(self, document_id: int, reviewed: bool = True) -> Change | None:
        """Marking reviewed accepts what the user sees: remaining suggestions become accepted."""
        pending = [e for e in self.entities(document_id) if e.status == "suggested"] if reviewed else []
        rows = [{k: v for k, v in asdict(e).items() if k != "id"} | {"status": "accepted"} for e in pending]
        return self._apply(document_id, "mark reviewed" if reviewed else "mark unreviewed", pending, rows,
                           reviewed=reviewed)

    # -- documents as a whole ----------------------------------------------
    def rename_document(self, document_id: int, title: str) -> Change | None:
        """Give the document another title (undoable)."""
        title = " ".join(str(title).split())
        if not title:
            raise EditRefused("a document needs a title")
        if len(title) > 500:
            raise EditRefused("a title holds at most 500 characters")
        doc = self.document(document_id)
        if title == doc.title:
            return None
        return self._document_edit(document_id, "rename document", {"title": doc.title}, {"title": title})

    def delete_document(self, document_id: int) -> Change:
        """Remove the document from the list, the exports and retraining; undo puts it back whole.

        Its text, entities, review state and edit history stay in the database (marked
        deleted) so that undo restores them exactly.
        """
        doc = self.document(document_id)
        change = self._document_edit(document_id, f"delete “{doc.title}”", {"deleted_at": None},
                                     {"deleted_at": _now()})
        return Change(document_id, change.description, removed=True)

    def _document_edit(self, document_id: int, description: str, before: dict, after: dict) -> Change:
        with self._transaction(f"The edit “{description}” was not saved") as db:
            doc = db.execute("SELECT reviewed, reviewed_at FROM documents WHERE id = ?", (document_id,)).fetchone()
            review = {"entities": [], "reviewed": bool(doc["reviewed"]), "reviewed_at": doc["reviewed_at"]}
            _write_document_fields(db, document_id, after)
            self._record(db, document_id, description, review | before, review | after)
        return Change(document_id, description)

    def _record(self, db: sqlite3.Connection, document_id: int, description: str, before: dict,
                after: dict) -> None:
        db.execute("DELETE FROM edits WHERE undone = 1")  # a new edit ends the redo history
        db.execute("INSERT INTO edits (document_id, description, before, after, created) VALUES (?, ?, ?, ?, ?)",
                   (document_id, description, json.dumps(before, ensure_ascii=False),
                    json.dumps(after, ensure_ascii=False), _now()))

    # -- settings -----------------------------------------------------------
    def setting(self, key: str, default: str | None = None) -> str | None:
        """A value the app remembers in this data folder (the last document, the font size)."""
        if self.read_only and "settings" not in self._tables():
            return default
        row = self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return row[0] if row else default

    def set_setting(self, key: str, value: str) -> None:
        # a remembered place or width never holds the window up behind another program's lock
        with self._transaction(f"The setting {key} was not saved", wait_s=0) as db:
            db.execute("INSERT INTO settings (key, value) VALUES (?, ?)"
                       " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, str(value)))

    def _tables(self) -> set[str]:
        return {r[0] for r in self._query("SELECT name FROM sqlite_master WHERE type = 'table'")}

    # -- undo -------------------------------------------------------------
    def undo_status(self) -> tuple[str | None, str | None]:
        """Descriptions of what Undo and Redo would do (None if nothing)."""
        u = self._one("SELECT description FROM edits WHERE undone = 0 ORDER BY id DESC LIMIT 1")
        r = self._one("SELECT description FROM edits WHERE undone = 1 ORDER BY id ASC LIMIT 1")
        return (u[0] if u else None, r[0] if r else None)

    def undo(self) -> Change | None:
        return self._step(undo=True)

    def redo(self) -> Change | None:
        return self._step(undo=False)

    def _step(self, *, undo: bool) -> Change | None:
        sql = ("SELECT * FROM edits WHERE undone = 0 ORDER BY id DESC LIMIT 1" if undo
               else "SELECT * FROM edits WHERE undone = 1 ORDER BY id ASC LIMIT 1")
        with self._transaction("Undo was not done" if undo else "Redo was not done") as db:
            edit = db.execute(sql).fetchone()
            if edit is None:
                return None
            before, after = json.loads(edit["before"]), json.loads(edit["after"])
            old, new = (after, before) if undo else (before, after)
            # a batch (a re-tag) holds one state per document; any other edit is one document's state
            olds = old.get("batch", [old | {"document_id": edit["document_id"]}])
            news = new.get("batch", [new | {"document_id": edit["document_id"]}])
            for state in olds:
                for row in state["entities"]:
                    db.execute("DELETE FROM entities WHERE id = ?", (row["id"],))
            added = []
            for state in news:
                for row in state["entities"]:
                    row = {"assertion": PRESENT} | row  # history recorded before schema 6 has none
                    added.append(_insert_entity(db, row)["id"])
                _restore_review(db, state)
                _write_document_fields(db, state["document_id"], state)
            # an import records its new documents as ranges of ids: hidden when undone, shown again when redone
            imported = new.get("imported", {"ranges": [], "deleted_at": None})
            db.executemany("UPDATE documents SET deleted_at = ? WHERE id BETWEEN ? AND ?",
                           [(imported["deleted_at"], first, last) for first, last in imported["ranges"]])
            db.execute("UPDATE edits SET undone = ? WHERE id = ?", (int(undo), edit["id"]))
            gone = db.execute("SELECT deleted_at IS NOT NULL FROM documents WHERE id = ?",
                              (edit["document_id"],)).fetchone()
        # an import undone hides the documents it added: the list must drop them
        hidden = any(state.get("deleted_at") for state in news) or bool(imported["ranges"] and imported["deleted_at"])
        documents = IdRanges.of(state["document_id"] for state in news) + IdRanges(imported["ranges"])
        return Change(edit["document_id"], ("undo " if undo else "redo ") + edit["description"], tuple(added),
                      documents=documents if "batch" in new else (), removed=bool(gone and gone[0]) or hidden)

    def retag(self, document_id: int, entities: list[Entity], model_version: str) -> Change | None:
        """Replace an unreviewed document's model suggestions by a new model's (see :meth:`retag_documents`)."""
        if self.document(document_id).reviewed:
            raise EditRefused("reviewed documents are never re-tagged")
        return self.retag_documents({document_id: entities}, model_version)

    def retag_documents(self, results: dict[int, list[Entity]], model_version: str) -> Change | None:
        """Replace the model suggestions of unreviewed documents by a new model's: one transaction, one undo step.

        Human and accepted entities stay; new suggestions overlapping them are
        dropped. Documents reviewed or deleted meanwhile are left alone.
        """
        before, after, touched = [], [], []
        description = f"re-tag {len(results)} document(s) with model {model_version}"
        with self._transaction(f"The re-tagging ({len(results)} documents) was not saved") as db:
            for document_id, entities in results.items():
                doc = db.execute("SELECT text, reviewed, model_version FROM documents"
                                 " WHERE id = ? AND deleted_at IS NULL", (document_id,)).fetchone()
                if doc is None or doc["reviewed"]:
                    continue
                try:
                    check_spans(doc["text"], entities)
                except EditRefused as exc:
                    raise EditRefused(f"the model's entities for document {document_id} are invalid: {exc}") from None
                current = [StoredEntity(**{k: r[k] for k in r.keys()}) for r in db.execute(
                    "SELECT * FROM entities WHERE document_id = ? ORDER BY start", (document_id,))]
                old = [e for e in current if e.status == "suggested"]
                kept = [e for e in current if e.status != "suggested"]
                rows = []
                for e in entities:
                    if overlapping(kept, e.start, e.end):
                        continue
                    row = {"document_id": document_id, "start": e.start, "end": e.end, "label": e.label,
                           "source": "model", "status": "suggested", "confidence": e.confidence,
                           "model_version": model_version, "assertion": e.assertion}
                    rows.append(_insert_entity(db, row))
                db.executemany("DELETE FROM entities WHERE id = ?", [(e.id,) for e in old])
                db.execute("UPDATE documents SET model_version = ? WHERE id = ?", (model_version, document_id))
                review = {"document_id": document_id, "reviewed": False, "reviewed_at": None}
                before.append(review | {"entities": [asdict(e) for e in old], "model_version": doc["model_version"]})
                after.append(review | {"entities": rows, "model_version": model_version})
                touched.append(document_id)
            if not touched:
                return None
            self._record(db, touched[0], description, {"batch": before}, {"batch": after})
        return Change(touched[0], description, tuple(r["id"] for state in after for r in state["entities"]),
                      documents=tuple(touched))

    def documents_with_texts(self, texts: Iterable[str], *, up_to: int | None = None) -> dict[str, list[int]]:
        """The stored documents (not deleted) holding each of ``texts``, newest first; a text stored nowhere is
        absent. One query per few hundred texts, through the index on the text's length. ``up_to``: only
        documents with ids up to it (those stored before an import began)."""
        wanted = list(dict.fromkeys(texts))
        found: dict[str, list[int]] = {}
        for i in range(0, len(wanted), _TEXTS_PER_QUERY):
            chunk = wanted[i:i + _TEXTS_PER_QUERY]
            lengths = sorted({len(t) for t in chunk})
            rows = self._query(
                f"SELECT id, text FROM documents WHERE deleted_at IS NULL AND id <= ? AND length(text) IN"
                f" ({', '.join('?' * len(lengths))}) AND text IN ({', '.join('?' * len(chunk))}) ORDER BY id DESC",
                (up_to if up_to is not None else 1 << 62, *lengths, *chunk))
            for row in rows:
                found.setdefault(row["text"], []).append(row["id"])
        return found

    def update_from_import(self, updates: Mapping[int, NewDocument]) -> Change | None:
        """Give stored documents the entities, review state and metadata of an imported file: one transaction,
        one undo step.

        ``updates`` maps a stored document's id to the imported document with the same text (see
        :meth:`documents_with_texts`). Its entities replace the stored ones as a person's (accepted); the document
        is reviewed or not as the file says; the file's metadata keys win over the stored ones, the others stay;
        title and source stay. A document already as the file has it is left alone (None if all are). A
        document deleted, or whose text is not the imported one, refuses the whole update.
        """
        before, after, touched, added = [], [], [], []
        with self._transaction(f"The update of {len(updates)} document(s) from the imported file was not saved") as db:
            for document_id, doc in updates.items():
                states = self._updated_from_file(db, document_id, doc)
                if states is None:
                    continue  # re-importing the same file twice records nothing
                before.append(states[0])
                after.append(states[1])
                touched.append(document_id)
                added += [r["id"] for r in states[1]["entities"]]
            if not touched:
                return None
            description = f"update {len(touched)} document(s) from an imported file"
            self._record(db, touched[0], description, {"batch": before}, {"batch": after})
        return Change(touched[0], description, tuple(added), documents=tuple(touched))

    def _updated_from_file(self, db: sqlite3.Connection, document_id: int,
                           doc: NewDocument) -> tuple[dict, dict] | None:
        """Give one stored document the imported one's entities, review state and metadata (in ``db``'s
        transaction); returns its states before and after, or None when it already is as the file has it."""
        row = db.execute("SELECT text, reviewed, reviewed_at, metadata, needs_recheck FROM documents"
                         " WHERE id = ? AND deleted_at IS NULL", (document_id,)).fetchone()
        if row is None:
            raise EditRefused(f"document {document_id} does not exist (it was deleted)")
        if row["text"] != doc.text:
            raise EditRefused(f"document {document_id} holds another text than the imported one")
        try:
            check_spans(doc.text, doc.entities)
        except EditRefused as exc:
            raise EditRefused(f"the imported entities for document {document_id} are invalid: {exc}") from None
        rows = [human_row(document_id, e.start, e.end, e.label) | {"assertion": e.assertion}
                for e in sorted(doc.entities, key=lambda e: (e.start, e.end))]
        current = [StoredEntity(**{k: r[k] for k in r.keys()}) for r in db.execute(
            "SELECT * FROM entities WHERE document_id = ? ORDER BY start, end", (document_id,))]
        try:
            stored_metadata = json.loads(row["metadata"])
        except ValueError:
            stored_metadata = None
        merged = (stored_metadata if isinstance(stored_metadata, dict) else {}) | doc.metadata
        metadata = json.dumps(merged, ensure_ascii=False)
        same = ([(e.start, e.end, e.label, e.source, e.status, e.assertion) for e in current]
                == [(r["start"], r["end"], r["label"], "human", "accepted", r["assertion"]) for r in rows])
        if same and bool(row["reviewed"]) == doc.reviewed and merged == stored_metadata:
            return None
        db.executemany("DELETE FROM entities WHERE id = ?", [(e.id,) for e in current])
        new_rows = [_insert_entity(db, r) for r in rows]
        old_state = {"document_id": document_id, "entities": [asdict(e) for e in current],
                     "reviewed": bool(row["reviewed"]), "reviewed_at": row["reviewed_at"],
                     "metadata": row["metadata"], "needs_recheck": row["needs_recheck"]}
        # the file's review is a new one; reviewed now, the re-check flag of migration 3 has done its job
        new_state = {"document_id": document_id, "entities": new_rows, "reviewed": doc.reviewed,
                     "reviewed_at": _now() if doc.reviewed else None, "metadata": metadata,
                     "needs_recheck": None if doc.reviewed else row["needs_recheck"]}
        _restore_review(db, new_state)
        _write_document_fields(db, document_id, new_state)
        return old_state, new_state

    # -- training data ------------------------------------------------------
    def reviewed_documents(self) -> list[tuple[StoredDocument, list[StoredEntity]]]:
        return [(d, self.entities(d.id)) for d in self.documents() if d.reviewed]

    def reviewed_since(self, timestamp: str) -> int:
        """How many documents were marked reviewed after ``timestamp`` (ISO 8601, UTC)."""
        return self._db.execute("SELECT COUNT(*) FROM documents WHERE reviewed = 1 AND reviewed_at > ?"
                                " AND deleted_at IS NULL",
                                (timestamp,)).fetchone()[0]


_ENTITY_COLUMNS = ("document_id", "start", "end", "label", "source", "status", "confidence", "model_version",
                   "assertion")


# "+text": a plain "text = ?" lets SQLite turn "length(text) = ?" into "length(?) = ?" (constant propagation),
# which no index serves: every lookup read the whole table, and an import of n texts took n²/2 row reads
_STORED_TEXT = "SELECT 1 FROM documents WHERE length(text) = ? AND +text = ? AND deleted_at IS NULL"


def _stored_twice(db: sqlite3.Connection, text: str, seen: set[str]) -> bool:
    """Whether ``text`` is stored already (not deleted), or came earlier in this batch (then noted in ``seen``)."""
    if text in seen or db.execute(_STORED_TEXT, (len(text), text)).fetchone():
        return True
    seen.add(text)
    return False


def _insert_document(db: sqlite3.Connection, doc: NewDocument, *, origin: str, status: str, model_version: str) -> int:
    """Insert a document and its entities (a model's suggestions or a person's, by ``origin``); returns its id."""
    cur = db.execute(
        "INSERT INTO documents (title, text, source, created, model_version, metadata, reviewed, reviewed_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (doc.title, doc.text, doc.source, _now(), model_version,
         json.dumps(doc.metadata, ensure_ascii=False), int(doc.reviewed), _now() if doc.reviewed else None))
    doc_id = cur.lastrowid
    check_spans(doc.text, doc.entities)
    db.executemany(
        "INSERT INTO entities (document_id, start, end, label, source, status, confidence, model_version,"
        " assertion) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(doc_id, e.start, e.end, e.label, origin, status,
          e.confidence if origin == "model" else None, model_version if origin == "model" else "",
          e.assertion) for e in doc.entities])
    return doc_id


def _insert_entity(db: sqlite3.Connection, row: Mapping) -> dict:
    """Insert one entity row, under its recorded ``id`` when it has one (undo, redo); returns it with its id."""
    columns = ("id", *_ENTITY_COLUMNS) if row.get("id") is not None else _ENTITY_COLUMNS
    cur = db.execute(f"INSERT INTO entities ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})",
                     row)
    return dict(row) | {"id": cur.lastrowid}


_TEXTS_PER_QUERY = 400  # two parameters each (length, text): under SQLite's oldest limit of 999

_DOCUMENT_COLUMNS = ("d.*, COALESCE(e.entity_count, 0) AS entity_count, e.min_confidence AS min_confidence,"
                     " e.labels AS labels")
# per document, what the list shows of its entities. Summed apart and joined after: grouping the join of a document
# with its entities would copy the whole text once per entity (a 1,000,000-character note with 125,000 entities:
# 125 GB of copying, for every list refresh and every export)
_ENTITY_SUMMARY = ("SELECT document_id, COUNT(*) AS entity_count, MIN(confidence) AS min_confidence,"
                   " GROUP_CONCAT(DISTINCT label) AS labels FROM entities {where} GROUP BY document_id")


def _document(row: sqlite3.Row) -> StoredDocument:
    keys = row.keys()
    try:
        metadata = json.loads(row["metadata"]) if "metadata" in keys else {}
    except ValueError:
        metadata = {}
    return StoredDocument(row["id"], row["title"], row["text"], row["source"], row["created"], bool(row["reviewed"]),
                          row["model_version"], row["entity_count"], row["min_confidence"],
                          row["needs_recheck"] if "needs_recheck" in keys else None,
                          metadata if isinstance(metadata, dict) else {},
                          tuple(sorted(row["labels"].split(","))) if row["labels"] else (), row["reviewed_at"])


def _restore_review(db: sqlite3.Connection, state: dict) -> None:
    if "reviewed_at" in state:
        db.execute("UPDATE documents SET reviewed = ?, reviewed_at = ? WHERE id = ?",
                   (int(state["reviewed"]), state["reviewed_at"], state["document_id"]))
    else:  # history written before review times were recorded
        db.execute("UPDATE documents SET reviewed = ?, reviewed_at = CASE WHEN ? THEN COALESCE(reviewed_at, ?)"
                   " END WHERE id = ?", (int(state["reviewed"]), int(state["reviewed"]), _now(),
                                         state["document_id"]))


def _write_document_fields(db: sqlite3.Connection, document_id: int, state: dict) -> None:
    """The document fields an edit state may hold besides entities and review (title, deletion, model, the
    metadata as its stored JSON text, the re-check flag)."""
    for column in ("title", "deleted_at", "model_version", "metadata", "needs_recheck"):
        if column in state:
            db.execute(f"UPDATE documents SET {column} = ? WHERE id = ?", (state[column], document_id))
