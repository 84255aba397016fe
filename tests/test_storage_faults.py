"""Failed writes and damaged files: the user is told what was not saved, and nothing committed is lost.

Tests run as root here, so file permissions cannot make anything read-only: faults are injected
through SQLite itself (a page limit, a read-only connection, a lock held by another connection)
and by damaging copies of real database files.
"""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

from engine.errors import StorageError
from engine.spans import Entity
from engine.storage import SCHEMA_VERSION, DamagedDatabase, EmptyDatabase, Repository, salvage

TEXT = "মাথা ব্যথা ও জ্বর হলে নাপা খেলে ভালো হয়"  # মাথা ব্যথা [0, 10), জ্বর [13, 17), নাপা [22, 26)


def make_db(path, n=3, *, filler=""):
    repo = Repository(path)
    repo.add_documents([(f"note {i}", TEXT + filler + f" {i}", "paste",
                         [Entity(0, 10, "Symptom", 0.9), Entity(22, 26, "Medicine", 0.8)]) for i in range(n)],
                       origin="model")
    repo.close()  # the last connection checkpoints the WAL into the file
    return path


def snapshot(repo):
    return [(d.title, d.reviewed, [(e.start, e.end, e.label, e.status) for e in repo.entities(d.id)])
            for d in repo.documents()]


def test_full_database_says_the_disk_is_full_and_keeps_what_was_committed(tmp_path):
    repo = Repository(make_db(tmp_path / "meder.sqlite3"))
    before = snapshot(repo)
    pages = repo._db.execute("PRAGMA page_count").fetchone()[0]
    repo._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    with pytest.raises(StorageError) as err:
        repo.add_documents([("big", "জ্বর " * 50_000, "paste", [])], origin="model")
    assert str(err.value) == "The 1 new document(s) were not saved: the disk is full. Free some space and try again."
    entity = repo.entities(repo.documents()[0].id)[0]
    with pytest.raises(StorageError, match=r"^The edit “change to .*” was not saved: the disk is full"):
        repo.relabel(entity.id, "Health Condition" + "x" * 100_000)  # a long row needs new pages
    assert snapshot(repo) == before and repo.undo_status() == (None, None)
    repo.close()
    again = Repository(tmp_path / "meder.sqlite3")
    assert snapshot(again) == before
    again.add_documents([("after", TEXT, "paste", [])], origin="model")  # space again: it works
    assert again.counts()["documents"] == 4
    again.close()


def test_read_only_database_says_so(tmp_path):
    db = make_db(tmp_path / "meder.sqlite3")
    writer = Repository(db)
    doc = writer.documents()[0]
    writer.add_entity(doc.id, 13, 17, "Symptom")
    before = snapshot(writer)
    writer.close()
    repo = Repository(db, read_only=True)  # a mode=ro connection
    entity = repo.entities(doc.id)[0]
    with pytest.raises(StorageError, match=r"^The edit “reject” was not saved: the database is read-only"):
        repo.delete(entity.id)
    with pytest.raises(StorageError, match=r"^Undo was not done: the database is read-only"):
        repo.undo()
    with pytest.raises(StorageError, match="were not saved: the database is read-only"):
        repo.add_documents([("n", TEXT, "paste", [])], origin="human")
    assert snapshot(repo) == before
    repo.close()


def test_locked_database_says_another_program_holds_it(tmp_path):
    db = make_db(tmp_path / "meder.sqlite3")
    repo = Repository(db, timeout_s=0.1)
    before = snapshot(repo)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a second app window in the middle of a write
    doc = repo.documents()[0]
    try:
        with pytest.raises(StorageError, match=r"^The edit “mark reviewed” was not saved: the database is busy"):
            repo.set_reviewed(doc.id)
        with pytest.raises(StorageError, match="busy in another program"):
            repo.add_documents([("n", TEXT, "paste", [])], origin="model")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert snapshot(repo) == before
    repo.set_reviewed(doc.id)  # released: the same edit now works
    assert repo.document(doc.id).reviewed
    repo.close()


def damage(src, dst, *, how):
    """A copy of ``src`` with one page zeroed or 16 bytes of a page header flipped."""
    shutil.copyfile(src, dst)
    data = bytearray(dst.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    count = len(data) // page
    target = count // 2
    if how == "zero":
        data[target * page:(target + 1) * page] = bytes(page)
    else:
        for i in range(16):
            data[target * page + i] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("how", ["zero", "flip"])
def test_damaged_database_is_refused_unchanged_and_salvaged(tmp_path, how):
    good = make_db(tmp_path / "good.sqlite3", n=200, filler=" কাশি" * 40)
    con = sqlite3.connect(good)
    con.execute("PRAGMA journal_mode=DELETE")  # as a copy from another program would be: not WAL
    con.close()
    bad = damage(good, tmp_path / "meder.sqlite3", how=how)
    assert bad.read_bytes()[18:20] == b"\x01\x01"  # the header's rollback-journal mode
    before = bad.read_bytes()
    with pytest.raises(DamagedDatabase, match="cannot open the database: the file is damaged") as err:
        Repository(bad)
    assert "salvage" in str(err.value) and "restore a backup" in str(err.value)
    assert bad.read_bytes() == before  # never switched to WAL or otherwise touched
    assert not (tmp_path / "meder.sqlite3-wal").exists()

    report = salvage(bad, tmp_path / "salvaged.jsonl")
    import json

    rows = [json.loads(line) for line in (tmp_path / "salvaged.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == report.documents and 100 <= report.documents <= 200
    assert report.documents < 200 or report.entities < 400  # the damaged page cost something
    assert all(r["text"].startswith(TEXT) and r["title"].startswith("note ") for r in rows)
    for r in rows:
        assert all(r["text"][s:e] in ("মাথা ব্যথা", "নাপা") for s, e, _ in r["label"])
    assert bad.read_bytes() == before
    from engine.formats.jsonl import parse_doccano  # the importer reads the salvage back

    assert len(parse_doccano((tmp_path / "salvaged.jsonl").read_text(encoding="utf-8"), "salvaged.jsonl")) == len(rows)


def test_newer_schema_is_refused_without_changing_a_byte(tmp_path):
    db = tmp_path / "future.sqlite3"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE documents (id INTEGER PRIMARY KEY, text TEXT)")
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    con.close()
    before = db.read_bytes()
    with pytest.raises(StorageError, match="newer Bangla MedER.*not changed"):
        Repository(db)
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["future.sqlite3"]


def test_zero_length_database_is_not_silently_a_new_one(tmp_path):
    db = tmp_path / "meder.sqlite3"
    db.write_bytes(b"")
    with pytest.raises(EmptyDatabase, match=r"is empty \(0 bytes\).*not opened as a new database"):
        Repository(db)
    assert db.stat().st_size == 0


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_database_files_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        repo = Repository(tmp_path / "data" / "meder.sqlite3")
        repo.add_documents([("n", TEXT, "paste", [])], origin="model")
        modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "data").iterdir()}
        assert modes == {"meder.sqlite3": 0o600, "meder.sqlite3-wal": 0o600, "meder.sqlite3-shm": 0o600}
        assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
        repo.close()
        os.chmod(tmp_path / "data" / "meder.sqlite3", 0o644)  # made by an earlier version
        Repository(tmp_path / "data" / "meder.sqlite3").close()
        assert (tmp_path / "data" / "meder.sqlite3").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_the_data_folder_is_private_and_an_uncreatable_one_is_a_clear_error(tmp_path):
    from app.data_dir import data_dir

    old = os.umask(0o022)
    try:
        folder = data_dir(tmp_path / "data")
        assert folder.stat().st_mode & 0o777 == 0o700
        os.chmod(folder, 0o755)  # as an earlier version made it
        assert data_dir(folder).stat().st_mode & 0o777 == 0o700
    finally:
        os.umask(old)
    (tmp_path / "file").write_text("")
    with pytest.raises(StorageError, match=r"data folder .* cannot be created .* nothing can be saved"):
        data_dir(tmp_path / "file" / "data")
    assert data_dir(tmp_path / "elsewhere", create=False) == tmp_path / "elsewhere"
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_the_retrained_models_folder_is_private(tmp_path):
    from app.paths import install_root
    from engine.model_registry import ModelRegistry

    old = os.umask(0o022)
    try:
        registry = ModelRegistry(tmp_path / "data" / "models", install_root() / "model_assets")
    finally:
        os.umask(old)
    assert registry.dir.stat().st_mode & 0o777 == 0o700
