"""The Excel export's layout, read back cell by cell: Entities, Documents and Summary sheets."""

from __future__ import annotations

from datetime import datetime

from openpyxl import load_workbook

from engine.exporting import export, export_documents
from engine.importing import import_files
from engine.spans import Document, Entity
from engine.storage import NewDocument, Repository

NOTE = "জ্বর নেই, কাশি আছে, মাথা ব্যথা। নাপা খাবেন।\n"  # ends in a line break, as pasted notes often do


def _span(text: str, words: str) -> tuple[int, int]:
    start = text.index(words)
    return start, start + len(words)


def _stored(tmp_path) -> tuple[Repository, dict[str, int]]:
    repo = Repository(tmp_path / "db.sqlite3")
    suggestions = [Entity(*_span(NOTE, "জ্বর"), "Symptom", 0.9, "absent"), Entity(*_span(NOTE, "কাশি"), "Symptom", 0.8),
                   Entity(*_span(NOTE, "নাপা"), "Medicine", 0.7)]
    first, second = repo.add_documents(
        [NewDocument("করিম, ওয়ার্ড ৩", NOTE, "test", suggestions, metadata={"patient id": "P-7", "ward": "৩"}),
         NewDocument("খালি", "কোনো সমস্যা নেই", "test")], origin="model", model_version="v1")
    cough = next(e for e in repo.entities(first) if e.label == "Symptom" and e.assertion == "present")
    repo.accept(cough.id)
    repo.add_entity(first, *_span(NOTE, "মাথা ব্যথা"), "Symptom")
    repo.set_reviewed(second)
    return repo, {"first": first, "second": second}


def _rows(ws) -> list[tuple]:
    return list(ws.iter_rows(values_only=True))


def test_entities_sheet_has_title_assertion_and_status_in_the_tables_words(tmp_path):
    repo, ids = _stored(tmp_path)
    export(repo, tmp_path / "out.xlsx")
    rows = _rows(load_workbook(tmp_path / "out.xlsx")["Entities"])
    assert rows[0] == ("document", "title", "entity text", "type", "assertion", "status", "confidence", "start", "end",
                       "reviewed")
    title, first = "করিম, ওয়ার্ড ৩", ids["first"]
    assert sorted(rows[1:], key=lambda r: r[7]) == [
        (first, title, "জ্বর", "Symptom", "absent", "suggested", 0.9, *_span(NOTE, "জ্বর"), "no"),
        (first, title, "কাশি", "Symptom", "present", "accepted", 0.8, *_span(NOTE, "কাশি"), "no"),
        (first, title, "মাথা ব্যথা", "Symptom", "present", "manual", None, *_span(NOTE, "মাথা ব্যথা"), "no"),
        (first, title, "নাপা", "Medicine", "present", "suggested", 0.7, *_span(NOTE, "নাপা"), "no")]


def test_documents_sheet_wraps_notes_with_real_dates_and_metadata(tmp_path):
    repo, ids = _stored(tmp_path)
    export(repo, tmp_path / "out.xlsx")
    ws = load_workbook(tmp_path / "out.xlsx")["Documents"]
    header = [c.value for c in ws[1]]
    assert header == ["document", "title", "created", "reviewed", "entities", "model version", "text",
                      "hidden direction marks", "reviewed at", "patient id", "ward"]
    stored = {d.id: d for d in repo.documents()}
    by_id = {row[0].value: row for row in ws.iter_rows(min_row=2)}
    note, empty = by_id[ids["first"]], by_id[ids["second"]]
    assert [c.value for c in note][:2] + [c.value for c in note][3:] == [
        ids["first"], "করিম, ওয়ার্ড ৩", "no", 4, "v1", NOTE, "no", None, "P-7", "৩"]
    created = note[2]
    assert isinstance(created.value, datetime) and created.number_format == "yyyy-mm-dd hh:mm"
    assert created.value == datetime.fromisoformat(stored[ids["first"]].created).astimezone().replace(tzinfo=None)
    # a note ending in a line break must not look empty: top-aligned and wrapped, in a wide column
    text = note[6]
    assert text.alignment.wrap_text and text.alignment.vertical == "top"
    assert ws.column_dimensions["G"].width >= 40 or len(NOTE) < 40
    assert note[1].alignment.vertical == "top" and not note[1].alignment.wrap_text
    assert isinstance(empty[8].value, datetime) and empty[8].number_format == "yyyy-mm-dd hh:mm"  # reviewed at
    assert [c.value for c in empty][3] == "yes" and [c.value for c in empty][9:] == [None, None]


def test_summary_sheet_lists_present_findings_per_type_and_each_other_assertion_apart(tmp_path):
    repo, ids = _stored(tmp_path)
    export(repo, tmp_path / "out.xlsx")
    wb = load_workbook(tmp_path / "out.xlsx")
    assert wb.sheetnames == ["Entities", "Documents", "Summary"]
    rows = _rows(wb["Summary"])
    assert rows[0] == ("document", "title", "reviewed", "patient id", "Medicine", "Symptom", "Absent", "Possible",
                       "Past", "Family", "Hypothetical")  # the imported patient id beside the findings
    assert sorted(rows[1:], key=str) == sorted([
        (ids["first"], "করিম, ওয়ার্ড ৩", "no", "P-7", "নাপা", "কাশি; মাথা ব্যথা", "জ্বর (Symptom)", None, None, None,
         None),
        (ids["second"], "খালি", "yes", None, None, None, None, None, None, None, None)], key=str)
    assert wb["Summary"]["E2"].alignment.wrap_text or wb["Summary"]["E3"].alignment.wrap_text


def test_headless_export_names_the_other_assertions_and_whose_entities_they_are(tmp_path):
    text = "সম্ভবত টাইফয়েড, বাবার ডায়াবেটিস আছে, জ্বর জ্বর"
    person = Document(text, [Entity(*_span(text, "টাইফয়েড"), "Health Condition", None, "possible"),
                             Entity(*_span(text, "ডায়াবেটিস"), "Health Condition", None, "family")],
                      name="annotated", status="annotated")
    fever = text.rindex("জ্বর")
    model = Document(text, [Entity(fever - 5, fever - 1, "Symptom", 0.6), Entity(fever, fever + 4, "Symptom", 0.5)],
                     name="suggested", status="suggested")
    export_documents([person, model], tmp_path / "out.xlsx", model_version="v2")
    wb = load_workbook(tmp_path / "out.xlsx")
    statuses = [(r[0], r[4], r[5]) for r in _rows(wb["Entities"])[1:]]
    assert statuses == [(1, "possible", "manual"), (1, "family", "manual"), (2, "present", "suggested"),
                        (2, "present", "suggested")]
    assert _rows(wb["Summary"])[1:] == [
        (1, "annotated", "yes", None, None, None, "টাইফয়েড (Health Condition)", None, "ডায়াবেটিস (Health Condition)",
         None),
        (2, "suggested", "no", None, "জ্বর", None, None, None, None, None)]  # the same words twice are listed once


def test_export_reimports_with_the_same_texts_titles_and_metadata(tmp_path):
    repo = Repository(tmp_path / "db.sqlite3")
    notes = [NewDocument("=cmd", "রোগী: করিম\r\nসমস্যা: জ্বর", "test", metadata={"patient id": "P-1", "created": "গতকাল"}),
             NewDocument("রহিম", "কাশি আছে, নাপা খাবেন", "test", [Entity(0, 4, "Symptom", 0.9, "absent")],
                         metadata={"ward": "৩"})]
    repo.add_documents(notes, origin="model")
    export(repo, tmp_path / "out.xlsx")
    batch = import_files([tmp_path / "out.xlsx"], None)
    assert batch.errors == []
    back = sorted((d.title, d.text, d.metadata) for d in batch.documents)
    assert back == sorted([("=cmd", "রোগী: করিম\r\nসমস্যা: জ্বর", {"patient id": "P-1", "created (imported)": "গতকাল"}),
                           ("রহিম", "কাশি আছে, নাপা খাবেন", {"ward": "৩"})])
