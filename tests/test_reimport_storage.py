"""Re-importing annotated documents whose text is stored: one undoable update, in a real SQLite file."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from engine.spans import Entity
from engine.storage import EditRefused, NewDocument, Repository

TEXT = "রোগীর জ্বর ও মাথা ব্যথা। নাপা খেতে বলা হয়েছে।"
OTHER = "কাশি আছে, নাপা খান।"
FEVER = (TEXT.index("জ্বর"), TEXT.index("জ্বর") + len("জ্বর"))
NAPA = (TEXT.index("নাপা"), TEXT.index("নাপা") + len("নাপা"))


def state(repo: Repository, doc_id: int) -> dict:
    """Everything an update may change and an undo must restore, read back from the file."""
    doc = repo.document(doc_id)
    with closing(sqlite3.connect(repo.path)) as raw:  # the columns as stored, not as the repository parses them
        row = raw.execute("SELECT metadata, needs_recheck FROM documents WHERE id = ?", (doc_id,)).fetchone()
    return {"entities": repo.entities(doc_id), "reviewed": doc.reviewed, "reviewed_at": doc.reviewed_at,
            "metadata_json": row[0], "needs_recheck": row[1], "title": doc.title,
            "source": doc.source, "model_version": doc.model_version}


@pytest.fixture
def repo(tmp_path):
    """Three documents: model suggestions on TEXT (twice: the newest is id 3) and a reviewed OTHER."""
    repo = Repository(tmp_path / "meder.sqlite3")
    repo.add_documents([NewDocument("first", TEXT, "a.csv", [Entity(*FEVER, "Symptom", 0.8),
                                                             Entity(*NAPA, "Symptom", 0.4, "absent")],
                                    metadata={"row": 2, "doctor": "Rahim"})], origin="model", model_version="v1")
    repo.add_documents([NewDocument("other", OTHER, "b.txt", [Entity(10, 14, "Medicine")], reviewed=True)],
                       origin="human")
    repo.add_documents([NewDocument("again", TEXT, "c.csv", [Entity(*FEVER, "Symptom", 0.7)])],
                       origin="model", model_version="v1")
    yield repo
    repo.close()


def test_texts_are_found_newest_first_and_deleted_ones_are_not(repo):
    assert repo.documents_with_texts([TEXT, OTHER, "not stored", TEXT]) == {TEXT: [3, 1], OTHER: [2]}
    repo.delete_document(3)
    assert repo.documents_with_texts([TEXT]) == {TEXT: [1]}
    assert repo.documents_with_texts([]) == {}


def test_many_texts_are_found_in_chunks(tmp_path):
    repo = Repository(tmp_path / "many.sqlite3")
    texts = [f"নোট {n} জ্বর" + " আছে" * (n % 7) for n in range(1000)]
    repo.add_documents([NewDocument(f"n{n}", t) for n, t in enumerate(texts)], origin="model")
    found = repo.documents_with_texts(texts[::-1] + ["নেই"])
    assert found == {t: [n + 1] for n, t in enumerate(texts)}
    repo.close()


def test_an_update_replaces_entities_review_and_metadata_and_undo_restores_them_exactly(repo, tmp_path):
    with closing(sqlite3.connect(repo.path, isolation_level=None)) as raw:  # as migration 3 leaves a CRLF document
        raw.execute("UPDATE documents SET needs_recheck = 'line ends' WHERE id = 3")
    before = state(repo, 3)
    untouched = state(repo, 1)
    imported = NewDocument("a title from the file", TEXT, "tasks.json",
                           [Entity(*NAPA, "Medicine", assertion="absent"), Entity(*FEVER, "Health Condition")],
                           metadata={"doctor": "Karim", "ward": "3"}, reviewed=True)
    change = repo.update_from_import({3: imported})
    assert change.documents == (3,) and change.description == "update 1 document(s) from an imported file"
    after = state(repo, 3)
    assert [(e.start, e.end, e.label, e.source, e.status, e.confidence, e.assertion, e.model_version)
            for e in after["entities"]] == [(*FEVER, "Health Condition", "human", "accepted", None, "present", ""),
                                            (*NAPA, "Medicine", "human", "accepted", None, "absent", "")]
    assert sorted(change.added) == sorted(e.id for e in after["entities"])
    assert after["reviewed"] and after["reviewed_at"] is not None and after["needs_recheck"] is None
    assert repo.document(3).metadata == {"doctor": "Karim", "ward": "3"}  # the stored keys stay, the file's win
    assert (after["title"], after["source"], after["model_version"]) == ("again", "c.csv", "v1")
    assert state(repo, 1) == untouched  # the older copy of the same text is not touched
    assert repo.undo_status() == ("update 1 document(s) from an imported file", None)

    undone = repo.undo()
    assert undone.documents == (3,)
    assert state(repo, 3) == before  # entities with their ids, review, metadata text and flag: exactly
    repo.close()
    reopened = Repository(tmp_path / "meder.sqlite3")  # the history survives a restart
    redone = reopened.redo()
    assert redone.documents == (3,) and state(reopened, 3) == after
    reopened.undo()
    assert state(reopened, 3) == before
    reopened.close()


def test_one_update_of_several_documents_is_one_undo_step(repo):
    before = {n: state(repo, n) for n in (1, 2, 3)}
    change = repo.update_from_import({
        1: NewDocument("t", TEXT, "f.json", [Entity(*NAPA, "Medicine")], reviewed=True),
        2: NewDocument("t", OTHER, "f.json", [], reviewed=False)})
    assert change.documents == (1, 2)
    assert [e.label for e in repo.entities(1)] == ["Medicine"] and repo.entities(2) == []
    assert not repo.document(2).reviewed and repo.document(2).reviewed_at is None
    assert repo.document(1).metadata == {"row": 2, "doctor": "Rahim"}  # no keys in the file: the stored ones stay
    repo.undo()
    assert {n: state(repo, n) for n in (1, 2, 3)} == before
    assert repo.undo_status() == (None, "update 2 document(s) from an imported file")


def test_a_document_already_as_the_file_has_it_records_nothing(repo):
    same = NewDocument("other", OTHER, "again.json", [Entity(10, 14, "Medicine")], reviewed=True)
    assert repo.update_from_import({2: same}) is None
    assert repo.undo_status()[0] is None
    changed = repo.update_from_import({2: same, 1: NewDocument("t", TEXT, "f", [], reviewed=True)})
    assert changed.documents == (1,)


@pytest.mark.parametrize(("target", "doc", "message"), [
    (3, NewDocument("t", OTHER, "f", []), "holds another text"),
    (3, NewDocument("t", TEXT, "f", [Entity(0, 9, "Symptom"), Entity(5, 12, "Symptom")]), "overlap"),
    (3, NewDocument("t", TEXT, "f", [Entity(*FEVER, "B-Symptom")]), "is a tag, not an entity type"),
    (99, NewDocument("t", TEXT, "f", []), "does not exist"),
])
def test_a_bad_update_changes_nothing(repo, target, doc, message):
    before = {n: state(repo, n) for n in (1, 2, 3)}
    with pytest.raises(EditRefused, match=message):
        repo.update_from_import({1: NewDocument("t", TEXT, "f", [], reviewed=True), target: doc})
    assert {n: state(repo, n) for n in (1, 2, 3)} == before and repo.undo_status()[0] is None


def test_a_deleted_document_is_not_updated(repo):
    repo.delete_document(3)
    with pytest.raises(EditRefused, match="deleted"):
        repo.update_from_import({3: NewDocument("t", TEXT, "f", [], reviewed=True)})


def test_a_busy_database_refuses_the_whole_update(repo, tmp_path):
    from engine.errors import StorageError

    before = {n: state(repo, n) for n in (1, 3)}
    busy = Repository(tmp_path / "meder.sqlite3", timeout_s=0.1)
    lock = sqlite3.connect(tmp_path / "meder.sqlite3", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    with pytest.raises(StorageError, match="The update of 2 document"):
        busy.update_from_import({1: NewDocument("t", TEXT, "f", [], reviewed=True),
                                 3: NewDocument("t", TEXT, "f", [], reviewed=True)})
    lock.execute("ROLLBACK")
    lock.close()
    busy.close()
    assert {n: state(repo, n) for n in (1, 3)} == before
