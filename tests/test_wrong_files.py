"""Files that other tools really write and that used to come in silently wrong (issue 22), each from a minimal
file: what is stored must be what the file means, or the report says what was not. No Qt, no model.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.exporting import dumps
from engine.formats import load_documents
from engine.importing import import_files, read_file
from engine.spans import Document, Entity

TYPES = ["Symptom", "Medicine", "Health Condition", "Dosage"]


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def spans(doc) -> list[tuple[str, str]]:
    return [(doc.text[e.start:e.end], e.label) for e in doc.entities]


# 1. Label Studio's default JSON export lists predictions by id only
def test_label_studio_predictions_given_by_id_do_not_refuse_the_file(tmp_path):
    tasks = [{"id": 1, "data": {"text": "জ্বর আছে"}, "predictions": [11],
              "annotations": [{"id": 5, "result": [{"id": "a", "from_name": "label", "to_name": "text", "type": "labels",
                                                    "value": {"start": 0, "end": 4, "text": "জ্বর",
                                                              "labels": ["Symptom"]}}]}]},
             {"id": 2, "data": {"text": "কাশি নেই"}, "predictions": [12, 13], "annotations": []}]
    docs = load_documents(write(tmp_path, "project-1.json", json.dumps(tasks, ensure_ascii=False)))
    assert [(spans(d), d.status) for d in docs] == [([("জ্বর", "Symptom")], "annotated"), ([], "unannotated")]
    assert "by id only" in docs[1].notes[0] and "model" in docs[1].notes[0]


# 2. JSON-MIN: a task nobody annotated, and one row per annotator
def test_json_min_unannotated_task_is_not_reviewed_and_rows_of_one_task_are_one_document(tmp_path):
    rows = [{"text": "জ্বর আছে", "id": 1, "annotator": None, "annotation_id": None, "created_at": None},
            {"text": "কাশি আছে", "id": 2, "annotator": "a@x", "annotation_id": 7, "updated_at": "2024-01-01",
             "label": [{"start": 0, "end": 4, "text": "কাশি", "labels": ["Symptom"]}]},
            {"text": "কাশি আছে", "id": 2, "annotator": "b@x", "annotation_id": 8, "updated_at": "2024-02-01",
             "label": [{"start": 0, "end": 8, "text": "কাশি আছে", "labels": ["Symptom"]}]}]
    docs = load_documents(write(tmp_path, "min.json", json.dumps(rows, ensure_ascii=False)))
    assert [(d.text, d.status, spans(d)) for d in docs] == [
        ("জ্বর আছে", "unannotated", []), ("কাশি আছে", "annotated", [("কাশি আছে", "Symptom")])]
    assert "2 rows" in docs[1].notes[0] and "b@x" in docs[1].notes[0]


# 3. Label Studio's CoNLL-2003 export keeps the type's space after its placeholder columns
def test_label_studio_conll_export_with_a_space_in_the_type(tmp_path):
    text = "-DOCSTART- -X- O\n\nডায়াবেটিস -X- _ B-Health Condition\nআছে -X- _ O\nনাপা -X- _ B-Medicine\n"
    path = write(tmp_path, "project-1.conll", text)
    assert [spans(d) for d in load_documents(path)] == [[("ডায়াবেটিস", "Health Condition"), ("নাপা", "Medicine")]]
    same_as_txt = write(tmp_path, "project-1.txt", text)  # found by content too
    assert [spans(d) for d in load_documents(same_as_txt)] == [[("ডায়াবেটিস", "Health Condition"),
                                                                ("নাপা", "Medicine")]]


# 4. Health_Condition (our CoNLL export's spelling) carried on through doccano and spaCy/Prodigy files
def test_underscore_types_map_back_in_every_reader(tmp_path):
    doccano = write(tmp_path, "d.jsonl", json.dumps({"text": "ডায়াবেটিস আছে", "label": [[0, 10, "Health_Condition"]]},
                                                    ensure_ascii=False) + "\n")
    spacy = write(tmp_path, "s.jsonl", json.dumps({"text": "ডায়াবেটিস আছে", "answer": "accept",
                                                   "spans": [{"start": 0, "end": 10, "label": "Health_Condition"}]},
                                                  ensure_ascii=False) + "\n")
    studio = write(tmp_path, "l.json", json.dumps([{"data": {"text": "ডায়াবেটিস আছে"}, "annotations": [{"result": [
        {"type": "labels", "value": {"start": 0, "end": 10, "labels": ["Health_Condition"]}}]}]}], ensure_ascii=False))
    for path in (doccano, spacy, studio):
        assert [spans(d) for d in load_documents(path, known_types=TYPES)] == [[("ডায়াবেটিস", "Health Condition")]]
    # a type the model does not know keeps its underscore
    assert spans(load_documents(doccano, known_types=["Symptom"])[0]) == [("ডায়াবেটিস", "Health_Condition")]


# 9c. the CSV reader kept each cell's text, trailing spaces included
def test_csv_text_keeps_its_trailing_spaces(tmp_path):
    path = write(tmp_path, "notes.csv", "id,text\n1,\"জ্বর আছে  \"\n2,\" কাশি\"\n")
    assert [d.text for d in read_file(path)] == ["জ্বর আছে  ", " কাশি"]


# 10. the CoNLL export kept a ZWNJ that opens a word other than the first
def test_conll_export_keeps_a_zwnj_opening_any_word():
    text = "জ্বর \u200cকাশি ব্যথা"
    out = dumps([Document(text, [Entity(6, 10, "Symptom")])], "conll")
    assert out.split("\n")[:3] == ["জ্বর\tO", "\u200cকাশি\tB-Symptom", "ব্যথা\tO"]
    assert "".join(line.split("\t")[0] for line in out.split("\n") if line) == text.replace(" ", "")


def test_batch_import_reports_no_error_for_these_files(tmp_path):
    path = write(tmp_path, "p.json", json.dumps([{"data": {"text": "জ্বর"}, "predictions": [3]}], ensure_ascii=False))
    batch = import_files([path], None)
    assert batch.errors == [] and len(batch.documents) == 1 and batch.documents[0].needs_tagging


# 5. doccano offsets: UTF-16 units from doccano's screen, code points from Python tools
def test_doccano_offsets_unit_decided_per_document_and_reported(tmp_path):
    text = "😀 রোগীর জ্বর আছে"
    start = text.index("জ্বর")
    lines = [{"text": text, "label": [[start, start + 4, "Symptom"]]},  # a Python tool's code points
             {"text": text, "label": [[start + 1, start + 5, "Symptom"]]},  # doccano's UTF-16 units
             {"text": "জ্বর আছে", "label": [[0, 4, "Symptom"]]}]
    notes: list[str] = []
    docs = load_documents(write(tmp_path, "mixed.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in lines)),
                          notes=notes)
    assert [spans(d) for d in docs] == [[("জ্বর", "Symptom")]] * 3
    assert len(notes) == 1 and "code points" in notes[0] and "line 1)" in notes[0]


def test_doccano_export_says_its_offset_unit_and_reads_back(tmp_path):
    text = "😀 রোগীর জ্বর আছে"
    start = text.index("জ্বর")
    out = dumps([Document(text, [Entity(start, start + 4, "Symptom")]), Document("জ্বর", [Entity(0, 4, "Symptom")])],
                "doccano")
    records = [json.loads(line) for line in out.splitlines()]
    assert records[0]["offset_unit"] == "utf-16" and records[0]["label"] == [[start + 1, start + 5, "Symptom"]]
    assert "offset_unit" not in records[1]
    notes: list[str] = []
    docs = load_documents(write(tmp_path, "ours.jsonl", out), notes=notes)
    assert [spans(d) for d in docs] == [[("জ্বর", "Symptom")]] * 2 and notes == [] and docs[0].metadata == {}


# 7. ragged CSV rows, an empty text column, a merged title row above the header
def test_csv_with_ragged_rows_keeps_its_header_as_header(tmp_path):
    path = write(tmp_path, "ragged.csv", 'id,text,age\n1,"জ্বর আছে, কাশি",30\n2,কাশি\n3,মাথা ব্যথা,40,\n')
    docs = read_file(path)
    assert [(d.text, d.metadata) for d in docs] == [("জ্বর আছে, কাশি", {"id": "1", "age": "30"}),
                                                    ("কাশি", {"id": "2"}), ("মাথা ব্যথা", {"id": "3", "age": "40"})]


def test_an_empty_text_column_is_said_not_replaced_by_another(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["id", "ward", "text"])
    wb.active.append([1, "মেডিসিন ওয়ার্ড", None])  # =CONCAT(...) saved by a tool that computes no values
    wb.active.append([2, "সার্জারি ওয়ার্ড", None])
    wb.save(tmp_path / "formulas.xlsx")
    batch = import_files([tmp_path / "formulas.xlsx"], None)
    assert batch.documents == [] and "'text' is empty in every row" in batch.errors[0]


def test_a_merged_title_row_above_the_header_is_no_document(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["ওয়ার্ড ৩: রোগীর নোট, মার্চ"])
    ws.merge_cells("A1:C1")
    ws.append(["id", "text", "age"])
    ws.append([1, "জ্বর আছে", 30])
    ws.append([2, "কাশি আছে", 40])
    wb.save(tmp_path / "titled.xlsx")
    batch = import_files([tmp_path / "titled.xlsx"], None)
    assert [(d.text, d.metadata) for d in batch.documents] == [("জ্বর আছে", {"id": "1", "age": "30"}),
                                                               ("কাশি আছে", {"id": "2", "age": "40"})]
    assert "title above the header" in batch.report.files[0].skipped[0]


# 8. the app's own Excel export comes back with its entities and reviews
def test_own_excel_export_reads_back_entities_and_review_status(tmp_path):
    from engine.exporting import export_documents

    text = "রোগীর জ্বর আছে, নাপা দিন"
    docs = [Document(text, [Entity(6, 10, "Symptom", assertion="absent"), Entity(16, 20, "Medicine")], name="নোট ১",
                     status="annotated", metadata={"ward": "3"}),
            Document("কাশি আছে", [Entity(0, 4, "Symptom", confidence=0.75)], name="নোট ২", status="suggested"),
            Document("মাথা ঘোরে", [], name="নোট ৩", status="suggested")]
    export_documents(docs, tmp_path / "out.xlsx")
    batch = import_files([tmp_path / "out.xlsx"], None)
    assert batch.errors == [] and batch.report.files[0].skipped == []
    got = [(d.title, d.origin, d.reviewed, d.needs_tagging, d.metadata, [(e.start, e.end, e.label, e.confidence,
                                                                           e.assertion) for e in d.entities])
           for d in batch.documents]
    assert got == [("নোট ১", "human", True, False, {"ward": "3"},
                    [(6, 10, "Symptom", None, "absent"), (16, 20, "Medicine", None, "present")]),
                   ("নোট ২", "model", False, False, {}, [(0, 4, "Symptom", 0.75, "present")]),
                   ("নোট ৩", "model", False, True, {}, [])]


def test_own_excel_export_with_an_edited_entity_says_so(tmp_path):
    from openpyxl import load_workbook

    from engine.exporting import export_documents

    export_documents([Document("জ্বর আছে", [Entity(0, 4, "Symptom")], status="annotated")], tmp_path / "out.xlsx")
    wb = load_workbook(tmp_path / "out.xlsx")
    wb["Entities"]["H2"] = 1  # start moved by hand
    wb.save(tmp_path / "out.xlsx")
    batch = import_files([tmp_path / "out.xlsx"], None)
    assert batch.documents[0].entities == [] and batch.documents[0].reviewed
    assert "do not match the document's text" in batch.report.files[0].skipped[0]


# 9a. Prodigy ner.teach answers are yes/no on one span each
def test_prodigy_binary_answers_come_in_as_suggestions_merged_per_text(tmp_path):
    text = "জ্বর আছে, নাপা দিন"
    lines = [{"text": text, "spans": [{"start": 0, "end": 4, "label": "Symptom", "score": 0.6}], "answer": "accept",
              "_view_id": "ner"},
             {"text": text, "spans": [{"start": 10, "end": 14, "label": "Medicine", "score": 0.9}], "answer": "accept",
              "_view_id": "ner"},
             {"text": text, "spans": [{"start": 5, "end": 8, "label": "Symptom"}], "answer": "reject",
              "_view_id": "ner"},
             {"text": "কাশি", "spans": [{"start": 0, "end": 4, "label": "Symptom"}], "answer": "accept",
              "_view_id": "ner_manual"}]
    notes: list[str] = []
    docs = load_documents(write(tmp_path, "teach.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in lines)),
                          notes=notes)
    assert [(d.status, [(e.label, e.confidence) for e in d.entities]) for d in docs] == [
        ("suggested", [("Symptom", 0.6), ("Medicine", 0.9)]), ("annotated", [("Symptom", None)])]
    assert any("ner.teach" in n and "suggestions" in n for n in notes)


# 9b. Label Studio's CSV/TSV export: the label column holds the regions as JSON
def test_label_studio_csv_label_column_is_read(tmp_path):
    import csv

    with open(tmp_path / "project.csv", "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["annotation_id", "annotator", "created_at", "id", "label", "lead_time", "text", "updated_at"])
        out.writerow([7, 1, "2024-01-01", 1, json.dumps([{"start": 0, "end": 4, "text": "জ্বর", "labels": ["Symptom"]}],
                                                        ensure_ascii=False), 3.5, "জ্বর আছে", "2024-01-01"])
        out.writerow(["", "", "", 2, "", "", "কাশি নেই", ""])
    docs = read_file(tmp_path / "project.csv")
    assert [(d.text, d.origin, d.reviewed, d.needs_tagging, spans(d)) for d in docs] == [
        ("জ্বর আছে", "human", True, False, [("জ্বর", "Symptom")]), ("কাশি নেই", "model", False, True, [])]


# 6. a CoNLL corpus with one unusual tag, and annotated files under names no format claims
def test_conll_corpus_with_one_unusual_tag_is_refused_naming_the_line_not_read_as_a_note(tmp_path):
    lines = [f"word{i}\t{'B-PER' if i % 3 == 0 else 'O'}" for i in range(40)]
    lines[25] = "Dhaka\tB_LOC"  # one tag in another scheme
    for name in ("corpus.txt", "NER-bn-dev"):
        batch = import_files([write(tmp_path, name, "\n".join(lines) + "\n")], None)
        assert batch.documents == [] and f"{name}:26: not an IOB2 tag: 'B_LOC'" in batch.errors[0]


def test_json_and_conll_under_an_unknown_suffix_are_read_as_what_they_hold(tmp_path):
    studio = write(tmp_path, "export.data", json.dumps([{"data": {"text": "জ্বর আছে"}, "annotations": [{"result": [
        {"type": "labels", "value": {"start": 0, "end": 4, "labels": ["Symptom"]}}]}]}], ensure_ascii=False))
    doccano = write(tmp_path, "labels.out", json.dumps({"text": "কাশি আছে", "label": [[0, 4, "Symptom"]]},
                                                      ensure_ascii=False) + "\n")
    healthner = write(tmp_path, "train.dat", json.dumps([{"text": "নাপা দিন", "labels": ["B-Medicine", "O"]}],
                                                        ensure_ascii=False))
    conll = write(tmp_path, "eng.testb", "নাপা\tB-Medicine\nদিন\tO\n")
    batch = import_files([studio, doccano, healthner, conll], None)
    assert batch.errors == []
    assert [(d.text, d.origin, spans(d)) for d in batch.documents] == [
        ("জ্বর আছে", "human", [("জ্বর", "Symptom")]), ("কাশি আছে", "human", [("কাশি", "Symptom")]),
        ("নাপা দিন", "human", [("নাপা", "Medicine")]), ("নাপা দিন", "human", [("নাপা", "Medicine")])]
    note = write(tmp_path, "note.data", "[রোগী] জ্বর আছে, {কাশি}\n")  # brackets in a note: still a note
    [plain] = import_files([note], None).documents
    assert plain.needs_tagging and plain.text.startswith("[রোগী]")
