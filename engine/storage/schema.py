"""The database file: its schema, the migrations that bring an older file forward, and the checks made
before SQLite is allowed to write to it (a damaged, empty or newer file is refused unchanged).
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from urllib.parse import quote

from engine.atomic import PRIVATE_FILE, PRIVATE_FOLDER
from engine.errors import StorageError

SCHEMA_VERSION = 6
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
    # Metadata of imported rows (the other columns of a spreadsheet row, file and row number), as a JSON object.
    4: """
    ALTER TABLE documents ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
    """,
    # Deleting a document only stamps it (undo puts it back with its entities, review state and history);
    # settings hold what the app remembers per data folder (the last document worked on, the font size).
    # The length index makes the duplicate check on import cheap without indexing whole texts.
    5: """
    ALTER TABLE documents ADD COLUMN deleted_at TEXT;
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE INDEX documents_by_length ON documents(length(text));
    """,
    # Whether each finding is there for this patient now (engine/assertion.py): absent, possible, past...
    6: """
    ALTER TABLE entities ADD COLUMN assertion TEXT NOT NULL DEFAULT 'present';
    """,
}


# every table and index the migrations above create: anything else in a file (a trigger that rewrites a note
# or deletes new entities, a view, an index) was not made by this app
_CREATED = re.compile(r"CREATE\s+(TABLE|INDEX|VIEW|TRIGGER)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
APP_OBJECTS = frozenset((kind.lower(), name.lower()) for sql in MIGRATIONS.values() for kind, name in _CREATED.findall(sql))


def foreign_objects(con: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """``(type, name, sql)`` of each schema object in the file that the app did not create (SQLite's own
    ``sqlite_*`` tables and automatic indexes aside)."""
    rows = con.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_master "
                       "WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid").fetchall()
    return [(t, n, sql) for t, n, sql in rows if (t.lower(), n.lower()) not in APP_OBJECTS]


def _check_not_replaced(foreign: list[tuple[str, str, str]], path: Path) -> None:
    ours = {name for _, name in APP_OBJECTS}
    if taken := [f"{t} {n!r}" for t, n, _ in foreign if n.lower() in ours]:
        raise DamagedDatabase(path, f"it holds a {', '.join(taken)} in place of the app's own, so it is not a "
                                    "Bangla MedER database as this app made it")


def drop_foreign_objects(con: sqlite3.Connection, path: Path) -> str | None:
    """Drop the triggers, views and indexes that the app did not create, in one transaction; what the user reads
    about it (None when there were none). They are not data: triggers fire on the app's own writes (an added entity
    deleted, a note rewritten), so none may stay. Tables of other programs are left alone (the app never reads
    them). A view or trigger standing where one of the app's tables should be makes the file refused."""
    foreign = foreign_objects(con)
    _check_not_replaced(foreign, path)
    order = {"trigger": 0, "view": 1, "index": 2}
    dropped = sorted(((t, n, sql) for t, n, sql in foreign if t in order), key=lambda o: order[o[0]])
    if not dropped:
        return None
    con.execute("BEGIN IMMEDIATE")
    try:
        for kind, name, _ in dropped:
            con.execute(f'DROP {kind.upper()} IF EXISTS "{name.replace(chr(34), chr(34) * 2)}"')
        con.execute("COMMIT")
    except sqlite3.Error:
        con.execute("ROLLBACK")
        raise
    shown = "\n".join(f"• {kind} {name!r}: {' '.join(sql.split())[:200]}" for kind, name, sql in dropped[:10])
    more = f"\n… and {len(dropped) - 10} more" if len(dropped) > 10 else ""
    return (f"{path.name} held {len(dropped)} schema object(s) that Bangla MedER did not create; they could change "
            f"or delete your notes and entities when the app saves, so they were removed (your documents and "
            f"entities are untouched):\n{shown}{more}")


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
            foreign = foreign_objects(con) if result == "ok" else []
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise DamagedDatabase(path, f"the file is damaged ({exc})") from None
    if result != "ok":
        raise DamagedDatabase(path, f"the file is damaged ({result.splitlines()[0]})")
    _check_not_replaced(foreign, path)
    return version


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

