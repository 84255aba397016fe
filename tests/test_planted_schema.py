"""A database with schema objects the app did not create (planted triggers, views, indexes) is cleaned with a
message on open and on restore, or refused when they stand in for the app's own tables; real SQLite files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.backup import make_backup, restore_backup
from engine.errors import StorageError
from engine.spans import Entity
from engine.storage import DamagedDatabase, Repository

ROOT = Path(__file__).resolve().parent.parent
TEXT = "মাথা ব্যথা ও জ্বর হলে নাপা খেলে ভালো হয়"
PLANTED = [
    # every entity added after this is deleted at once; every note saved is rewritten
    "CREATE TRIGGER vanish AFTER INSERT ON entities BEGIN DELETE FROM entities WHERE id = new.id; END",
    "CREATE TRIGGER rewrite AFTER UPDATE ON documents BEGIN UPDATE documents SET text = 'x' WHERE id = new.id; END",
    "CREATE VIEW everything AS SELECT * FROM documents",
    "CREATE INDEX sneaky ON documents(title)",
]


def _planted(path: Path) -> Path:
    Repository(path).close()
    repo = Repository(path)
    repo.add_documents([("note", TEXT, "paste", [Entity(22, 26, "Medicine", 0.8)])], origin="model")
    repo.close()
    con = sqlite3.connect(path)
    con.executescript(";".join(PLANTED) + "; CREATE TABLE other_program (x);")
    con.close()
    return path


def _objects(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    finally:
        con.close()


def test_open_drops_planted_triggers_and_says_so(tmp_path):
    db = _planted(tmp_path / "meder.sqlite3")
    repo = Repository(db)
    [notice] = repo.notices
    assert "4 schema object(s) that Bangla MedER did not create" in notice
    assert all(name in notice for name in ("vanish", "rewrite", "everything", "sneaky"))
    assert not {"vanish", "rewrite", "everything", "sneaky"} & _objects(db)
    assert "other_program" in _objects(db)  # another program's table is not ours to delete, and never read
    [doc] = repo.documents()
    change = repo.add_entity(doc.id, 0, 4, "Symptom")
    assert change is not None and len(repo.entities(doc.id)) == 2  # the added entity stays
    repo.set_reviewed(doc.id)
    assert repo.document(doc.id).text == TEXT  # the note is not rewritten
    repo.close()
    assert Repository(db).notices == []  # said once


def test_a_view_in_place_of_an_app_table_is_refused_unchanged(tmp_path):
    db = tmp_path / "meder.sqlite3"
    Repository(db).close()
    con = sqlite3.connect(db)
    con.executescript("DROP TABLE settings; CREATE VIEW settings AS SELECT 'k' AS key, 'v' AS value;")
    con.close()
    before = db.read_bytes()
    with pytest.raises(DamagedDatabase, match="view 'settings' in place of the app's own"):
        Repository(db)
    assert db.read_bytes() == before


def test_restore_cleans_the_restored_copy_not_the_backup(tmp_path):
    db = tmp_path / "meder.sqlite3"
    backup = _planted(tmp_path / "planted.sqlite3")
    Repository(db).close()
    notices: list[str] = []
    restore_backup(backup, db, notices=notices)
    assert len(notices) == 1 and "vanish" in notices[0]
    assert "vanish" not in _objects(db) and "vanish" in _objects(backup)
    repo = Repository(db)
    assert repo.notices == [] and [d.title for d in repo.documents()] == ["note"]
    repo.close()


def test_restore_refuses_a_backup_whose_tables_were_replaced_and_moves_nothing(tmp_path):
    db = tmp_path / "meder.sqlite3"
    Repository(db).close()
    backup = make_backup(db, reason="daily")
    con = sqlite3.connect(backup)
    con.executescript("DROP TABLE edits; CREATE VIEW edits AS SELECT 1 AS id;")
    con.close()
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(StorageError, match="The backup was not restored"):
        restore_backup(backup, db)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_restore_backup_on_the_command_line_says_what_was_dropped(tmp_path):
    data = tmp_path / "data"
    Repository(data / "meder.sqlite3").close()
    backup = _planted(tmp_path / "planted.sqlite3")
    result = subprocess.run([sys.executable, "-m", "app", "--data-dir", str(data), "--restore-backup", str(backup)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "did not create" in result.stdout and "vanish" in result.stdout
    assert "vanish" not in _objects(data / "meder.sqlite3")
