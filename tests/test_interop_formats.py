"""Files from other tools (CoNLL corpora, doccano, Label Studio, Prodigy, BRAT, spreadsheets): imported
whole or with every left-out piece reported, and our exports read back identically. No Qt, no model.

Fixtures are written by hand from each format's documentation (small, exact, licence-free).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from engine.exporting import dumps, export_documents
from engine.formats import load_documents
from engine.importing import import_files
from engine.spans import Document, Entity

TYPES = ["Symptom", "Medicine", "Health Condition", "Dosage"]
EMOJI = "😀"


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def spans(doc) -> list[tuple[str, str]]:
    return [(doc.text[e.start:e.end], e.label) for e in doc.entities]


def only(batch, name: str):
    assert batch.errors == [], batch.errors
    return [d for d in batch.documents if Path(d.source).name == name]


# -- CoNLL --------------------------------------------------------------------------------------------------

def test_conll_2003_space_columns_docstart_and_iob1(tmp_path):
    path = write(tmp_path, "eng.train.txt", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\n"
                                            "German JJ B-NP I-MISC\ncall NN I-NP O\n\nPeter NNP B-NP I-PER\n"
                                            "Blackburn NNP I-NP I-PER\n")
    docs = load_documents(path)
    assert [(d.text, spans(d)) for d in docs] == [
        ("EU rejects German call", [("EU", "ORG"), ("German", "MISC")]),
        ("Peter Blackburn", [("Peter Blackburn", "PER")])]


def test_conll_bioes_bilou_io_comments_and_label_studio_columns(tmp_path):
    text = ("# id 7\tdomain=bn\nনাপা -X- _ S-Medicine\nমাথা -X- _ B-Symptom\nব্যথা -X- _ E-Symptom\n\n"
            "a _ _ U-Dosage\nb _ _ B-Dosage\nc _ _ L-Dosage\nd _ _ I-Symptom\ne _ _ I-Symptom\n")
    docs = load_documents(write(tmp_path, "multiconer.iob", text))
    assert [spans(d) for d in docs] == [[("নাপা", "Medicine"), ("মাথা ব্যথা", "Symptom")],
                                        [("a", "Dosage"), ("b c", "Dosage"), ("d e", "Symptom")]]


def test_germeval_numbered_tokens_and_nested_column(tmp_path):
    # GermEval 2014 (written by hand from its description): number, token, outer entity, nested entity
    path = write(tmp_path, "germeval.tsv", "# http://de.wikipedia.org/wiki/X [2009-10-17]\n"
                 "1\tin\tO\tO\n2\tStuttgart\tB-LOC\tO\n3\tDeutschen\tB-ORGpart\tB-LOCderiv\n"
                 "4\tBank\tI-ORGpart\tO\n\n1\tDer\tO\tO\n2\tBerliner\tB-ORG\tB-LOCderiv\n3\tSenat\tI-ORG\tO\n")
    batch = import_files([path], None)
    assert [(d.text, spans(d)) for d in only(batch, "germeval.tsv")] == [
        ("in Stuttgart Deutschen Bank", [("Stuttgart", "LOC"), ("Deutschen Bank", "ORGpart")]),
        ("Der Berliner Senat", [("Berliner Senat", "ORG")])]
    assert batch.report.files[0].skipped == [
        "line 2: 1 nested entity (the last column) not imported; the outer ones are",
        "line 7: 1 nested entity (the last column) not imported; the outer ones are"]


def test_conll_in_txt_and_tsv_is_found_by_content_but_a_note_is_not(tmp_path):
    conll_txt = write(tmp_path, "example.txt", "জ্বর\tB-Symptom\nআছে\tO\n")
    tsv = write(tmp_path, "data.tsv", "জ্বর\tB-Symptom\n")
    note = write(tmp_path, "note.txt", "রোগীর জ্বর আছে O\n")
    batch = import_files([conll_txt, tsv, note], None)
    assert batch.errors == []
    assert [(Path(d.source).name, d.origin, spans(d) if d.origin == "human" else None) for d in batch.documents] == [
        ("example.txt", "human", [("জ্বর", "Symptom")]), ("data.tsv", "human", [("জ্বর", "Symptom")]),
        ("note.txt", "model", None)]


def test_conll_export_has_no_spaces_in_tags_keeps_zwnj_and_reads_back(tmp_path):
    text = "রোগীর ডায়াবেটিস\u200c আছে, নাপা খাবেন"
    napa = text.index("নাপা")
    doc = Document(text, [Entity(6, 16, "Health Condition"), Entity(napa, napa + 4, "Medicine")])
    written = dumps([doc], "conll")
    assert "ডায়াবেটিস\u200c\tB-Health_Condition" in written
    assert all(len(line.split()) == 2 for line in written.splitlines() if line)
    [back] = load_documents(write(tmp_path, "x.conll", written), known_types=TYPES)
    assert "".join(back.text.split()) == "".join(text.split())  # every non-space character, ZWNJ included
    assert spans(back) == [("ডায়াবেটিস\u200c", "Health Condition"), ("নাপা", "Medicine")]
    [foreign] = load_documents(write(tmp_path, "f.conll", "Karim\tB-person_name\n"), known_types=TYPES)
    assert spans(foreign) == [("Karim", "person_name")]


# -- doccano ------------------------------------------------------------------------------------------------

def test_doccano_old_keys_duplicates_and_overlaps_are_reported(tmp_path):
    lines = [{"id": 3, "data": "নাপা খাবেন জ্বর হলে", "label": [[0, 4, "Medicine"], [0, 4, "Medicine"]],
              "meta": {"patient": "P-17"}},
             {"text": "মাথা ব্যথা", "labels": [[0, 10, "Symptom"], [5, 10, "Health Condition"]]}]
    path = write(tmp_path, "doccano-1.5.jsonl", "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    batch = import_files([path], None)
    assert [(spans(d), d.metadata, d.reviewed) for d in only(batch, path.name)] == [
        ([("নাপা", "Medicine")], {"patient": "P-17"}, True), ([("মাথা ব্যথা", "Symptom")], {}, True)]
    [report] = batch.report.files
    assert (report.documents, report.entities, report.suggestions) == (2, 2, 0)
    assert report.skipped == ["line 1: 1 duplicated entity merged",
                              "line 2: entity [5, 10) 'ব্যথা' (Health Condition) overlaps [0, 10) 'মাথা ব্যথা' "
                              "(Symptom); the first was kept, this one not imported"]


def test_utf16_offsets_after_an_emoji_are_converted(tmp_path):
    text = f"{EMOJI} জ্বর আছে"
    line = {"text": text, "label": [[3, 7, "Symptom"]]}  # JavaScript counts the emoji as 2
    [doc] = load_documents(write(tmp_path, "e.jsonl", json.dumps(line, ensure_ascii=False)))
    assert spans(doc) == [("জ্বর", "Symptom")]


# -- Label Studio -------------------------------------------------------------------------------------------

def _region(text: str, start: int, end: int, label: str, **extra) -> dict:
    return {"type": "labels", "from_name": "label", "to_name": "text",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]}, **extra}


def test_label_studio_ground_truth_predictions_unannotated_and_utf16(tmp_path):
    t1 = f"{EMOJI} নাপা খাবেন"
    t2 = "জ্বর ও কাশি"
    t3 = "কোনো টীকা নেই"
    tasks = [
        {"id": 1, "data": {"text": t1, "patient": "P-1"},
         "annotations": [{"id": 10, "completed_by": 1, "result": [_region(t1, 2, 6, "Symptom")]},
                         {"id": 11, "completed_by": 2, "ground_truth": True,
                          "result": [{"type": "labels", "value": {"start": 3, "end": 7, "text": "নাপা",
                                                                  "labels": ["Medicine"]}}]}]},
        {"id": 2, "data": {"text": t2}, "annotations": [],
         "predictions": [{"model_version": "v1", "score": 0.5,
                          "result": [_region(t2, 0, 4, "Symptom", score=0.9), _region(t2, 7, 11, "Symptom")]}]},
        {"id": 3, "data": {"text": t3}},
    ]
    batch = import_files([write(tmp_path, "ls.json", json.dumps(tasks, ensure_ascii=False))], None)
    docs = only(batch, "ls.json")
    assert [(d.origin, d.reviewed, d.needs_tagging) for d in docs] == [("human", True, False), ("model", False, False),
                                                                       ("model", False, True)]
    assert spans(docs[0]) == [("নাপা", "Medicine")] and docs[0].metadata == {"patient": "P-1"}
    assert [(e.label, e.confidence) for e in docs[1].entities] == [("Symptom", 0.9), ("Symptom", 0.5)]
    [report] = batch.report.files
    assert (report.documents, report.entities, report.suggestions) == (3, 1, 2)
    assert report.skipped == ["line 1: 2 annotations; imported the ground-truth one (by 2), not the others"]


def test_label_studio_completions_single_task_json_min_and_other_text_key(tmp_path):
    text = "মাথা ব্যথা"
    old = {"data": {"review": text}, "completions": [{"result": [_region(text, 0, 10, "Symptom")]}]}
    [doc] = load_documents(write(tmp_path, "one.json", json.dumps(old, ensure_ascii=False)))
    assert spans(doc) == [("মাথা ব্যথা", "Symptom")] and doc.status == "annotated"
    json_min = [{"id": 5, "text": text, "label": [{"start": 0, "end": 4, "text": "মাথা", "labels": ["Symptom"]}],
                 "annotator": 1, "annotation_id": 9, "doctor": "Dr. Rahman"}]
    [doc] = load_documents(write(tmp_path, "min.json", json.dumps(json_min, ensure_ascii=False)))
    assert (spans(doc), doc.metadata) == ([("মাথা", "Symptom")], {"doctor": "Dr. Rahman"})


def test_label_studio_overlaps_several_labels_and_drifted_offsets(tmp_path):
    text = "মাথা ব্যথা"
    multi = _region(text, 0, 4, "Symptom")
    multi["value"]["labels"] = ["Symptom", "Health Condition"]
    task = {"data": {"text": text}, "annotations": [{"result": [multi, _region(text, 0, 10, "Symptom"),
                                                                 {"type": "choices", "value": {"choices": ["x"]}}]}]}
    batch = import_files([write(tmp_path, "o.json", json.dumps([task], ensure_ascii=False))], None)
    assert spans(only(batch, "o.json")[0]) == [("মাথা", "Symptom")]
    assert len(batch.report.files[0].skipped) == 3
    drifted = {"data": {"text": text}, "annotations": [{"result": [
        {"type": "labels", "value": {"start": 1, "end": 5, "text": "মাথা", "labels": ["Symptom"]}}]}]}
    batch = import_files([write(tmp_path, "d.json", json.dumps([drifted], ensure_ascii=False))], None)
    assert batch.documents == [] and "is 'াথা ' in the text, but the file says 'মাথা'" in batch.errors[0]


# -- Prodigy ------------------------------------------------------------------------------------------------

def test_prodigy_accept_only_and_rejected_counted(tmp_path):
    rows = [{"text": "নাপা খাবেন", "spans": [{"start": 0, "end": 4, "label": "Medicine"}], "answer": "accept",
             "_input_hash": 1, "meta": {"source": "ward 3"}},
            {"text": "ভুল", "spans": [], "answer": "reject"}, {"text": "বাদ", "spans": [], "answer": "ignore"}]
    path = write(tmp_path, "prodigy.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    batch = import_files([path], None)
    [doc] = only(batch, path.name)
    assert (spans(doc), doc.reviewed, doc.metadata) == ([("নাপা", "Medicine")], True, {"source": "ward 3"})
    assert batch.report.files[0].skipped == ["1 example(s) answered 'reject' in Prodigy not imported (line 2)",
                                             "1 example(s) answered 'ignore' in Prodigy not imported (line 3)"]


# -- round trips through our writers ------------------------------------------------------------------------

def _sample() -> list[Document]:
    return [Document(f"{EMOJI} নাপা ৫০০ মিগ্রা খাবেন", [Entity(2, 6, "Medicine"), Entity(7, 17, "Dosage")],
                     name="ward 3 / bed 1", status="annotated", metadata={"patient": "P-1", "date": "2026-11-25"}),
            Document("মাথা ব্যথা ও জ্বর", [Entity(0, 10, "Symptom", 0.87), Entity(13, 17, "Symptom", 0.42)],
                     name="bed 2", status="suggested", metadata={"patient": "P-2"})]


@pytest.mark.parametrize("fmt,name", [("doccano", "r.jsonl"), ("prodigy", "r.jsonl"), ("labelstudio", "r.json")])
def test_span_formats_round_trip_identically(tmp_path, fmt, name):
    path = tmp_path / name
    export_documents(_sample(), path, fmt=fmt)
    back = load_documents(path, known_types=TYPES)
    assert [(d.text, spans(d), d.name, d.metadata, d.status) for d in back] == \
        [(d.text, spans(d), d.name, d.metadata, d.status) for d in _sample()]
    if fmt != "doccano":  # doccano has no place for a model's scores
        assert [e.confidence for e in back[1].entities] == [0.87, 0.42]


def test_brat_import_pairs_discontinuous_overlaps_and_export_round_trip(tmp_path):
    text = "রোগীর মাথা ব্যথা ও জ্বর"
    write(tmp_path, "n1.txt", text)
    write(tmp_path, "n1.ann", "T1\tSymptom 6 16\tমাথা ব্যথা\nT2\tSymptom 11 16\tব্যথা\n"
                              "T3\tSymptom 19 23;6 10\tজ্বর মাথা\nR1\tCause Arg1:T1 Arg2:T3\n#1\tAnnotatorNotes T1\tok\n")
    batch = import_files([tmp_path / "n1.ann", tmp_path / "n1.txt"], None)
    [doc] = only(batch, "n1.ann")
    assert spans(doc) == [("মাথা ব্যথা", "Symptom"), ("জ্বর", "Symptom")]
    assert len(batch.report.files) == 1 and len(batch.report.files[0].skipped) == 3
    # titles with "/", ":", Bangla and a duplicate: safe, numbered file stems; the manifest keeps the real ones
    sample = _sample() + [Document("জ্বর", [Entity(0, 4, "Symptom")], name="ওয়ার্ড: ৩/বেড", status="annotated"),
                          Document("কাশি", [], name="bed 2", status="unannotated", metadata={"ward": "৩"})]
    out = tmp_path / "brat.zip"
    export_documents(sample, out)
    names = zipfile.ZipFile(out).namelist()
    assert sorted(n for n in names if n.endswith(".txt")) == ["0001-ward_3_bed_1.txt", "0002-bed_2.txt", "0003.txt",
                                                               "0004-bed_2.txt"]
    assert "meder-documents.json" in names and all(n.isascii() for n in names)
    folder = tmp_path / "unzipped"
    zipfile.ZipFile(out).extractall(folder)
    back = [load_documents(p, known_types=TYPES)[0] for p in sorted(folder.glob("*.ann"))]
    assert [(d.text, spans(d), d.name, d.metadata, d.status) for d in back] == \
        [(d.text, spans(d), d.name, d.metadata, d.status) for d in sample]
    assert [e.confidence for e in back[1].entities] == [0.87, 0.42]  # the model's scores of the suggestions
    # the whole unzipped folder chosen (pairs, manifest, annotation.conf): each document once, the manifest not one
    batch = import_files(sorted(folder.iterdir()), None, known_types=TYPES)
    assert [(d.title, d.origin, d.reviewed, d.needs_tagging) for d in batch.documents] == [
        ("ward 3 / bed 1", "human", True, False), ("bed 2", "model", False, False),
        ("ওয়ার্ড: ৩/বেড", "human", True, False), ("bed 2", "model", False, True)]
    assert batch.errors == [] and [(Path(f.path).name, f.documents, f.skipped) for f in batch.report.files
                                   if not f.documents] == [
        ("annotation.conf", 0, ["brat's configuration of the BRAT files beside it (entity types, colours); "
                                "not a document"]),
        ("meder-documents.json", 0, ["the titles and review status of the BRAT files beside it, read with them; "
                                     "not a document"])]
    # without the manifest: a person's annotation titled by its file name
    (folder / "meder-documents.json").unlink()
    [plain] = load_documents(folder / "0002-bed_2.ann", known_types=TYPES)
    assert (plain.name, plain.status, plain.metadata, spans(plain)) == ("0002-bed_2", "annotated", {}, spans(sample[1]))
    assert [e.confidence for e in plain.entities] == [None, None]


def test_webanno_tsv_and_xmi_are_refused_by_name(tmp_path):
    tsv = write(tmp_path, "a.tsv", "#FORMAT=WebAnno TSV 3.3\n#T_SP=webanno.custom.Entity|value\n\n1-1\t0-4\tনাপা\t_\n")
    xmi = write(tmp_path, "a.xmi", '<?xml version="1.0"?><xmi:XMI xmlns:xmi="http://www.omg.org/XMI"/>')
    batch = import_files([tsv, xmi], None)
    assert batch.documents == []
    assert "WebAnno TSV" in batch.errors[0] and "UIMA XMI" in batch.errors[1]
    assert all("INCEpTION" in e for e in batch.errors)


# -- spreadsheets -------------------------------------------------------------------------------------------

def test_csv_without_header_keeps_the_first_note_and_its_commas(tmp_path):
    path = write(tmp_path, "notes.csv", "রোগীর জ্বর, কাশি আছে\nনাপা, সেকলো দেওয়া হয়েছে, দিনে ৩ বার\n")
    batch = import_files([path], None)
    assert [d.text for d in only(batch, "notes.csv")] == ["রোগীর জ্বর, কাশি আছে", "নাপা, সেকলো দেওয়া হয়েছে, দিনে ৩ বার"]


@pytest.mark.parametrize("content,expected", [
    # an id, then an unquoted note whose commas happen to cut every row into the same number of pieces
    ("17,রোগীর পেটে ব্যথা, বমি দুই দিন ধরে, খাবার খেতে পারছেন না\n18,শিশুর বয়স ৫ বছর, জ্বর, কাশি\n",
     [("রোগীর পেটে ব্যথা, বমি দুই দিন ধরে, খাবার খেতে পারছেন না", {"column 1": "17"}),
      ("শিশুর বয়স ৫ বছর, জ্বর, কাশি", {"column 1": "18"})]),
    ("id,note\n1,রোগীর জ্বর, কাশি নেই\nP-2,মাথা ব্যথা, বমি\n3,নাপা খাবেন\n",
     [("রোগীর জ্বর, কাশি নেই", {"id": "1"}), ("মাথা ব্যথা, বমি", {"id": "P-2"}), ("নাপা খাবেন", {"id": "3"})]),
    # a first word and a comma is not an id: the whole note stays one text
    ("রোগী, ৪৫ বছর, জ্বর\nশিশু, ৫ বছর, কাশি\n", [("রোগী, ৪৫ বছর, জ্বর", {}), ("শিশু, ৫ বছর, কাশি", {})]),
])
def test_unquoted_notes_after_an_id_are_never_cut_at_their_commas(tmp_path, content, expected):
    path = write(tmp_path, "ids.csv", content)
    assert [(d.text, d.metadata) for d in only(import_files([path], None), "ids.csv")] == expected


def test_id_column_named_document_is_never_the_text_and_metadata_is_kept(tmp_path):
    path = write(tmp_path, "ward.csv", "document,patient,note\n17,P-1,রোগীর জ্বর আছে\n18,P-2,মাথা ব্যথা\n")
    docs = only(import_files([path], None), "ward.csv")
    assert [(d.text, d.metadata) for d in docs] == [("রোগীর জ্বর আছে", {"document": "17", "patient": "P-1"}),
                                                    ("মাথা ব্যথা", {"document": "18", "patient": "P-2"})]
    batch = import_files([path], None, text_column="document")
    assert batch.documents == [] and "holds numbers" in batch.errors[0]


def test_own_excel_export_reimports_documents_with_titles_and_metadata(tmp_path):
    out = tmp_path / "export.xlsx"
    export_documents(_sample(), out)
    docs = only(import_files([out], None), "export.xlsx")
    assert [(d.title, d.text) for d in docs] == [(d.name, d.text) for d in _sample()]
    wb = Workbook()  # a Documents sheet with a column of the clinic's own: kept as metadata
    wb.active.title = "Entities"
    wb.active.append(["document", "entity text", "type"])
    wb.active.append([1, "জ্বর", "Symptom"])
    sheet = wb.create_sheet("Documents")
    sheet.append(["document", "title", "reviewed", "text", "patient"])
    sheet.append([1, "bed 4", "no", "রোগীর জ্বর", "P-4"])
    buf = io.BytesIO()
    wb.save(buf)
    [doc] = only(import_files([write(tmp_path, "own.xlsx", buf.getvalue())], None), "own.xlsx")
    assert (doc.title, doc.text, doc.metadata) == ("bed 4", "রোগীর জ্বর", {"patient": "P-4"})


def test_the_sheet_with_the_longest_texts_is_read(tmp_path):
    wb = Workbook()
    wb.active.title = "ids"
    wb.active.append(["id", "ward"])
    wb.active.append(["1", "A"])
    notes = wb.create_sheet("notes")
    notes.append(["text"])
    notes.append(["রোগীর জ্বর ও কাশি আছে"])
    buf = io.BytesIO()
    wb.save(buf)
    path = write(tmp_path, "book.xlsx", buf.getvalue())
    assert [d.text for d in only(import_files([path], None), "book.xlsx")] == ["রোগীর জ্বর ও কাশি আছে"]


def test_ods_and_xls_say_how_to_convert(tmp_path):
    batch = import_files([write(tmp_path, "a.ods", b"PK\x03\x04"), write(tmp_path, "b.xls", b"\xd0\xcf\x11\xe0")],
                         None)
    assert len(batch.errors) == 2 and all("save it as .xlsx or .csv" in e for e in batch.errors)
