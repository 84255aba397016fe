"""Assertions stored in SQLite: insert, cycle, undo/redo, re-tag and the migration from schema 5."""

from __future__ import annotations

import sqlite3

import pytest

from engine.spans import ASSERTIONS, Entity
from engine.storage import MIGRATIONS, EditRefused, NewDocument, Repository

TEXT = "জ্বর নেই, মাথা ব্যথা আছে। নাপা 500 mg।"
HEAD = TEXT.index("মাথা ব্যথা")
NAPA = TEXT.index("নাপা")
DOSE = TEXT.index("500 mg")


@pytest.fixture
def repo(tmp_path):
    r = Repository(tmp_path / "meder.sqlite3")
    yield r
    r.close()


def add_doc(repo, *, origin="model"):
    ents = [Entity(0, 4, "Symptom", 0.9, "absent"), Entity(HEAD, HEAD + 10, "Symptom", 0.8),
            Entity(NAPA, NAPA + 4, "Medicine", 0.7), Entity(DOSE, DOSE + 6, "Dosage", 0.6)]
    return repo.store_batch([NewDocument("note", TEXT, entities=ents)], origin=origin, model_version="v1").ids[0]


def assertions(repo, doc):
    return [(TEXT[e.start:e.end], e.assertion) for e in repo.entities(doc)]


def test_stored_from_entities_and_read_back(repo):
    doc = add_doc(repo)
    assert assertions(repo, doc) == [("জ্বর", "absent"), ("মাথা ব্যথা", "present"), ("নাপা", "present"),
                                     ("500 mg", "present")]
    assert repo.entities(doc)[0].span() == Entity(0, 4, "Symptom", 0.9, "absent")


def test_cycle_goes_round_accepts_and_undoes(repo):
    doc = add_doc(repo)
    fever = repo.entities(doc)[1]
    seen = []
    entity_id = fever.id
    for _ in ASSERTIONS:
        change = repo.cycle_assertion(entity_id)
        entity_id = change.added[0]
        stored = repo.entity(entity_id)
        assert stored.status == "accepted"
        seen.append(stored.assertion)
    assert seen == ["absent", "possible", "past", "family", "hypothetical", "present"]
    for _ in ASSERTIONS:
        repo.undo()
    restored = repo.entities(doc)[1]
    assert (restored.id, restored.assertion, restored.status) == (fever.id, "present", "suggested")
    repo.redo()
    assert repo.entities(doc)[1].assertion == "absent"


def test_cycle_refused_for_types_without_assertion(repo):
    doc = add_doc(repo)
    dosage = repo.entities(doc)[3]
    with pytest.raises(EditRefused, match="Dosage"):
        repo.cycle_assertion(dosage.id)
    assert repo.undo_status() == (None, None)


def test_edits_keep_the_assertion_and_undo_restores_it(repo):
    doc = add_doc(repo)
    fever = repo.entities(doc)[0]
    change = repo.relabel(fever.id, "Health Condition")
    assert repo.entity(change.added[0]).assertion == "absent"
    repo.undo()
    repo.delete(fever.id)
    repo.undo()
    assert repo.entity(fever.id).assertion == "absent"


def test_retag_keeps_cycled_entity_and_stores_new_assertions(repo):
    doc = add_doc(repo)
    cycled = repo.cycle_assertion(repo.entities(doc)[1].id).added[0]  # present -> absent, accepted
    new = [Entity(0, 4, "Symptom", 0.95, "absent"), Entity(HEAD, HEAD + 10, "Symptom", 0.95, "present")]
    repo.retag(doc, new, "v2")
    got = {(TEXT[e.start:e.end], e.assertion, e.status) for e in repo.entities(doc)}
    assert ("মাথা ব্যথা", "absent", "accepted") in got  # the person's correction stays
    assert ("জ্বর", "absent", "suggested") in got
    assert repo.entity(cycled).assertion == "absent"
    repo.undo()
    assert ("জ্বর", "absent") in assertions(repo, doc)


def test_migration_from_schema_5_keeps_entities_and_history(tmp_path):
    path = tmp_path / "old.sqlite3"
    con = sqlite3.connect(path)
    con.executescript("".join(MIGRATIONS[v] + ";" for v in range(1, 6)) + "PRAGMA user_version=5;")
    con.execute("INSERT INTO documents (title, text, created) VALUES ('old', ?, '2026-01-01')", (TEXT,))
    con.execute("INSERT INTO entities (document_id, start, end, label, source, status)"
                " VALUES (1, 0, 4, 'Symptom', 'model', 'suggested')")
    con.commit()
    con.close()
    repo = Repository(path)
    try:
        assert repo._db.execute("PRAGMA user_version").fetchone()[0] == 6
        (fever,) = repo.entities(1)
        assert fever.assertion == "present"
        repo.delete(fever.id)  # history rows now carry the assertion; undo puts it back
        repo.undo()
        assert repo.cycle_assertion(fever.id) is not None
        assert repo.entities(1)[0].assertion == "absent"
        assert list((tmp_path / "backups").iterdir())  # backed up before the migration
    finally:
        repo.close()


def test_undo_of_history_written_before_schema_6(tmp_path):
    """An edit recorded by schema 5 (entity rows without an assertion) still undoes."""
    path = tmp_path / "old.sqlite3"
    con = sqlite3.connect(path)
    con.executescript("".join(MIGRATIONS[v] + ";" for v in range(1, 6)) + "PRAGMA user_version=5;")
    con.execute("INSERT INTO documents (title, text, created) VALUES ('old', ?, '2026-01-01')", (TEXT,))
    row = ('{"entities": [{"id": 7, "document_id": 1, "start": 0, "end": 4, "label": "Symptom", "source": "human",'
           ' "status": "accepted", "confidence": null, "model_version": ""}], "reviewed": false, "reviewed_at": null}')
    con.execute("INSERT INTO edits (document_id, description, before, after, created) VALUES"
                " (1, 'delete', ?, ?, '2026-01-01')",
                (row, '{"entities": [], "reviewed": false, "reviewed_at": null}'))
    con.commit()
    con.close()
    repo = Repository(path)
    try:
        repo.undo()
        assert [(e.id, e.assertion) for e in repo.entities(1)] == [(7, "present")]
    finally:
        repo.close()


def test_import_with_the_bundled_model_sets_and_stores_assertions(tmp_path, repo):
    from pathlib import Path

    from engine.importing import import_files
    from engine.runtime import load_tagger

    note = tmp_path / "note.txt"
    note.write_text("রোগীর জ্বর নেই। মাথা ব্যথা আছে।", encoding="utf-8")
    tagger = load_tagger(Path(__file__).resolve().parents[1] / "model_assets" / "student-int8")
    batch = import_files([note], tagger)
    (doc,) = batch.documents
    ids = repo.store_batch([NewDocument(doc.title, doc.text, entities=doc.entities)], origin="model").ids
    got = {(doc.text[e.start:e.end], e.assertion) for e in repo.entities(ids[0])}
    assert {("জ্বর", "absent"), ("মাথা ব্যথা", "present")} <= got
