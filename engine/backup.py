"""Rotating copies of the database, made with SQLite's online backup API.

A copy is consistent even while the app has the database open (the backup API
copies a snapshot, WAL included), it is written beside the other copies under
a temporary name and renamed in only once complete (:func:`engine.atomic.atomic_path`),
and only the newest :data:`KEEP` are kept. Copies are made once a day at start,
before every schema migration and before every retrain. :func:`restore_backup`
puts one back (``./run --restore-backup FILE``), keeping the current database aside.
:func:`salvage` copies what a damaged database still holds into a JSONL file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from engine.atomic import atomic_path
from engine.errors import StorageError

FOLDER = "backups"  # beside the database
KEEP = 7
_NAME = re.compile(r"^(?P<stem>.+)-(?P<stamp>\d{8}-\d{6})-(?P<reason>[a-z-]+)\.sqlite3$")


def backup_folder(db_path: str | Path) -> Path:
    return Path(db_path).parent / FOLDER


def list_backups(db_path: str | Path) -> list[Path]:
    """The database's backups, newest first."""
    folder = backup_folder(db_path)
    stem = Path(db_path).stem
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if (m := _NAME.match(p.name)) and m["stem"] == stem and p.is_file()]
    return sorted(found, key=lambda p: _NAME.match(p.name)["stamp"], reverse=True)


def make_backup(db_path: str | Path, *, reason: str, keep: int = KEEP,
                source: sqlite3.Connection | None = None, now: datetime | None = None) -> Path:
    """Copy the database into ``backups/`` as ``<stem>-<UTC time>-<reason>.sqlite3``; prune to ``keep``.

    ``source`` is an open connection to copy from (the repository's own, so a
    copy taken before a migration sees exactly what the migration starts from).
    Raises :class:`StorageError` saying why no copy was made.
    """
    if not re.fullmatch(r"[a-z-]+", reason):
        raise ValueError(f"reason must be lowercase words joined by '-', got {reason!r}")
    db_path = Path(db_path)
    folder = backup_folder(db_path)
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    target = folder / f"{db_path.stem}-{stamp}-{reason}.sqlite3"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        own = source is None
        src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) if own else source
        try:
            with atomic_path(target) as temp:
                dst = sqlite3.connect(temp)
                try:
                    src.backup(dst)
                    # one self-contained file: opening a copy must not need (or create) a -wal beside it
                    dst.execute("PRAGMA journal_mode=DELETE")
                    if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                        raise sqlite3.DatabaseError("the copy does not pass SQLite's check")
                finally:
                    dst.close()
        finally:
            if own:
                src.close()
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"No backup of the database was made ({reason}): {exc}") from None
    for old in list_backups(db_path)[keep:]:
        old.unlink(missing_ok=True)
    return target


def daily_backup(db_path: str | Path, *, keep: int = KEEP, now: datetime | None = None) -> Path | None:
    """A backup unless one was already made today (UTC); returns it, or None if none was needed."""
    now = now or datetime.now(timezone.utc)
    today = now.strftime("%Y%m%d")
    if not Path(db_path).is_file() or any(_NAME.match(p.name)["stamp"].startswith(today)
                                          for p in list_backups(db_path)):
        return None
    return make_backup(db_path, reason="daily", keep=keep, now=now)


def restore_backup(backup: str | Path, db_path: str | Path, *, notices: list[str] | None = None) -> Path | None:
    """Replace the database by ``backup`` (checked first); returns where the old database was kept.

    Schema objects the app did not create (a planted trigger) are dropped from the restored copy, never from
    ``backup`` itself; what was dropped is appended to ``notices``.

    Close the app first: a running app would keep writing to the old file.
    The current database (with its ``-wal``, which holds its newest edits) is
    renamed to ``<name>.before-restore-<time>``, never deleted.
    """
    from engine.storage.schema import check_database_file

    backup, db_path = Path(backup), Path(db_path)
    try:
        check_database_file(backup)  # damaged, empty or newer copies are refused before anything moves
    except StorageError as exc:
        raise StorageError(f"The backup was not restored: {exc}") from None
    aside = None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    try:
        if db_path.exists():
            aside = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
            os.replace(db_path, aside)
        # the old WAL must never meet the restored file: SQLite would apply it to the wrong pages
        wal = Path(f"{db_path}-wal")
        if wal.exists():
            os.replace(wal, Path(f"{aside or db_path}-wal") if aside else wal.with_name(wal.name + f".{stamp}"))
        Path(f"{db_path}-shm").unlink(missing_ok=True)
        with atomic_path(db_path) as temp:
            shutil.copyfile(backup, temp)
            cleaned = _drop_foreign_objects(temp, db_path)
    except OSError as exc:
        raise StorageError(f"The backup {backup.name} was not restored: {exc.strerror or exc}") from None
    if cleaned and notices is not None:
        notices.append(cleaned)
    return aside


def _drop_foreign_objects(copy: Path, db_path: Path) -> str | None:
    from engine.storage.schema import drop_foreign_objects

    con = sqlite3.connect(copy, isolation_level=None)
    try:
        return drop_foreign_objects(con, db_path)
    except sqlite3.Error as exc:
        raise StorageError(f"The backup was not restored: its schema could not be cleaned ({exc})") from None
    finally:
        con.close()


def set_aside(db_path: str | Path, *, why: str) -> Path:
    """Rename the database (and its ``-wal``, which may hold data) to ``<name>.<why>-<time>``; never delete."""
    if not re.fullmatch(r"[a-z-]+", why):
        raise ValueError(f"why must be lowercase words joined by '-', got {why!r}")
    db_path = Path(db_path)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    aside = db_path.with_name(f"{db_path.name}.{why}-{stamp}")
    try:
        os.replace(db_path, aside)
        if Path(f"{db_path}-wal").exists():
            os.replace(f"{db_path}-wal", f"{aside}-wal")
        Path(f"{db_path}-shm").unlink(missing_ok=True)
    except OSError as exc:
        raise StorageError(f"{db_path} could not be set aside: {exc.strerror or exc}") from None
    return aside


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
        from engine.storage.schema import _reason

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
