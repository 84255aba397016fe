"""doccano exports every example, labelled or not: an empty label list is a text to tag, never a reviewed note."""

from __future__ import annotations

import json

from engine.exporting import export
from engine.importing import import_files
from engine.storage import NewDocument, Repository


def _line(**record) -> str:
    return json.dumps(record, ensure_ascii=False)


def test_an_empty_label_list_is_not_stored_as_reviewed(tmp_path):
    path = tmp_path / "doccano.jsonl"
    path.write_text("\n".join([_line(text="জ্বর আছে", label=[[0, 4, "Symptom"]]), _line(text="কাশি আছে", label=[]),
                               _line(id=7, text="মাথা ব্যথা")]) + "\n", encoding="utf-8")
    batch = import_files([path], None)
    assert [(d.text, d.reviewed, d.needs_tagging, d.origin) for d in batch.documents] == [
        ("জ্বর আছে", True, False, "human"), ("কাশি আছে", False, True, "model"), ("মাথা ব্যথা", False, True, "model")]
    assert any("2 record(s) with no labels" in s and "line 2, 3" in s for s in batch.report.skipped)
    repo = Repository(tmp_path / "db.sqlite3")
    for origin in ("human", "model"):
        repo.store_batch([NewDocument(d.title, d.text, d.source, d.entities, reviewed=d.reviewed)
                          for d in batch.documents if d.origin == origin], origin=origin)
    assert [d.text for d, _ in repo.reviewed_documents()] == ["জ্বর আছে"]  # what retraining learns from


def test_doccano_approval_and_our_own_reviewed_empty_documents_stay_reviewed(tmp_path):
    path = tmp_path / "approved.jsonl"
    path.write_text(_line(text="কোনো সমস্যা নেই", label=[], annotation_approver="admin") + "\n", encoding="utf-8")
    [doc] = import_files([path], None).documents
    assert doc.reviewed and not doc.entities
    repo = Repository(tmp_path / "db.sqlite3")
    [first] = repo.add_documents([NewDocument("nothing", "কোনো সমস্যা নেই", "test")], origin="model")
    repo.set_reviewed(first)
    out = tmp_path / "out.jsonl"
    export(repo, out, fmt="doccano")
    assert json.loads(out.read_text(encoding="utf-8"))["reviewed"] is True
    [back] = import_files([out], None).documents
    assert back.reviewed and not back.entities and not back.needs_tagging
