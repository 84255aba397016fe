"""Storage, edits and undo on a real SQLite file."""

import sqlite3
import subprocess
import sys

import pytest

from engine.spans import Entity
from engine.storage import EditRefused, Repository

TEXT = "মাথা ব্যথা আর জ্বর। নাপা খেলে জ্বর কমে।"


@pytest.fixture
def repo(tmp_path):
    r = Repository(tmp_path / "meder.sqlite3")
    yield r
    r.close()


def add_doc(repo):
    ents = [Entity(0, 10, "Symptom", 0.9), Entity(20, 24, "Medicine", 0.4)]
    return repo.add_documents([("note 1", TEXT, "paste", ents)], origin="model", model_version="v1")[0]


def spans(repo, doc):
    return [(TEXT[e.start:e.end], e.label, e.source, e.status) for e in repo.entities(doc)]


def test_add_relabel_delete_undo_redo(repo):
    doc = add_doc(repo)
    repo.add_entity(doc, 15, 17, "Symptom")  # partial selection of "জ্বর" snaps to the word
    assert ("জ্বর", "Symptom", "human", "accepted") in spans(repo, doc)
    medicine = next(e for e in repo.entities(doc) if e.label == "Medicine")
    repo.relabel(medicine.id, "Dosage")
    assert ("নাপা", "Dosage", "human", "accepted") in spans(repo, doc)
    assert repo.undo_status() == ("change to Dosage", None)
    repo.undo()
    assert ("নাপা", "Medicine", "model", "suggested") in spans(repo, doc)
    assert repo.undo_status()[1] == "change to Dosage"
    repo.redo()
    assert ("নাপা", "Dosage", "human", "accepted") in spans(repo, doc)
    dosage = next(e for e in repo.entities(doc) if e.label == "Dosage")
    repo.delete(dosage.id)
    assert all(label != "Dosage" for _, label, _, _ in spans(repo, doc))
    repo.undo()
    repo.undo()
    repo.undo()
    assert spans(repo, doc) == [("মাথা ব্যথা", "Symptom", "model", "suggested"),
                                ("নাপা", "Medicine", "model", "suggested")]
    assert repo.undo() is None


def test_overlap_is_refused_or_replaced(repo):
    doc = add_doc(repo)
    with pytest.raises(EditRefused, match="overlaps “মাথা ব্যথা” \\(Symptom\\)"):
        repo.add_entity(doc, 5, 14, "Health Condition")
    repo.add_entity(doc, 5, 14, "Health Condition", replace=True)
    assert spans(repo, doc)[0] == ("ব্যথা আর", "Health Condition", "human", "accepted")
    with pytest.raises(EditRefused, match="no word"):
        repo.add_entity(doc, 10, 11, "Symptom")
    with pytest.raises(EditRefused, match="not a selection"):
        repo.add_entity(doc, 5, 500, "Symptom")


def test_accept_reject_accept_all_and_review(repo):
    doc = add_doc(repo)
    first, second = repo.entities(doc)
    repo.accept(first.id)
    repo.reject(second.id)
    assert spans(repo, doc) == [("মাথা ব্যথা", "Symptom", "model", "accepted")]
    repo.undo()
    repo.set_reviewed(doc)
    assert repo.document(doc).reviewed
    assert {e.status for e in repo.entities(doc)} == {"accepted"}
    assert repo.entities(doc)[1].model_version == "v1"  # who produced it is kept
    repo.undo()
    assert not repo.document(doc).reviewed and repo.entities(doc)[1].status == "suggested"


def test_mark_all_occurrences(repo):
    doc = add_doc(repo)
    repo.add_entity(doc, 14, 18, "Symptom")
    fever = next(e for e in repo.entities(doc) if TEXT[e.start:e.end] == "জ্বর")
    repo.mark_all_occurrences(fever.id)
    assert [s for s in spans(repo, doc) if s[0] == "জ্বর"] == [("জ্বর", "Symptom", "human", "accepted")] * 2


def test_least_confident_first_and_search(repo):
    add_doc(repo)
    repo.add_documents([("note 2", "কাশি আছে", "paste", [Entity(0, 4, "Symptom", 0.1)])], origin="model")
    assert [d.title for d in repo.documents(order="least_confident")] == ["note 2", "note 1"]
    assert [d.title for d in repo.documents(search="কাশি")] == ["note 2"]


def test_history_survives_a_killed_process(tmp_path):
    db = tmp_path / "meder.sqlite3"
    script = f"""
import os
from engine.spans import Entity
from engine.storage import Repository
r = Repository({str(db)!r})
doc = r.add_documents([("n", {TEXT!r}, "paste", [Entity(0, 10, "Symptom", 0.9)])], origin="model")[0]
r.add_entity(doc, 20, 24, "Medicine")
os._exit(9)  # no close, no cleanup: like a crash
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 9, result.stderr
    repo = Repository(db)
    doc = repo.documents()[0].id
    assert [(TEXT[e.start:e.end], e.label) for e in repo.entities(doc)] == [("মাথা ব্যথা", "Symptom"), ("নাপা", "Medicine")]
    assert repo.undo_status()[0] == "add Medicine"
    repo.undo()
    assert len(repo.entities(doc)) == 1
    repo.close()


def test_newer_schema_is_refused(tmp_path):
    db = tmp_path / "future.sqlite3"
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version=99")
    con.close()
    with pytest.raises(Exception, match="newer Bangla MedER"):
        Repository(db)


def test_not_a_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(Exception, match="cannot open the database"):
        Repository(bad)


def test_retag_replaces_suggestions_only_and_never_reviewed_documents(repo):
    doc = add_doc(repo)
    repo.add_entity(doc, 14, 18, "Symptom")  # a human entity on "জ্বর"
    new = [Entity(0, 4, "Symptom", 0.8), Entity(14, 18, "Medicine", 0.9), Entity(25, 29, "Dosage", 0.7)]
    repo.retag(doc, new, "v2")
    got = [(TEXT[e.start:e.end], e.label, e.source, e.model_version) for e in repo.entities(doc)]
    assert got == [("মাথা", "Symptom", "model", "v2"), ("জ্বর", "Symptom", "human", ""),
                   ("খেলে", "Dosage", "model", "v2")]
    assert repo.document(doc).model_version == "v2"
    repo.set_reviewed(doc)
    with pytest.raises(EditRefused, match="never re-tagged"):
        repo.retag(doc, new, "v3")


def test_undo_restores_a_deleted_entity_after_new_ones_were_stored(repo):
    doc = add_doc(repo)
    last = repo.entities(doc)[-1]
    repo.delete(last.id)
    other = repo.add_documents([("note 2", "নাপা খান", "paste", [Entity(0, 4, "Medicine")])], origin="human")[0]
    assert last.id not in [e.id for e in repo.entities(other)]  # ids are never handed out twice
    repo.undo()
    assert spans(repo, doc)[-1] == ("নাপা", "Medicine", "model", "suggested")
    assert [e.label for e in repo.entities(other)] == ["Medicine"]


def test_schema_1_database_migrates_and_keeps_its_undo_history(tmp_path):
    from engine.storage import MIGRATIONS

    db = tmp_path / "old.sqlite3"
    con = sqlite3.connect(db)
    con.executescript(MIGRATIONS[1] + "; PRAGMA user_version=1;")
    con.close()
    r = Repository(db)  # as the first release would have left it, then upgraded
    doc = add_doc(r)
    r.delete(r.entities(doc)[-1].id)
    r.close()
    r = Repository(db)
    new = r.add_documents([("n", "জ্বর", "paste", [Entity(0, 4, "Symptom")])], origin="human")[0]
    r.undo()  # re-inserts the deleted row under its old id
    assert [e.label for e in r.entities(doc)] == ["Symptom", "Medicine"] and len(r.entities(new)) == 1
    assert r._db.execute("PRAGMA user_version").fetchone()[0] >= 2
    r.close()


def test_mark_all_occurrences_never_overlaps(repo):
    text = "ক খ ক খ ক খ ক"
    doc = repo.add_documents([("t", text, "", [Entity(8, 13, "Symptom")])], origin="human")[0]
    repo.mark_all_occurrences(repo.entities(doc)[0].id)
    ents = repo.entities(doc)
    assert all(a.end <= b.start for a, b in zip(ents, ents[1:])), [(e.start, e.end) for e in ents]
    assert [(e.start, e.end) for e in ents] == [(0, 5), (8, 13)]


@pytest.mark.parametrize("label", ["O", "B-Symptom", "", None])
def test_a_tag_or_missing_type_is_refused(repo, label):
    doc = add_doc(repo)
    before = spans(repo, doc)
    with pytest.raises(EditRefused):
        repo.add_entity(doc, 14, 18, label)
    assert spans(repo, doc) == before


def test_retag_refuses_invalid_model_output(repo):
    doc = repo.add_documents([("t", "নাপা খান", "", [])], origin="model")[0]
    with pytest.raises(EditRefused, match="outside the text"):
        repo.retag(doc, [Entity(0, 1000, "Medicine"), Entity(2, 6, "Symptom")], "v2")
    assert repo.entities(doc) == []


def test_undo_of_unreview_restores_the_review_time(repo):
    doc = add_doc(repo)
    repo.set_reviewed(doc, True)
    repo.set_reviewed(doc, False)
    assert repo.reviewed_since("2000") == 0
    repo.undo()
    assert repo.document(doc).reviewed and repo.reviewed_since("2000") == 1


def test_an_edit_that_changes_nothing_keeps_the_redo_history(repo):
    doc = repo.add_documents([("t", "নাপা খান", "", [])], origin="human")[0]
    repo.add_entity(doc, 0, 4, "Medicine")
    repo.undo()
    assert repo.accept_all(doc) is None  # nothing to accept
    assert repo.undo_status() == (None, "add Medicine")
    repo.redo()
    assert [e.label for e in repo.entities(doc)] == ["Medicine"]
