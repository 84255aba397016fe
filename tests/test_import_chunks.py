"""Imports read, tagged and stored chunk by chunk: one transaction, a file whole or not at all, one compact undo
step, the same outcome as a whole read (real files, real SQLite, no Qt)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from engine.errors import OperationCancelled
from engine.import_store import import_and_store, store_import
from engine.importing import import_files, read_chunks
from engine.spans import Entity
from engine.storage import NewDocument, Repository

CHUNK = 3  # small chunks: a few dozen lines make a multi-chunk import


def doccano(path, count: int, *, bad_line: int | None = None, start: int = 0):
    lines = []
    for i in range(start, start + count):
        text = f"রোগী {i}: জ্বর আছে"
        lines.append(json.dumps({"text": text, "label": [[len(text) - 8, len(text) - 4, "Symptom"]]},
                                ensure_ascii=False))
    if bad_line is not None:
        lines[bad_line - 1] = "{not json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def notes_csv(path, count: int):
    path.write_text("id,note\n" + "".join(f"{i},\"রোগী {i}: মাথা ব্যথা\"\n" for i in range(count)), encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path):
    repo = Repository(tmp_path / "meder.sqlite3")
    repo.add_documents([NewDocument("A", "রোগী 0: জ্বর আছে", "a.txt", [Entity(8, 12, "Symptom")], reviewed=True)],
                       origin="human")
    yield repo
    repo.close()


def stored(repo):
    return sorted((d.text, tuple(e.label for e in repo.entities(d.id))) for d in repo.documents())


def test_a_file_comes_in_chunks_and_a_bad_line_ends_it_with_nothing(tmp_path):
    good, bad = doccano(tmp_path / "good.jsonl", 7), doccano(tmp_path / "bad.jsonl", 10, bad_line=8, start=100)
    chunks = list(read_chunks([good, bad], None, chunk_size=CHUNK))
    assert [(c.report.path.endswith("good.jsonl"), len(c.documents), c.last) for c in chunks] == [
        (True, 3, False), (True, 3, False), (True, 1, True),
        (False, 3, False), (False, 3, False), (False, 0, True)]  # 6 lines of bad.jsonl came before its line 8
    assert "bad.jsonl:8: this line is not JSON" in chunks[-1].report.error and len(chunks[-1].errors) == 1


def test_chunked_store_gives_what_a_whole_read_gives(tmp_path):
    files = [doccano(tmp_path / "a.jsonl", 8), notes_csv(tmp_path / "n.csv", 5),
             doccano(tmp_path / "bad.jsonl", 10, bad_line=9, start=50)]
    whole_repo, chunked_repo = Repository(tmp_path / "whole.sqlite3"), Repository(tmp_path / "chunked.sqlite3")
    whole = store_import(whole_repo, import_files(files, None, text_column="note"))
    chunked = import_and_store(chunked_repo, files, None, text_column="note", chunk_size=CHUNK)
    assert chunked.text() == whole.text() and "bad.jsonl:9: this line is not JSON" in chunked.text()
    assert stored(chunked_repo) == stored(whole_repo) and len(stored(whole_repo)) == 13
    assert list(chunked.added) == list(whole.added)
    assert chunked_repo.undo_status() == whole_repo.undo_status() == ("import 13 document(s)", None)
    whole_repo.close()
    chunked_repo.close()


def test_a_cancel_midway_through_storing_stores_nothing_and_leaves_undo_alone(repo, tmp_path):
    big = doccano(tmp_path / "big.jsonl", 40, start=1)
    before, history = stored(repo), repo.undo_status()
    asked = []

    def cancelled():  # Cancel pressed once several chunks are stored
        asked.append(1)
        return repo.counts()["documents"] > 1 + 4 * CHUNK

    with pytest.raises(OperationCancelled):
        import_and_store(repo, [big], None, chunk_size=CHUNK, cancelled=cancelled)
    assert repo.counts()["documents"] == 1 and stored(repo) == before and repo.undo_status() == history
    assert len(asked) > 5  # asked all along, not only at the end


def test_a_bad_file_among_good_ones_is_left_out_whole(repo, tmp_path):
    files = [doccano(tmp_path / "one.jsonl", 5, start=10), doccano(tmp_path / "two.jsonl", 10, bad_line=9, start=20),
             doccano(tmp_path / "three.jsonl", 4, start=40)]
    log = import_and_store(repo, files, None, chunk_size=CHUNK)
    assert not any("রোগী 2" in text for text, _ in stored(repo))  # none of two.jsonl's 8 good lines
    assert repo.counts()["documents"] == 1 + 5 + 4 and len(log.added) == 9
    assert "two.jsonl:9: this line is not JSON" in log.text()
    assert log.report.total("documents") == 9


def test_undo_and_redo_of_a_chunked_import_hide_and_bring_back_all_of_it(repo, tmp_path):
    files = [doccano(tmp_path / "one.jsonl", 20, start=1), notes_csv(tmp_path / "n.csv", 11)]
    log = import_and_store(repo, files, None, text_column="note", chunk_size=CHUNK)
    assert len(log.added) == 31 and repo.counts()["documents"] == 32
    raw = sqlite3.connect(repo.path)
    [(before, after)] = raw.execute("SELECT before, after FROM edits").fetchall()
    raw.close()
    # the undo step names the new documents as ranges of ids, not one state each
    assert json.loads(after) == {"batch": [], "imported": {"ranges": [[2, 32]], "deleted_at": None}}
    change = repo.undo()
    assert change.removed and sorted(change.documents) == list(range(2, 33))
    assert [d.title for d in repo.documents()] == ["A"]
    change = repo.redo()
    assert not change.removed and repo.counts()["documents"] == 32
    assert {d.id for d in repo.documents()} == set(range(1, 33))


def test_an_older_per_document_undo_record_still_undoes(tmp_path):
    """A database written before imports were recorded as ranges holds one state per new document."""
    path = tmp_path / "older.sqlite3"
    repo = Repository(path)
    ids = repo.add_documents([NewDocument(f"n{i}", f"নোট {i}", "x.txt", []) for i in range(3)], origin="model")
    repo.close()
    raw = sqlite3.connect(path, isolation_level=None)
    state = [{"document_id": i, "entities": [], "reviewed": False, "reviewed_at": None} for i in ids]
    raw.execute("INSERT INTO edits (document_id, description, before, after, created) VALUES (?, ?, ?, ?, ?)",
                (ids[0], "import 3 document(s)", json.dumps({"batch": [s | {"deleted_at": "2026-01-01T00:00:00+00:00"}
                                                                       for s in state]}),
                 json.dumps({"batch": [s | {"deleted_at": None} for s in state]}), "2026-01-01T00:00:00+00:00"))
    raw.close()
    repo = Repository(path)
    change = repo.undo()
    assert change.removed and sorted(change.documents) == ids and repo.documents() == []
    repo.redo()
    assert sorted(d.id for d in repo.documents()) == ids
    repo.close()


def test_matches_are_asked_about_once_read_and_the_answer_decides(repo, tmp_path):
    """Annotated documents whose text was stored before: the question comes once every file is read; until then
    they are stored as new, and "update" moves each onto the stored document."""
    path = tmp_path / "again.jsonl"
    path.write_text(json.dumps({"text": "রোগী 0: জ্বর আছে", "label": [[8, 12, "Health Condition"]]},
                               ensure_ascii=False) + "\n" + doccano(tmp_path / "x.jsonl", 6, start=1).read_text("utf-8"),
                    encoding="utf-8")
    asked = []
    with pytest.raises(OperationCancelled):  # no answer: nothing stored
        import_and_store(repo, [path], None, chunk_size=CHUNK, on_existing=lambda n, read: asked.append((n, read)))
    assert asked == [(1, 7)] and repo.counts()["documents"] == 1 and repo.undo_status() == (None, None)

    log = import_and_store(repo, [path], None, chunk_size=CHUNK, on_existing=lambda n, read: "update")
    assert (len(log.added), log.updated, log.unchanged) == (6, 1, 0) and repo.counts()["documents"] == 7
    [a] = repo.documents_with_texts(["রোগী 0: জ্বর আছে"])["রোগী 0: জ্বর আছে"]
    assert a == 1 and [e.label for e in repo.entities(a)] == ["Health Condition"]
    assert repo.undo_status()[0] == "import 6 document(s) and update 1 document(s) from an imported file"
    repo.undo()
    assert [e.label for e in repo.entities(1)] == ["Symptom"] and repo.counts()["documents"] == 1

    log = import_and_store(repo, [path], None, chunk_size=CHUNK, on_existing=lambda n, read: "add")
    assert (len(log.added), log.updated) == (7, 0) and repo.counts()["documents"] == 8


def test_texts_stored_twice_are_skipped_across_chunks_and_files_but_not_those_of_a_file_left_out(repo, tmp_path):
    """Un-annotated texts already stored (before, or earlier in this import) are skipped and counted; the texts of
    a file left out halfway are not stored, so they are no reason to skip a later file's."""
    left_out = tmp_path / "left-out.jsonl"
    left_out.write_text("".join(json.dumps({"text": f"নোট {i}", "label": []}, ensure_ascii=False) + "\n"
                                for i in range(7)) + "{not json\n", encoding="utf-8")
    again = tmp_path / "again.txt"
    again.write_text("নোট 3", encoding="utf-8")
    table = tmp_path / "repeats.csv"
    table.write_text("id,note\n" + "".join(f"{i},\"রোগী {i % 4}: মাথা ব্যথা\"\n" for i in range(10)), encoding="utf-8")
    log = import_and_store(repo, [left_out, again, table], None, text_column="note", chunk_size=CHUNK)
    assert sorted(text for text, _ in stored(repo))[:2] == ["নোট 3", "রোগী 0: জ্বর আছে"]
    assert (len(log.added), log.duplicates) == (1 + 4, 6) and repo.counts()["documents"] == 6
    log = import_and_store(repo, [again, table], None, text_column="note", chunk_size=CHUNK)
    assert (len(log.added), log.duplicates) == (0, 11) and repo.undo_status()[0] == "import 5 document(s)"


def test_a_match_in_a_file_left_out_is_no_match(repo, tmp_path):
    """The stored text, annotated in a file left out halfway and again in a good file: the good file's updates it."""
    line = {"text": "রোগী 0: জ্বর আছে", "label": [[8, 12, "Health Condition"]]}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(line, ensure_ascii=False) + "\n{not json\n", encoding="utf-8")
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(line | {"label": [[8, 12, "Medicine"]]}, ensure_ascii=False) + "\n", encoding="utf-8")
    asked = []
    log = import_and_store(repo, [bad, good], None, chunk_size=1,
                           on_existing=lambda n, read: asked.append((n, read)) or "update")
    assert asked == [(1, 1)] and (len(log.added), log.updated) == (0, 1) and repo.counts()["documents"] == 1
    assert [e.label for e in repo.entities(1)] == ["Medicine"]
