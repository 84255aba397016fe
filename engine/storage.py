"""The clinic's documents, entities and edit history in one SQLite file.

Only this module touches SQL. Every edit is one transaction that also
records what it changed (the entity rows before and after), so undo/redo
are plain data operations that work in tests without Qt and survive a
restart. WAL mode and a commit per edit mean that nothing shown as done is
lost when the app is closed or killed.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from engine.atomic import PRIVATE_FILE, PRIVATE_FOLDER, atomic_path
from engine.errors import MederError, StorageError
from engine.spans import Entity
from engine.text import split_words

SCHEMA_VERSION = 3
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        created TEXT NOT NULL,
        reviewed INTEGER NOT NULL DEFAULT 0,
        reviewed_at TEXT,
        model_version TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE entities (
        id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        label TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('model', 'human')),
        status TEXT NOT NULL CHECK (status IN ('suggested', 'accepted')),
        confidence REAL,
        model_version TEXT NOT NULL DEFAULT '',
        CHECK (0 <= start AND start < end)
    );
    CREATE INDEX entities_by_document ON entities(document_id, start);
    CREATE TABLE edits (
        id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL,
        description TEXT NOT NULL,
        before TEXT NOT NULL,
        after TEXT NOT NULL,
        created TEXT NOT NULL,
        undone INTEGER NOT NULL DEFAULT 0
    );
    """,
    # Entity ids are never reused (AUTOINCREMENT): undo re-inserts rows under the ids that the edit
    # history recorded, which a newer entity must not have taken. The sequence starts above every id
    # the history mentions.
    2: """
    CREATE TABLE entities_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        label TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('model', 'human')),
        status TEXT NOT NULL CHECK (status IN ('suggested', 'accepted')),
        confidence REAL,
        model_version TEXT NOT NULL DEFAULT '',
        CHECK (0 <= start AND start < end)
    );
    INSERT INTO entities_v2 (id, document_id, start, end, label, source, status, confidence, model_version)
        SELECT id, document_id, start, end, label, source, status, confidence, model_version FROM entities;
    DROP TABLE entities;
    ALTER TABLE entities_v2 RENAME TO entities;
    CREATE INDEX entities_by_document ON entities(document_id, start);
    INSERT INTO sqlite_sequence (name, seq) SELECT 'entities', MAX(COALESCE(MAX(id), 0), COALESCE((
        SELECT MAX(CAST(json_extract(item.value, '$.id') AS INTEGER))
        FROM edits, json_each(edits.before, '$.entities') AS item), 0), COALESCE((
        SELECT MAX(CAST(json_extract(item.value, '$.id') AS INTEGER))
        FROM edits, json_each(edits.after, '$.entities') AS item), 0)) FROM entities;
    """,
    # Before 2026-11 the text view put highlights and screen selections on the wrong words in documents
    # with CRLF line ends (one character further per line). Any edit made on such a document (added,
    # resized, relabelled or rejected entities, a review) may be misplaced: those documents go back to
    # unreviewed, so they are not trained on, and say why. Untouched imported annotations are correct.
    3: """
    ALTER TABLE documents ADD COLUMN needs_recheck TEXT;
    UPDATE documents SET reviewed = 0, reviewed_at = NULL, needs_recheck = 'line ends'
        WHERE instr(text, char(13)) > 0 AND EXISTS (SELECT 1 FROM edits WHERE edits.document_id = documents.id);
    """,
}


class EditRefused(MederError):
    """An edit that would break the document's entities (overlap, outside the text...)."""


class DamagedDatabase(StorageError):
    """The database file fails SQLite's check; it was opened for nothing and left unchanged."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"{path}: cannot open the database: {detail}. Nothing was changed in the file. "
                         "You can salvage what is still readable into a JSONL file, or restore a backup.")
        self.path = path


class EmptyDatabase(StorageError):
    """The database file has zero bytes: a crash leftover, never silently treated as a new database."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} is empty (0 bytes), probably left by a crash or a full disk. It was not "
                         "opened as a new database. Start with a new database (the empty file is kept aside) "
                         "or restore a backup.")
        self.path = path


SQLITE_MAGIC = b"SQLite format 3\x00"


def _reason(exc: sqlite3.Error) -> str:
    """Why SQLite failed, in the user's words, with what to do about it."""
    code = getattr(exc, "sqlite_errorcode", None)
    base = code & 0xFF if isinstance(code, int) else None
    text = str(exc).lower()
    if base == sqlite3.SQLITE_FULL or "disk is full" in text:
        return "the disk is full. Free some space and try again."
    if base == sqlite3.SQLITE_READONLY or "readonly" in text or "read-only" in text:
        return ("the database is read-only (a write-protected file, folder or drive). "
                "Make it writable and try again.")
    if base in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in text:
        return ("the database is busy in another program (a second Bangla MedER window or a retraining?). "
                "Close it and try again.")
    if base in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in text:
        return "the database file is damaged. Restart the app to check it and salvage or restore it."
    if base == sqlite3.SQLITE_IOERR or "disk i/o" in text:
        return "the disk reported a read/write error. Check the drive and try again."
    return f"the database reported an error ({exc})."


def check_database_file(path: str | Path) -> int:
    """The schema version of a healthy database file, read without changing a byte of it.

    The header is read first (a newer schema is refused before SQLite opens the
    file); then ``PRAGMA quick_check`` runs on a read-only connection. Raises
    :class:`DamagedDatabase`, :class:`EmptyDatabase` or :class:`StorageError`.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise StorageError(f"{path}: the database cannot be read ({exc.strerror or exc})") from None
    if not header:
        raise EmptyDatabase(path)
    if not header.startswith(SQLITE_MAGIC) or len(header) < 100:
        raise DamagedDatabase(path, "this is not a Bangla MedER database")
    version = int.from_bytes(header[60:64], "big")  # PRAGMA user_version lives here
    if version > SCHEMA_VERSION:
        raise StorageError(f"{path}: made by a newer Bangla MedER (schema {version}); please update the app. "
                           "The file was not changed.")
    try:
        con = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
        try:
            result = "\n".join(r[0] for r in con.execute("PRAGMA quick_check(5)"))
            version = con.execute("PRAGMA user_version").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise DamagedDatabase(path, f"the file is damaged ({exc})") from None
    if result != "ok":
        raise DamagedDatabase(path, f"the file is damaged ({result.splitlines()[0]})")
    return version


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

    def span(self) -> Entity:
        return Entity(self.start, self.end, self.label, self.confidence)


@dataclass(frozen=True)
class Change:
    """What an operation changed, so screens know what to refresh."""

    document_id: int
    description: str
    added: tuple[int, ...] = ()  # ids of the entity rows the change created (a relabel makes a new row)


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
        self.notices: list[str] = []
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
    def _transaction(self, not_done: str) -> Iterator[sqlite3.Connection]:
        """One write transaction; a failure rolls it all back and raises ``"<not_done>: <why>"``."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
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
    def add_documents(self, items: list[tuple[str, str, str, list[Entity]]], *, origin: str,
                      model_version: str = "") -> list[int]:
        """Store ``(title, text, source, entities)`` tuples in one transaction.

        ``origin`` is "model" (suggestions to review) or "human" (annotations
        imported from a file, stored as accepted).
        """
        if origin not in ("model", "human"):
            raise ValueError(f"origin must be 'model' or 'human', got {origin!r}")
        ids = []
        status = "suggested" if origin == "model" else "accepted"
        with self._transaction(f"The {len(items)} new document(s) were not saved") as db:
            for title, text, source, entities in items:
                cur = db.execute(
                    "INSERT INTO documents (title, text, source, created, model_version) VALUES (?, ?, ?, ?, ?)",
                    (title, text, source, _now(), model_version))
                doc_id = cur.lastrowid
                _check_spans(text, entities)
                db.executemany(
                    "INSERT INTO entities (document_id, start, end, label, source, status, confidence, model_version)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(doc_id, e.start, e.end, e.label, origin, status,
                      e.confidence if origin == "model" else None, model_version if origin == "model" else "")
                     for e in entities])
                ids.append(doc_id)
        return ids

    def documents(self, *, search: str = "", order: str = "created") -> list[StoredDocument]:
        """All documents, optionally filtered by a title/text substring.

        ``order``: "created" (newest first) or "least_confident" (lowest
        model confidence first; unreviewed before reviewed).
        """
        orders = {"created": "d.id DESC",
                  "least_confident": "d.reviewed, COALESCE(MIN(e.confidence), 1.0), d.id"}
        if order not in orders:
            raise ValueError(f"order must be one of {sorted(orders)}, got {order!r}")
        rows = self._query(
            "SELECT d.*, COUNT(e.id) AS entity_count, MIN(e.confidence) AS min_confidence"
            " FROM documents d LEFT JOIN entities e ON e.document_id = d.id"
            " WHERE (? = '' OR d.title LIKE '%' || ? || '%' OR d.text LIKE '%' || ? || '%')"
            f" GROUP BY d.id ORDER BY {orders[order]}", (search, search, search))
        return [_document(r) for r in rows]

    def document(self, document_id: int) -> StoredDocument:
        row = self._one(
            "SELECT d.*, COUNT(e.id) AS entity_count, MIN(e.confidence) AS min_confidence"
            " FROM documents d LEFT JOIN entities e ON e.document_id = d.id WHERE d.id = ? GROUP BY d.id",
            (document_id,))
        if row is None:
            raise MederError(f"document {document_id} does not exist")
        return _document(row)

    def entities(self, document_id: int) -> list[StoredEntity]:
        rows = self._query("SELECT * FROM entities WHERE document_id = ? ORDER BY start", (document_id,))
        return [StoredEntity(**{k: r[k] for k in r.keys()}) for r in rows]

    def entity(self, entity_id: int) -> StoredEntity:
        row = self._one("SELECT * FROM entities WHERE id = ?", (entity_id,))
        if row is None:
            raise EditRefused(f"entity {entity_id} no longer exists")
        return StoredEntity(**{k: row[k] for k in row.keys()})

    def counts(self) -> dict[str, int]:
        row = self._one("SELECT COUNT(*), COALESCE(SUM(reviewed), 0) FROM documents")
        entities = self._one("SELECT COUNT(*) FROM entities")[0]
        return {"documents": row[0], "reviewed": row[1], "entities": entities}

    def neighbour_unreviewed(self, document_id: int | None, *, backwards: bool = False) -> int | None:
        """The next (or previous) unreviewed document id in list order (newest first)."""
        if backwards:
            sql = "SELECT id FROM documents WHERE reviewed = 0 AND id > ? ORDER BY id ASC LIMIT 1"
        else:
            sql = "SELECT id FROM documents WHERE reviewed = 0 AND id < ? ORDER BY id DESC LIMIT 1"
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
            doc = db.execute("SELECT reviewed, reviewed_at FROM documents WHERE id = ?", (document_id,)).fetchone()
            if doc is None:
                raise EditRefused(f"document {document_id} does not exist")
            if not remove and not add and (reviewed is None or reviewed == bool(doc["reviewed"])):
                return None
            for e in remove:
                db.execute("DELETE FROM entities WHERE id = ?", (e.id,))
            after = []
            for row in add:
                cur = db.execute(
                    "INSERT INTO entities (document_id, start, end, label, source, status, confidence, model_version)"
                    " VALUES (:document_id, :start, :end, :label, :source, :status, :confidence, :model_version)",
                    row)
                after.append(dict(row, id=cur.lastrowid))
            before_state = {"entities": [asdict(e) for e in remove], "reviewed": bool(doc["reviewed"]),
                            "reviewed_at": doc["reviewed_at"]}
            after_state = {"entities": after, "reviewed": bool(doc["reviewed"]), "reviewed_at": doc["reviewed_at"]}
            if reviewed is not None:
                after_state.update(reviewed=reviewed, reviewed_at=_now() if reviewed else None)
                db.execute("UPDATE documents SET reviewed = ?, reviewed_at = ? WHERE id = ?",
                           (int(reviewed), after_state["reviewed_at"], document_id))
                if reviewed:  # checked again: the flag of migration 3 has done its job
                    db.execute("UPDATE documents SET needs_recheck = NULL WHERE id = ?", (document_id,))
            db.execute("DELETE FROM edits WHERE undone = 1")  # a new edit ends the redo history
            db.execute("INSERT INTO edits (document_id, description, before, after, created) VALUES (?, ?, ?, ?, ?)",
                       (document_id, description, json.dumps(before_state, ensure_ascii=False),
                        json.dumps(after_state, ensure_ascii=False), _now()))
        return Change(document_id, description, tuple(row["id"] for row in after))

    def add_entity(self, document_id: int, start: int, end: int, label: str, *, replace: bool = False) -> Change:
        """Add a human entity over the words of ``[start, end)``; overlaps are refused unless ``replace``."""
        doc = self.document(document_id)
        span = _snap(doc.text, start, end)
        clashes = [e for e in self.entities(document_id) if e.start < span[1] and span[0] < e.end]
        if clashes and not replace:
            names = ", ".join(f"“{doc.text[e.start:e.end]}” ({e.label})" for e in clashes)
            raise EditRefused(f"the selection overlaps {names}; delete or resize that entity first")
        row = _human(document_id, span[0], span[1], label)
        return self._apply(document_id, f"add {label}", clashes, [row])

    def relabel(self, entity_id: int, label: str) -> Change:
        e = self.entity(entity_id)
        row = _human(e.document_id, e.start, e.end, label)
        return self._apply(e.document_id, f"change to {label}", [e], [row])

    def resize(self, entity_id: int, start: int, end: int) -> Change:
        e = self.entity(entity_id)
        doc = self.document(e.document_id)
        span = _snap(doc.text, start, end)
        clashes = [x for x in self.entities(e.document_id) if x.id != e.id and x.start < span[1] and span[0] < x.end]
        if clashes:
            raise EditRefused("the new boundaries overlap another entity")
        row = dict(_human(e.document_id, span[0], span[1], e.label))
        return self._apply(e.document_id, "resize", [e], [row])

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
        taken = self.entities(e.document_id)
        starts = {w.start for w in split_words(doc.text)}
        ends = {w.end for w in split_words(doc.text)}
        rows, pos = [], doc.text.find(needle)
        while pos >= 0:
            end = pos + len(needle)
            if pos in starts and end in ends and not any(x.start < end and pos < x.end for x in taken):
                rows.append(_human(e.document_id, pos, end, e.label))
                taken.append(Entity(pos, end, e.label))  # later occurrences must not overlap this one
            pos = doc.text.find(needle, pos + 1)
        return self._apply(e.document_id, f"mark {len(rows)} more “{needle}”", [], rows)

    def set_reviewed(self, document_id: int, reviewed: bool = True) -> Change | None:
        """Marking reviewed accepts what the user sees: remaining suggestions become accepted."""
        pending = [e for e in self.entities(document_id) if e.status == "suggested"] if reviewed else []
        rows = [{k: v for k, v in asdict(e).items() if k != "id"} | {"status": "accepted"} for e in pending]
        return self._apply(document_id, "mark reviewed" if reviewed else "mark unreviewed", pending, rows,
                           reviewed=reviewed)

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
            for row in old["entities"]:
                db.execute("DELETE FROM entities WHERE id = ?", (row["id"],))
            for row in new["entities"]:
                db.execute(
                    "INSERT INTO entities (id, document_id, start, end, label, source, status, confidence, model_version)"
                    " VALUES (:id, :document_id, :start, :end, :label, :source, :status, :confidence, :model_version)",
                    row)
            if "reviewed_at" in new:
                db.execute("UPDATE documents SET reviewed = ?, reviewed_at = ? WHERE id = ?",
                           (int(new["reviewed"]), new["reviewed_at"], edit["document_id"]))
            else:  # history written before review times were recorded
                db.execute("UPDATE documents SET reviewed = ?, reviewed_at = CASE WHEN ? THEN COALESCE(reviewed_at, ?)"
                           " END WHERE id = ?", (int(new["reviewed"]), int(new["reviewed"]), _now(),
                                                 edit["document_id"]))
            db.execute("UPDATE edits SET undone = ? WHERE id = ?", (int(undo), edit["id"]))
        return Change(edit["document_id"], ("undo " if undo else "redo ") + edit["description"],
                      tuple(row["id"] for row in new["entities"]))

    def retag(self, document_id: int, entities: list[Entity], model_version: str) -> Change | None:
        """Replace an unreviewed document's model suggestions by a new model's.

        Human and accepted entities stay; new suggestions overlapping them are dropped.
        """
        doc = self.document(document_id)
        if doc.reviewed:
            raise EditRefused("reviewed documents are never re-tagged")
        try:
            _check_spans(doc.text, entities)
        except EditRefused as exc:
            raise EditRefused(f"the model's entities for document {document_id} are invalid: {exc}") from None
        current = self.entities(document_id)
        old = [e for e in current if e.status == "suggested"]
        kept = [e for e in current if e.status != "suggested"]
        rows = [{"document_id": document_id, "start": e.start, "end": e.end, "label": e.label, "source": "model",
                 "status": "suggested", "confidence": e.confidence, "model_version": model_version}
                for e in entities if not any(k.start < e.end and e.start < k.end for k in kept)]
        change = self._apply(document_id, f"re-tag with model {model_version}", old, rows)
        with self._transaction(f"The re-tagging of document {document_id} was not saved") as db:
            db.execute("UPDATE documents SET model_version = ? WHERE id = ?", (model_version, document_id))
        return change

    # -- training data ------------------------------------------------------
    def reviewed_documents(self) -> list[tuple[StoredDocument, list[StoredEntity]]]:
        return [(d, self.entities(d.id)) for d in self.documents() if d.reviewed]

    def reviewed_since(self, timestamp: str) -> int:
        """How many documents were marked reviewed after ``timestamp`` (ISO 8601, UTC)."""
        return self._db.execute("SELECT COUNT(*) FROM documents WHERE reviewed = 1 AND reviewed_at > ?",
                                (timestamp,)).fetchone()[0]


def _document(row: sqlite3.Row) -> StoredDocument:
    return StoredDocument(row["id"], row["title"], row["text"], row["source"], row["created"], bool(row["reviewed"]),
                          row["model_version"], row["entity_count"], row["min_confidence"],
                          row["needs_recheck"] if "needs_recheck" in row.keys() else None)


def _create_private(path: Path) -> None:
    """Create the folder (0700) and an empty database file (0600) whatever the umask: notes are private."""
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except OSError as exc:
        raise StorageError(f"{path}: the database cannot be created ({exc.strerror or exc})") from None
    _make_private(path)


def _make_private(path: Path) -> None:
    if os.name == "posix" and path.exists():
        try:
            os.chmod(path, PRIVATE_FILE)
        except OSError:
            pass  # not ours to change (a shared drive): reading and writing still work


def _human(document_id: int, start: int, end: int, label: str) -> dict:
    if not isinstance(label, str) or not label.strip():
        raise EditRefused("an entity needs a type")
    if label == "O" or label.startswith(("B-", "I-")):
        raise EditRefused(f"{label!r} is a tag, not an entity type")
    return {"document_id": document_id, "start": start, "end": end, "label": label, "source": "human",
            "status": "accepted", "confidence": None, "model_version": ""}


def _snap(text: str, start: int, end: int) -> tuple[int, int]:
    from engine.spans import snap_to_words

    if not 0 <= start < end <= len(text):
        raise EditRefused(f"[{start}, {end}) is not a selection inside the document")
    span = snap_to_words(text, start, end)
    if span is None:
        raise EditRefused("the selection contains no word")
    return span


def _check_spans(text: str, entities: list[Entity]) -> None:
    ordered = sorted(entities, key=lambda e: e.start)
    for e in ordered:
        if e.end > len(text):
            raise EditRefused(f"entity [{e.start}, {e.end}) is outside the text")
    for a, b in zip(ordered, ordered[1:]):
        if a.overlaps(b):
            raise EditRefused(f"entities [{a.start}, {a.end}) and [{b.start}, {b.end}) overlap")


@dataclass(frozen=True)
class SalvageReport:
    path: Path
    documents: int
    entities: int
    unreadable_documents: int  # ids whose row could not be read
    unreadable_entities: int


def salvage(db_path: str | Path, out_path: str | Path) -> SalvageReport:
    """Copy whatever rows of a damaged database can still be read into a doccano JSONL file.

    The database is opened read-only and never changed. Rows are read one by one
    by id, so a damaged page loses only the rows on it. Each line holds
    ``text`` and ``label`` (``[start, end, type]``: the importer reads the file
    back) plus the title, review state and each entity's status.
    """
    db_path, out_path = Path(db_path), Path(out_path)
    try:
        con = sqlite3.connect(f"file:{quote(str(db_path.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StorageError(f"{db_path}: nothing could be salvaged: {_reason(exc)}") from None
    con.row_factory = sqlite3.Row
    con.text_factory = lambda b: b.decode("utf-8", "replace")  # a damaged text keeps its readable part
    try:
        by_document: dict[int, list[sqlite3.Row]] = defaultdict(list)
        entity_ids, bad_entities = _readable_rows(con, "entities")
        for row in entity_ids:
            by_document[row["document_id"]].append(row)
        documents, bad_documents = _readable_rows(con, "documents")
    finally:
        con.close()
    if not documents and bad_documents:
        raise StorageError(f"{db_path}: no document could be read; nothing was salvaged")
    lines = []
    entities = 0
    for doc in documents:
        rows = sorted(by_document.get(doc["id"], []), key=lambda r: r["start"])
        rows = [r for r in rows if 0 <= r["start"] < r["end"] <= len(doc["text"])]
        entities += len(rows)
        lines.append(json.dumps({
            "text": doc["text"], "label": [[r["start"], r["end"], r["label"]] for r in rows],
            "title": doc["title"], "source": doc["source"], "created": doc["created"],
            "reviewed": bool(doc["reviewed"]), "model_version": doc["model_version"],
            "status": [r["status"] for r in rows], "origin": [r["source"] for r in rows]}, ensure_ascii=False))
    try:
        with atomic_path(out_path) as temp:
            temp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"{out_path}: the salvaged documents were not written ({exc.strerror or exc})") from None
    return SalvageReport(out_path, len(documents), entities, bad_documents, bad_entities)


def _readable_rows(con: sqlite3.Connection, table: str) -> tuple[list[sqlite3.Row], int]:
    """Every row of ``table`` that can be read, by id; and how many ids failed."""
    try:
        highest = con.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0] or 0
    except sqlite3.Error:
        highest = None
    if highest is None:  # the right edge of the tree is damaged: walk until far past the last readable id
        highest = 0
        try:
            for (row_id,) in con.execute(f"SELECT id FROM {table} ORDER BY id"):
                highest = row_id
        except sqlite3.Error:
            pass
        highest += 100_000
    rows, bad = [], 0
    for row_id in range(1, highest + 1):
        try:
            row = con.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
        except sqlite3.Error:
            bad += 1
            continue
        if row is not None:
            rows.append(row)
    return rows, bad
