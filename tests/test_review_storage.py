"""Documents as a whole (delete, rename, duplicates), boundary nudges, one-step re-tag, and the review order."""

import pytest

from engine.errors import MederError
from engine.review import LEAST_CONFIDENT_FIRST, ListView, neighbour, visible
from engine.spans import Entity
from engine.storage import EditRefused, NewDocument, Repository
from engine.storage.rules import nudge, occurrences

TEXT = "মাথা ব্যথা আর জ্বর। নাপা খেলে জ্বর কমে।"


@pytest.fixture
def repo(tmp_path):
    r = Repository(tmp_path / "meder.sqlite3")
    yield r
    r.close()


def add(repo, title="note", text=TEXT, ents=(), origin="model"):
    return repo.add_documents([NewDocument(title, text, "paste", list(ents))], origin=origin, model_version="v1")[0]


def test_delete_document_and_undo_restores_everything(repo):
    doc = add(repo, ents=[Entity(0, 10, "Symptom", 0.9), Entity(20, 24, "Medicine", 0.4)])
    repo.add_entity(doc, 15, 18, "Symptom")
    repo.set_reviewed(doc)
    before = (repo.document(doc), repo.entities(doc))
    change = repo.delete_document(doc)
    assert change.removed and not repo.exists(doc)
    assert repo.documents() == [] and repo.reviewed_documents() == []  # no longer trained on
    assert repo.counts() == {"documents": 0, "reviewed": 0, "entities": 0}
    with pytest.raises(MederError, match="deleted"):
        repo.add_entity(doc, 29, 33, "Symptom")
    undone = repo.undo()
    assert not undone.removed
    assert (repo.document(doc), repo.entities(doc)) == before
    assert repo.undo_status()[0] == "mark reviewed"  # the document's own history is back too
    repo.undo()
    repo.undo()
    assert [e.source for e in repo.entities(doc)] == ["model", "model"]
    repo.redo()
    repo.redo()
    assert repo.redo().removed  # redo deletes it again


def test_rename_document_is_undoable_and_validated(repo):
    doc = add(repo, title="old")
    repo.rename_document(doc, "  রোগী ১   সকাল ")
    assert repo.document(doc).title == "রোগী ১ সকাল"
    assert repo.rename_document(doc, "রোগী ১ সকাল") is None
    with pytest.raises(EditRefused):
        repo.rename_document(doc, "   ")
    repo.undo()
    assert repo.document(doc).title == "old"


def test_import_skips_unannotated_duplicates_and_counts_them(repo):
    add(repo, text="আগের লেখা")
    batch = repo.store_batch([NewDocument("a", "আগের লেখা"), NewDocument("b", "নতুন"), NewDocument("c", "নতুন")],
                             origin="model")
    assert batch.duplicates == 2 and len(batch.ids) == 1
    annotated = repo.store_batch([NewDocument("d", "নতুন", entities=[Entity(0, 4, "Symptom")])], origin="human")
    assert annotated.duplicates == 0 and len(annotated.ids) == 1  # annotations are never dropped
    deleted = batch.ids[0]
    repo.delete_document(deleted)
    assert repo.store_batch([NewDocument("e", "নতুন")], origin="model").duplicates == 1  # "d" still holds it
    assert repo.document(annotated.ids[0]).labels == ("Symptom",)


def test_metadata_is_stored(repo):
    doc = repo.store_batch([NewDocument("r", "লেখা", "t.csv", metadata={"row": 3, "ward": "৪"})],
                           origin="model").ids[0]
    assert repo.document(doc).metadata == {"row": 3, "ward": "৪"}


def test_nudge_rules_move_by_one_word():
    text = "মাথা ব্যথা আর জ্বর"
    assert nudge(text, 5, 10, "start_left") == (0, 10)
    assert nudge(text, 0, 10, "start_right") == (5, 10)
    assert nudge(text, 0, 10, "end_left") == (0, 4)
    assert nudge(text, 0, 4, "end_right") == (0, 10)
    with pytest.raises(EditRefused):
        nudge(text, 0, 4, "end_left")
    with pytest.raises(EditRefused):
        nudge(text, 0, 4, "start_left")
    assert occurrences("জ্বর আর জ্বরে জ্বর", "জ্বর", [Entity(0, 4, "Symptom")]) == [(14, 18)]


def test_nudge_in_storage_refuses_overlap_and_is_undoable(repo):
    doc = add(repo, ents=[Entity(5, 10, "Symptom", 0.5), Entity(14, 18, "Symptom", 0.9)])
    first = repo.entities(doc)[0]
    change = repo.nudge(first.id, "start_left")
    grown = repo.entity(change.added[0])
    assert TEXT[grown.start:grown.end] == "মাথা ব্যথা" and grown.status == "accepted"
    longer = repo.nudge(grown.id, "end_right").added[0]  # "আর" is free
    assert [TEXT[e.start:e.end] for e in repo.entities(doc)] == ["মাথা ব্যথা আর", "জ্বর"]
    with pytest.raises(EditRefused, match="overlap"):
        repo.nudge(longer, "end_right")  # "জ্বর" is taken
    repo.undo()
    repo.undo()
    assert [(e.start, e.end, e.status) for e in repo.entities(doc)] == [(5, 10, "suggested"), (14, 18, "suggested")]


def test_retag_documents_is_one_undo_step(repo):
    ids = [add(repo, title=f"n{i}", ents=[Entity(0, 4, "Symptom", 0.5)]) for i in range(3)]
    repo.set_reviewed(ids[2])
    repo.add_entity(ids[0], 20, 24, "Medicine")
    change = repo.retag_documents({i: [Entity(5, 10, "Symptom", 0.7), Entity(20, 24, "Dosage", 0.6)] for i in ids},
                                  "v2")
    assert set(change.documents) == {ids[0], ids[1]}  # the reviewed one is left alone
    assert [(e.start, e.label, e.model_version) for e in repo.entities(ids[0])] == [
        (5, "Symptom", "v2"), (20, "Medicine", "")]  # the person's entity stays; the overlapping suggestion goes
    assert repo.document(ids[1]).model_version == "v2"
    assert repo.undo_status()[0].startswith("re-tag 3 document(s)")
    repo.undo()
    for i in ids[:2]:
        assert repo.document(i).model_version == "v1"
        assert [(e.start, e.label) for e in repo.entities(i) if e.source == "model"] == [(0, "Symptom")]
    assert repo.undo_status()[0] == "add Medicine"


def test_settings_remembered(tmp_path):
    repo = Repository(tmp_path / "m.sqlite3")
    repo.set_setting("last_document", "7")
    repo.close()
    repo = Repository(tmp_path / "m.sqlite3")
    assert repo.setting("last_document") == "7" and repo.setting("font_size", "12") == "12"
    repo.close()


def test_review_order_follows_sort_and_filter(repo):
    texts = ["ক", "খ", "গ", "ঘ", "ঙ"]
    confidences = [0.9, 0.2, None, 0.5, 0.3]
    ids = []
    for text, conf in zip(texts, confidences):
        ents = [] if conf is None else [Entity(0, 1, "Medicine" if conf < 0.4 else "Symptom", conf)]
        ids.append(add(repo, title=text, text=text, ents=ents))
    repo.set_reviewed(ids[4])  # ঙ: least confident but reviewed
    docs = repo.documents()
    shown = visible(docs, LEAST_CONFIDENT_FIRST)
    assert [d.title for d in shown] == ["খ", "ঘ", "ক", "গ", "ঙ"]
    # Ctrl+Enter from the first goes down the list as shown, then wraps round to the top
    assert neighbour(shown, ids[1]) == ids[3]
    assert neighbour(shown, ids[2]) == ids[1]  # wraps, skipping the reviewed ঙ
    assert neighbour(shown, ids[1], backwards=True) == ids[2]  # wraps backwards
    filtered = visible(docs, ListView(sort="confidence", descending=False, label="Medicine"))
    assert [d.title for d in filtered] == ["খ", "ঙ"]
    assert neighbour(filtered, ids[1]) is None  # the only other one is reviewed; hidden ones are never opened
    assert neighbour(filtered, ids[3]) == ids[1]  # current filtered out: start at the top
    unreviewed = visible(docs, ListView(sort="title", descending=False, status="unreviewed"))
    assert [d.title for d in unreviewed] == ["ক", "খ", "গ", "ঘ"]
    with pytest.raises(ValueError):
        ListView(sort="size")


def test_a_file_s_review_state_and_metadata_are_stored(tmp_path):
    # a doccano/Label Studio export says whether a person reviewed each text; its other fields are metadata
    from engine.importing import import_files

    path = tmp_path / "export.jsonl"
    path.write_text('{"text": "রোগীর জ্বর আছে", "label": [[6, 10, "Symptom"]], "patient": "P-17"}\n', encoding="utf-8")
    batch = import_files([path], None)
    [doc] = batch.documents
    r = Repository(tmp_path / "meder.sqlite3")
    stored = r.store_batch([NewDocument(doc.title, doc.text, doc.source, doc.entities, metadata=doc.metadata,
                                        reviewed=doc.reviewed)], origin=doc.origin)
    [saved] = [d for d in r.documents() if d.id in stored.ids]
    assert doc.reviewed and saved.reviewed
    assert saved.metadata.get("patient") == "P-17"
    assert [(e.start, e.end, e.label) for e in r.entities(saved.id)] == [(6, 10, "Symptom")]
    r.close()
