"""Rotating backups, restore, and the migration that flags CRLF documents, on real database files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.backup import KEEP, daily_backup, list_backups, make_backup, restore_backup
from engine.errors import StorageError
from engine.spans import Entity
from engine.storage import MIGRATIONS, Repository

ROOT = Path(__file__).resolve().parent.parent
TEXT = "মাথা ব্যথা ও জ্বর হলে নাপা খেলে ভালো হয়"
CRLF = "রোগী: করিম\r\nসমস্যা: জ্বর\r\nওষুধ: নাপা\r\n"


def make_db(path, n=2):
    repo = Repository(path)
    repo.add_documents([(f"note {i}", TEXT, "paste", [Entity(22, 26, "Medicine", 0.8)]) for i in range(n)],
                       origin="model")
    return repo


def titles(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return sorted(r[0] for r in con.execute("SELECT title FROM documents"))
    finally:
        con.close()


def test_backups_are_complete_private_and_rotate(tmp_path):
    db = tmp_path / "meder.sqlite3"
    repo = make_db(db)  # open, with its WAL: the backup API copies a consistent snapshot
    start = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)
    made = [make_backup(db, reason="daily", now=start + timedelta(days=i)) for i in range(KEEP + 2)]
    assert list_backups(db) == made[::-1][:KEEP]  # newest first, the two oldest gone
    newest = list_backups(db)[0]
    assert newest.name == "meder-20261109-080000-daily.sqlite3"
    assert titles(newest) == ["note 0", "note 1"]
    if os.name == "posix":
        assert newest.stat().st_mode & 0o777 == 0o600 and newest.parent.stat().st_mode & 0o777 == 0o700
    assert not [p for p in newest.parent.iterdir() if p not in list_backups(db)]  # no temporary leftovers
    repo.close()


def test_daily_backup_once_a_day(tmp_path):
    db = tmp_path / "meder.sqlite3"
    make_db(db).close()
    day = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
    assert daily_backup(db, now=day) is not None
    assert daily_backup(db, now=day + timedelta(hours=5)) is None
    assert daily_backup(db, now=day + timedelta(days=1)) is not None
    assert len(list_backups(db)) == 2


def test_restore_puts_a_backup_back_and_keeps_the_current_database_aside(tmp_path):
    db = tmp_path / "meder.sqlite3"
    repo = make_db(db)
    backup = make_backup(db, reason="before-retrain")
    repo.add_documents([("later", TEXT, "paste", [])], origin="model")
    repo.close()
    aside = restore_backup(backup, db)
    assert titles(db) == ["note 0", "note 1"]
    assert titles(aside) == ["later", "note 0", "note 1"]  # nothing is ever deleted by a restore
    reopened = Repository(db)
    assert reopened.counts()["documents"] == 2
    reopened.close()


def test_a_damaged_backup_is_not_restored_and_nothing_moves(tmp_path):
    db = tmp_path / "meder.sqlite3"
    make_db(db).close()
    bad = tmp_path / "backup.sqlite3"
    bad.write_bytes(b"SQLite format 3\x00" + bytes(200))
    with pytest.raises(StorageError, match="The backup was not restored"):
        restore_backup(bad, db)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.sqlite3", "meder.sqlite3"]
    assert titles(db) == ["note 0", "note 1"]


def schema_2_database(path):
    """A database as version 2 of the app left it, with the CRLF cases of the audit."""
    con = sqlite3.connect(path)
    con.executescript(MIGRATIONS[1] + MIGRATIONS[2] + "PRAGMA user_version=2;")
    rows = [(1, "edited crlf", CRLF, 1), (2, "imported crlf", CRLF, 0), (3, "edited lf", CRLF.replace("\r", ""), 1)]
    con.executemany("INSERT INTO documents (id, title, text, created, reviewed, reviewed_at) VALUES (?, ?, ?, '', ?, "
                    "CASE WHEN ? THEN '2026-01-01' END)", [(*r, r[3]) for r in rows])
    con.executemany("INSERT INTO entities (document_id, start, end, label, source, status) VALUES (?, ?, ?, ?, ?, ?)",
                    [(1, 21, 25, "Medicine", "human", "accepted"), (2, 20, 24, "Symptom", "human", "accepted"),
                     (3, 19, 23, "Medicine", "human", "accepted")])
    after = json.dumps({"entities": [], "reviewed": True, "reviewed_at": "2026-01-01"})
    con.executemany("INSERT INTO edits (document_id, description, before, after, created) VALUES (?, ?, '{}', ?, '')",
                    [(1, "add Medicine", after), (3, "add Medicine", after)])
    con.commit()
    con.close()


def test_migration_flags_edited_crlf_documents_once_after_a_backup(tmp_path):
    db = tmp_path / "meder.sqlite3"
    schema_2_database(db)
    repo = Repository(db)
    [notice] = repo.notices
    assert notice.startswith("1 document(s) with Windows line ends (CRLF)") and "• edited crlf" in notice
    docs = {d.title: d for d in repo.documents()}
    assert (docs["edited crlf"].reviewed, docs["edited crlf"].needs_recheck) == (False, "line ends")
    assert (docs["imported crlf"].needs_recheck, docs["edited lf"].needs_recheck) == (None, None)
    assert docs["edited lf"].reviewed  # LF documents were always shown right
    assert [d.title for d in repo.needs_recheck()] == ["edited crlf"]
    [backup] = list_backups(db)
    assert "before-migration" in backup.name
    con = sqlite3.connect(backup)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 2
    con.close()
    repo.set_reviewed(docs["edited crlf"].id)  # checked again: no longer flagged
    assert repo.needs_recheck() == []
    repo.close()
    again = Repository(db)
    assert again.notices == [] and len(list_backups(db)) == 1  # said once; no migration, no backup
    again.close()


def run_app(*args, env=None):
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


def test_restore_backup_from_the_command_line(tmp_path):
    data = tmp_path / "data"
    db = data / "meder.sqlite3"
    repo = make_db(db)
    backup = make_backup(db, reason="daily")
    repo.add_documents([("later", TEXT, "paste", [])], origin="model")
    repo.close()
    listed = run_app("--data-dir", str(data), "--list-backups")
    assert listed.returncode == 0 and listed.stdout.strip() == str(backup)
    result = run_app("--data-dir", str(data), "--restore-backup", str(backup))
    assert result.returncode == 0, result.stderr
    assert "the previous database is kept as" in result.stdout and titles(db) == ["note 0", "note 1"]
    missing = run_app("--data-dir", str(data), "--restore-backup", str(tmp_path / "nope.sqlite3"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "nope.sqlite3" in missing.stderr
