"""Every input that used to crash a batch import is now one clear error, and the rest of the batch goes on.

Each test puts the bad file between two good ones: ``import_files([good, bad, good])`` must return both
good files' documents and one error naming the bad file (and line when known), raising nothing.
"""

from __future__ import annotations

import json
import os
import re
import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from engine.importing import MAX_DOCUMENT_CHARS, import_files
from engine.limits import MAX_FILE_BYTES, MAX_JSON_DEPTH
from engine.storage import Repository

NOTE = "রোগীর জ্বর ও কাশি। নাপা ৫০০ মিগ্রা খেতে বলা হয়েছে।"


def good_files(tmp_path: Path) -> tuple[Path, Path]:
    first = tmp_path / "good-first.txt"
    first.write_text(NOTE, encoding="utf-8")
    last = tmp_path / "good-last.jsonl"
    last.write_text(json.dumps({"text": "নাপা খাবেন", "label": [[0, 4, "Medicine"]]}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return first, last


def import_between_good(tmp_path: Path, bad: Path, **kwargs):
    """Import [good, bad, good]; check the good documents arrived and return the batch."""
    first, last = good_files(tmp_path)
    batch = import_files([first, bad, last], None, **kwargs)
    sources = [Path(d.source).name for d in batch.documents]
    assert sources[0] == first.name and sources[-1] == last.name, batch.errors
    return batch


def single_error(batch, name: str) -> str:
    assert len(batch.errors) == 1, batch.errors
    assert name in batch.errors[0]
    assert not any(Path(d.source).name == name for d in batch.documents)  # a file is imported whole or not at all
    return batch.errors[0]


def rewrite_zip_member(path: Path, member: str, data: bytes | None, *, compress: int = zipfile.ZIP_DEFLATED) -> None:
    """Replace (or, with None, remove) one part of a zip file, keeping the others as they are."""
    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    if data is None:
        del parts[member]
    else:
        parts[member] = data
    with zipfile.ZipFile(path, "w", compress) as zf:
        for name, body in parts.items():
            zf.writestr(name, body)


def workbook(path: Path, rows: list[list[object]]) -> Path:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    return path


# -- CSV ---------------------------------------------------------------------------------------------

def test_csv_cells_longer_than_pythons_default_limit_import(tmp_path):
    bad = tmp_path / "long-cell.csv"  # 200,000 characters: Python's csv refuses > 131,072 by default
    long_note = ("জ্বর " * 40_000).strip()
    bad.write_text(f"id,text\n1,\"{long_note}\"\n2,কাশি\n", encoding="utf-8")
    batch = import_between_good(tmp_path, bad)
    assert not batch.errors
    assert [d.text for d in batch.documents if d.source.endswith(".csv")] == [long_note, "কাশি"]


def test_csv_cell_over_the_document_limit_names_its_line(tmp_path):
    bad = tmp_path / "huge-cell.csv"
    bad.write_text("id,text\n1,ok\n2,\"" + "x" * (MAX_DOCUMENT_CHARS + 1) + "\"\n", encoding="utf-8")
    message = single_error(import_between_good(tmp_path, bad), "huge-cell.csv")
    assert f"huge-cell.csv:3: a cell is longer than {MAX_DOCUMENT_CHARS:,} characters" in message


def test_csv_with_cr_only_line_ends_imports_every_row(tmp_path):
    mac = tmp_path / "excel-mac.csv"  # Excel for Mac's "CSV (Macintosh)"
    mac.write_bytes("id,text\r1,রোগীর জ্বর\r2,\"কাশি\rআছে\"\r3,নাপা খাই\r".encode())
    batch = import_between_good(tmp_path, mac)
    assert not batch.errors
    rows = [(d.title, d.text) for d in batch.documents if d.source.endswith(".csv")]
    assert rows == [("excel-mac.csv row 2", "রোগীর জ্বর"), ("excel-mac.csv row 3", "কাশি\rআছে"),
                    ("excel-mac.csv row 5", "নাপা খাই")]


# -- XLSX --------------------------------------------------------------------------------------------

def test_xlsx_reads_every_row_whatever_its_dimension_says(tmp_path):
    path = workbook(tmp_path / "stale.xlsx", [["id", "note"]] + [[i, f"রোগী {i}: জ্বর"] for i in range(1, 13)])
    with zipfile.ZipFile(path) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    stale = re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:B5"', sheet)
    assert stale != sheet
    rewrite_zip_member(path, "xl/worksheets/sheet1.xml", stale.encode())
    batch = import_between_good(tmp_path, path)
    texts = [d.text for d in batch.documents if d.source.endswith(".xlsx")]
    assert texts == [f"রোগী {i}: জ্বর" for i in range(1, 13)] and not batch.errors


@pytest.mark.parametrize("member, damage", [
    ("xl/worksheets/sheet1.xml", lambda xml: xml.replace(b"</sheetData>", b"<row><c>")),  # malformed XML
    ("xl/worksheets/sheet1.xml", lambda xml: xml[: len(xml) // 2]),  # cut in the middle
    ("[Content_Types].xml", lambda xml: xml.replace(b"<Override", b"<Override x=", 1)),
    ("xl/workbook.xml", lambda xml: b"<not-a-workbook"),
    ("xl/styles.xml", lambda xml: xml.replace(b"<", b"<<", 3)),
])
def test_xlsx_with_damaged_xml_in_any_part_is_an_error(tmp_path, member, damage):
    path = workbook(tmp_path / "damaged.xlsx", [["text"], ["জ্বর"], ["কাশি"]])
    with zipfile.ZipFile(path) as zf:
        xml = zf.read(member)
    rewrite_zip_member(path, member, damage(xml))
    message = single_error(import_between_good(tmp_path, path), "damaged.xlsx")
    assert "not a readable .xlsx workbook" in message


def test_xlsx_with_a_bad_deflate_stream_is_an_error(tmp_path):
    path = workbook(tmp_path / "deflate.xlsx", [["text"]] + [[f"নোট {i} জ্বর কাশি"] for i in range(200)])
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    raw = bytearray(path.read_bytes())
    data_start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(data_start + 20, data_start + 60):  # scramble the compressed bytes, not the headers
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    message = single_error(import_between_good(tmp_path, path), "deflate.xlsx")
    assert "not a readable .xlsx workbook" in message


def test_xlsx_shared_string_cell_without_shared_strings_is_an_error(tmp_path):
    path = workbook(tmp_path / "nostrings.xlsx", [["text"], ["জ্বর আছে"]])
    with zipfile.ZipFile(path) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    shared = re.sub(r't="inlineStr"><is><t>[^<]*</t></is>', 't="s"><v>7</v>', sheet)  # a string table it lacks
    assert shared != sheet
    rewrite_zip_member(path, "xl/worksheets/sheet1.xml", shared.encode())
    message = single_error(import_between_good(tmp_path, path), "nostrings.xlsx")
    assert "not a readable .xlsx workbook" in message


def test_xlsx_with_a_huge_cell_is_refused_quickly(tmp_path):
    path = workbook(tmp_path / "bomb.xlsx", [["text"], ["PLACEHOLDER"]])
    with zipfile.ZipFile(path) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml")
    rewrite_zip_member(path, "xl/worksheets/sheet1.xml", sheet.replace(b"PLACEHOLDER", b"a" * 50_000_000))
    assert path.stat().st_size < 300_000  # 50 million characters in a small file
    began = time.perf_counter()
    message = single_error(import_between_good(tmp_path, path), "bomb.xlsx")
    assert time.perf_counter() - began < 10
    assert f"a cell is longer than {MAX_DOCUMENT_CHARS:,} characters" in message


def test_xlsx_that_unpacks_too_large_is_refused_before_parsing(tmp_path):
    path = workbook(tmp_path / "big.xlsx", [["text"], ["জ্বর"]])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/media/padding.bin", b"\0" * (MAX_FILE_BYTES + 1))
    message = single_error(import_between_good(tmp_path, path), "big.xlsx")
    assert "the workbook unpacks to" in message


def test_xlsx_whose_zip_understates_a_part_cannot_get_past_the_size_check(tmp_path):
    path = workbook(tmp_path / "liar.xlsx", [["text"]] + [[f"নোট {i} জ্বর কাশি"] for i in range(300)])
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
        true_size = info.file_size
    # declare the part's uncompressed size as 100 bytes, in its local header and the central directory
    needle = true_size.to_bytes(4, "little")
    raw = path.read_bytes()
    assert raw.count(needle) >= 2
    path.write_bytes(raw.replace(needle, (100).to_bytes(4, "little")))
    message = single_error(import_between_good(tmp_path, path), "liar.xlsx")
    assert "not a readable .xlsx workbook" in message


# -- JSON and tags -----------------------------------------------------------------------------------

def test_json_nested_a_thousand_deep_is_a_clear_error(tmp_path):
    bad = tmp_path / "deep.json"
    bad.write_text("[" * 1000 + "]" * 1000, encoding="utf-8")
    message = single_error(import_between_good(tmp_path, bad), "deep.json")
    assert f"nested more than {MAX_JSON_DEPTH} levels deep" in message
    deep_line = tmp_path / "deep.jsonl"
    deep_line.write_text('{"text": "জ্বর", "label": []}\n' + '{"a":' * 5000 + "1" + "}" * 5000 + "\n")
    message = single_error(import_between_good(tmp_path, deep_line), "deep.jsonl")
    assert f"deep.jsonl:2: the JSON is nested more than {MAX_JSON_DEPTH}" in message


def test_brackets_inside_json_strings_do_not_count_as_nesting(tmp_path):
    path = tmp_path / "brackets.jsonl"
    text = "[[[[" * 100 + " জ্বর"
    path.write_text(json.dumps({"text": text, "label": [[401, 405, "Symptom"]]}, ensure_ascii=False) + "\n")
    batch = import_between_good(tmp_path, path)
    assert not batch.errors and [d.text for d in batch.documents if d.source.endswith("brackets.jsonl")] == [text]


@pytest.mark.parametrize("name, body", [
    ("b-o.json", [{"text": "নাপা খাই", "labels": ["B-O", "O"]}]),
    ("i-o.json", [{"text": "নাপা খাই", "labels": ["O", "I-O"]}]),
    ("surrogate.json", [{"text": "নাপা খাই", "labels": ["B-\ud83d", "O"]}]),
    ("escape.json", [{"text": "নাপা খাই", "labels": ["B-Medi\x1bcine", "O"]}]),
])
def test_bad_tags_in_healthner_are_errors(tmp_path, name, body):
    bad = tmp_path / name
    bad.write_text(json.dumps(body), encoding="utf-8")  # ensure_ascii: the lone surrogate stays an escape
    message = single_error(import_between_good(tmp_path, bad), name)
    assert f"{name}:1: not an IOB2 tag" in message


def test_bad_tags_in_conll_are_errors(tmp_path):
    bad = tmp_path / "tags.conll"
    bad.write_text("নাপা\tB-Medicine\nখাই\tO\n\nজ্বর\tI-O\n", encoding="utf-8")
    message = single_error(import_between_good(tmp_path, bad), "tags.conll")
    assert "tags.conll:4: not an IOB2 tag: 'I-O'" in message


@pytest.mark.parametrize("label", ["Medi\x00cine", "Medi\ncine", "Medi\tcine", "\x1b[31mMedicine", "\udcff",
                                   " Medicine", "O", "B-Medicine"])
def test_entity_type_names_that_exports_could_not_carry_are_refused(tmp_path, label):
    bad = tmp_path / "types.jsonl"
    bad.write_text(json.dumps({"text": "নাপা খাই", "label": [[0, 4, label]]}) + "\n", encoding="utf-8")
    message = single_error(import_between_good(tmp_path, bad), "types.jsonl")
    assert "types.jsonl:1: entity type must be a type name" in message


@pytest.mark.parametrize("span", [[True, 4, "Medicine"], [0, True, "Medicine"], [False, 4, "Medicine"],
                                  [0.0, 4, "Medicine"], ["0", 4, "Medicine"], [0, 99, "Medicine"],
                                  [3, 3, "Medicine"], [-1, 4, "Medicine"]])
def test_offsets_must_be_whole_numbers_inside_the_text(tmp_path, span):
    bad = tmp_path / "offsets.jsonl"
    bad.write_text(json.dumps({"text": "নাপা খাই", "label": [span]}) + "\n", encoding="utf-8")
    message = single_error(import_between_good(tmp_path, bad), "offsets.jsonl")
    assert "offsets.jsonl:1: span" in message


def test_spans_are_trimmed_and_a_span_of_only_spaces_is_refused(tmp_path):
    path = tmp_path / "spaces.jsonl"
    path.write_text(json.dumps({"text": "নাপা  খাই ", "label": [[0, 5, "Medicine"], [5, 10, "Symptom"]]},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    batch = import_between_good(tmp_path, path)
    doc = next(d for d in batch.documents if d.source.endswith("spaces.jsonl"))
    assert [(doc.text[e.start:e.end], e.label) for e in doc.entities] == [("নাপা", "Medicine"), ("খাই", "Symptom")]
    blank = tmp_path / "blank.jsonl"
    blank.write_text(json.dumps({"text": "নাপা  খাই", "label": [[4, 6, "Medicine"]]}, ensure_ascii=False) + "\n")
    message = single_error(import_between_good(tmp_path, blank), "blank.jsonl")
    assert "blank.jsonl:1: entity [4, 6) (Medicine) covers only spaces" in message


def test_label_studio_region_text_must_match_its_offsets(tmp_path):
    def task(start, end, said):
        return {"data": {"text": "রোগী নাপা খাবেন"}, "annotations": [{"result": [
            {"type": "labels", "value": {"start": start, "end": end, "text": said, "labels": ["Medicine"]}}]}]}

    good = tmp_path / "ls.json"
    good.write_text(json.dumps([task(5, 10, "নাপা ")], ensure_ascii=False), encoding="utf-8")
    batch = import_between_good(tmp_path, good)
    doc = next(d for d in batch.documents if d.source.endswith("ls.json"))
    assert [doc.text[e.start:e.end] for e in doc.entities] == ["নাপা"] and not batch.errors
    shifted = tmp_path / "shifted.json"
    shifted.write_text(json.dumps([task(6, 10, "নাপা")], ensure_ascii=False), encoding="utf-8")
    message = single_error(import_between_good(tmp_path, shifted), "shifted.json")
    assert "the file says 'নাপা'" in message


# -- text files, names, storage -----------------------------------------------------------------------

def test_text_over_the_document_limit_is_refused(tmp_path):
    bad = tmp_path / "long.txt"
    bad.write_text("a" * (MAX_DOCUMENT_CHARS + 1), encoding="utf-8")
    message = single_error(import_between_good(tmp_path, bad), "long.txt")
    assert f"at most {MAX_DOCUMENT_CHARS:,}" in message


def test_non_utf8_file_names_are_stored_visibly(tmp_path):
    raw_dir = os.fsencode(tmp_path)
    name = os.fsdecode(raw_dir + b"/note-\xff\xfe.txt")  # a name from an old Windows-1252 USB stick
    Path(name).write_text(NOTE, encoding="utf-8")
    batch = import_between_good(tmp_path, Path(name))
    assert not batch.errors
    repo = Repository(tmp_path / "db.sqlite3")
    repo.add_documents([(d.title, d.text, d.source, d.entities) for d in batch.documents], origin="model")
    titles = {d.title for d in repo.documents()}
    repo.close()
    assert "note-\ufffd\ufffd" in titles


def test_a_failing_file_name_in_an_error_is_storable(tmp_path):
    name = os.fsdecode(os.fsencode(tmp_path) + b"/bad-\xff.json")
    Path(name).write_text("[{", encoding="utf-8")
    message = single_error(import_between_good(tmp_path, Path(name)), "bad-\ufffd.json")
    message.encode("utf-8")  # no lone surrogates left: a dialog or a log can show it


# -- the window -----------------------------------------------------------------------------------------

def test_window_imports_a_batch_with_a_damaged_table_and_lists_the_errors(open_window, qtbot, tmp_path, monkeypatch):
    """The "which sheet and column?" dialog reads the tables off the UI thread; damaged files become a list."""
    from PySide6.QtWidgets import QComboBox, QLabel, QMessageBox


    table = tmp_path / "notes.csv"
    table.write_text("id,note\n1,রোগীর জ্বর\n2,নাপা খাই\n", encoding="utf-8")
    damaged = workbook(tmp_path / "damaged.xlsx", [["note"], ["কাশি"]])
    rewrite_zip_member(damaged, "xl/workbook.xml", b"<not-a-workbook")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 1000 + "]" * 1000, encoding="utf-8")
    first, last = good_files(tmp_path)
    warnings = []

    def answer_choices():
        qtbot.waitUntil(lambda: window.import_choices_dialog is not None
                        and window.import_choices_dialog.isVisible(), timeout=20000)
        dialog, window.import_choices_dialog = window.import_choices_dialog, None
        rows = []  # per file: its column names and the one chosen, or why it cannot be read
        for n in range(len(dialog.rows)):
            column, problem = dialog.findChild(QComboBox, f"column_{n}"), dialog.findChild(QLabel, f"problem_{n}")
            rows.append(problem.text() if problem is not None
                        else ([column.itemText(i) for i in range(column.count())], column.currentIndex()))
        dialog.accept()
        return rows

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text: warnings.append(text)))
    repo = Repository(tmp_path / "meder.sqlite3")
    window = open_window(repo, tmp_path)
    window.import_files([first, table, damaged, deep, last])
    [table_row, damaged_row] = answer_choices()
    assert table_row == (["id", "note"], 1)
    assert damaged_row.startswith("cannot be read: not a readable .xlsx workbook")
    qtbot.waitUntil(lambda: bool(warnings), timeout=30000)
    titles = sorted(d.title for d in repo.documents())
    assert titles == sorted(["good-first", "good-last.jsonl #1", "notes.csv row 2", "notes.csv row 3"])
    assert "2 file(s) could not be read" in warnings[0]
    assert "skipped: " + str(damaged) + ": not a readable .xlsx workbook" in warnings[0]
    assert "skipped: " + str(deep) + ": the JSON is nested more than" in warnings[0]
    window.import_files([damaged, table])  # the damaged file is only listed: no choice to make for it
    assert answer_choices()[1] == (["id", "note"], 1)
    qtbot.waitUntil(lambda: len(warnings) == 2, timeout=30000)
    assert "1 file(s) could not be read" in warnings[1] and "damaged.xlsx" in warnings[1]
    assert repo.counts()["documents"] == 4  # the table's two rows are already stored: skipped, not doubled
    repo.close()
