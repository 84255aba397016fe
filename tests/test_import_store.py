"""One store operation: an import plan in, one transaction, one undo step and one log out (real SQLite, real files,
no model, no Qt)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from engine.errors import OperationCancelled, StorageError
from engine.import_store import read_log, store_import, stored_matches
from engine.importing import import_files
from engine.spans import Entity
from engine.storage import NewDocument, Repository


def tasks(path, texts_labels):
    path.write_text(json.dumps([{"data": {"text": t}, "annotations": [{"result": [
        {"type": "labels", "value": {"start": 0, "end": len(t.split()[0]), "labels": [label]}}]}]}
        for t, label in texts_labels], ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path):
    repo = Repository(tmp_path / "meder.sqlite3", timeout_s=0.1)
    repo.add_documents([NewDocument("A", "জ্বর আছে", "a.txt", [Entity(0, 4, "Symptom")], reviewed=True),
                        NewDocument("C", "মাথা ঘোরে", "c.txt", [])], origin="human")
    yield repo
    repo.close()


def test_an_import_is_one_transaction_one_undo_step_and_one_log(repo, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("মাথা ঘোরে", encoding="utf-8")  # stored already, un-annotated: skipped and counted
    batch = import_files([tasks(tmp_path / "t.json", [("জ্বর আছে", "Health Condition"), ("নাপা দিন", "Medicine")]),
                          notes], None)
    assert stored_matches(repo, batch) == 1
    before = {d.id for d in repo.documents()}
    log = store_import(repo, batch, on_existing="update")
    assert (len(log.added), log.updated, log.unchanged, log.duplicates) == (1, 1, 0, 1)
    assert repo.undo_status()[0] == "import 1 document(s) and update 1 document(s) from an imported file"
    [a] = repo.documents_with_texts(["জ্বর আছে"])["জ্বর আছে"]
    assert [e.label for e in repo.entities(a)] == ["Health Condition"]
    assert log.head().splitlines() == [
        "Read 3 document(s) with 2 entities and 0 suggestions from 2 file(s).", "1 added as new document(s).",
        "1 document(s) were already stored and were skipped.",
        "1 document(s) updated from the file (Edit › Undo reverts)."]
    change = repo.undo()  # the whole import, back
    assert change.removed and {d.id for d in repo.documents()} == before
    assert [e.label for e in repo.entities(a)] == ["Symptom"]
    repo.redo()
    assert len(repo.documents()) == 3 and [e.label for e in repo.entities(a)] == ["Health Condition"]


def test_add_as_new_leaves_the_stored_documents_alone(repo, tmp_path):
    batch = import_files([tasks(tmp_path / "t.json", [("জ্বর আছে", "Health Condition")])], None)
    log = store_import(repo, batch, on_existing="add")
    assert (len(log.added), log.updated) == (1, 0)
    assert sorted(e.label for d in repo.documents() if d.text == "জ্বর আছে" for e in repo.entities(d.id)) == [
        "Health Condition", "Symptom"]


def test_a_cancel_or_a_refusing_database_stores_nothing(repo, tmp_path):
    batch = import_files([tasks(tmp_path / "t.json", [("জ্বর আছে", "Health Condition"), ("নাপা দিন", "Medicine")])],
                         None)
    with pytest.raises(OperationCancelled):
        store_import(repo, batch, cancelled=lambda: True)
    lock = sqlite3.connect(tmp_path / "meder.sqlite3", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another program holds the database
    with pytest.raises(StorageError, match="The import of 2 document"):
        store_import(repo, batch)
    lock.execute("ROLLBACK")
    lock.close()
    assert len(repo.documents()) == 2 and repo.undo_status()[0] is None
    [a] = repo.documents_with_texts(["জ্বর আছে"])["জ্বর আছে"]
    assert [e.label for e in repo.entities(a)] == ["Symptom"]


def test_the_log_of_a_read_names_every_file_not_read_and_everything_left_out(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    overlapping = tmp_path / "o.jsonl"
    overlapping.write_text(json.dumps({"text": "জ্বর আছে", "label": [[0, 4, "Symptom"], [0, 8, "Symptom"]]},
                                      ensure_ascii=False) + "\n", encoding="utf-8")
    text = read_log(import_files([empty, overlapping], None)).text()
    assert f"skipped: {empty}: the file is empty" in text
    assert "left out: o.jsonl: 1 document(s), 1 entities, 0 suggestions; 1 thing(s) left out:" in text
