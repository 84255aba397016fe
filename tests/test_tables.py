import pytest
from openpyxl import Workbook, load_workbook

from engine.errors import FormatError
from engine.formats.tables import table_texts, write_workbook


def test_csv_and_xlsx_rows_become_texts(tmp_path):
    csv_path = tmp_path / "notes.csv"
    csv_path.write_text("id;note\n1;জ্বর আছে\n2;\n3;নাপা খাই\n", encoding="utf-8-sig")
    assert table_texts(csv_path) == [(2, "জ্বর আছে"), (4, "নাপা খাই")]
    wb = Workbook()
    wb.active.append(["id", "lekha"])
    wb.active.append([1, "মাথা ব্যথা"])
    xlsx = tmp_path / "notes.xlsx"
    wb.save(xlsx)
    assert table_texts(xlsx, "lekha") == [(2, "মাথা ব্যথা")]
    with pytest.raises(FormatError, match="no column named 'text'"):
        table_texts(xlsx, "text")


def test_corrupt_xlsx_and_textless_csv(tmp_path):
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(FormatError, match="broken.xlsx: not a readable .xlsx"):
        table_texts(bad)
    empty = tmp_path / "nums.csv"
    empty.write_text("a,b\n,\n", encoding="utf-8")
    with pytest.raises(FormatError, match="no column with text"):
        table_texts(empty)


def test_excel_export_keeps_formula_like_text_as_text(tmp_path):
    path = tmp_path / "out.xlsx"
    evil = ["=HYPERLINK(\"http://x\")", "+1+2", "-3", "@SUM(A1)", "\tx", "\rx"]
    entities = [{"document": 1, "entity text": t, "type": "Medicine", "start": 0, "end": 3, "confidence": 0.5,
                 "source": "model", "reviewed": "no"} for t in evil]
    entities.append({"document": 1, "entity text": "নাপা", "type": "Medicine", "start": 4, "end": 8})
    write_workbook(path, [{"document": 1, "title": "=cmd", "text": "নাপা খাই"}], entities)
    wb = load_workbook(path)
    ws = wb["Entities"]
    assert [c.value for c in ws[1]][:4] == ["document", "title", "entity text", "type"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref and ws["A1"].font.bold
    texts = [ws.cell(row=r, column=3) for r in range(2, 2 + len(evil) + 1)]
    # a CR is written as Excel's escape _x000D_ (raw, XML would read it back as nothing); the rest exactly
    assert [c.value for c in texts] == [t.replace("\r", "_x000D_") for t in evil] + ["নাপা"]
    assert all(c.data_type == "s" for c in texts)
    assert wb["Documents"]["B2"].value == "=cmd" and wb["Documents"]["B2"].data_type == "s"


def test_excel_export_survives_control_characters_and_huge_texts(tmp_path):
    path = tmp_path / "out.xlsx"
    pasted = "জ্বর\x0cকাশি\x00 নাপা"  # a form feed and a NUL, as text copied from a PDF can carry
    huge = "মাথা ব্যথা " * 5000  # 55,000 characters: more than an Excel cell holds
    write_workbook(path, [{"document": 1, "text": pasted}, {"document": 2, "text": huge}],
                   [{"document": 1, "entity text": "নাপা", "start": 11, "end": 15}])
    docs = load_workbook(path)["Documents"]
    assert docs["G2"].value == "জ্বর কাশি  নাপা" and docs["G2"].value[11:15] == "নাপা"  # offsets still fit
    assert len(docs["G3"].value) <= 32767 and docs["G3"].value.startswith(huge[:1000])
    assert "55,000 characters" in docs["G3"].value


def test_csv_delimiter_comes_from_the_header(tmp_path):
    one_column = tmp_path / "one.csv"  # notes full of commas, one column
    one_column.write_text("text\nরোগীর জ্বর, কাশি আছে\nনাপা, সেকলো দেওয়া হয়েছে\n", encoding="utf-8")
    assert [t for _, t in table_texts(one_column)] == ["রোগীর জ্বর, কাশি আছে", "নাপা, সেকলো দেওয়া হয়েছে"]
    semicolon = tmp_path / "semi.csv"  # Excel in many locales; a quoted cell spanning two lines
    semicolon.write_bytes("id;text\r\n1;রোগীর জ্বর\r\n2;\"কাশি\r\nআছে\"\r\n".encode())
    assert [t for _, t in table_texts(semicolon, "text")] == ["রোগীর জ্বর", "কাশি\r\nআছে"]


def test_csv_of_blank_cells_is_a_clear_error(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text(",,\n , \n", encoding="utf-8")
    with pytest.raises(FormatError, match="no rows with text"):
        table_texts(path)


def test_excel_export_drops_characters_xml_cannot_hold(tmp_path):
    path = tmp_path / "out.xlsx"
    write_workbook(path, [{"document": 1, "text": "নাপা\uffffখান\ufffe"}], [])
    assert load_workbook(path)["Documents"]["G2"].value == "নাপা খান "


def test_excel_export_keeps_windows_line_ends_so_offsets_stay_right(tmp_path):
    from engine.exporting import export
    from engine.spans import Entity
    from engine.storage import Repository

    text = "রোগী: করিম\r\nসমস্যা: জ্বর ও কাশি\r\n"
    start = text.index("জ্বর")
    repo = Repository(tmp_path / "db.sqlite3")
    repo.add_documents([("note", text, "test", [Entity(start, start + 4, "Symptom")])], origin="human")
    export(repo, tmp_path / "out.xlsx")
    wb = load_workbook(tmp_path / "out.xlsx")
    cell = wb["Documents"]["G2"].value
    assert cell.replace("_x000D_", "\r") == text  # Excel's own escape for CR; a raw CR would vanish in the XML
    entity_row = [c.value for c in wb["Entities"][2]]
    assert entity_row[2] == "জ্বর" and (entity_row[7], entity_row[8]) == (start, start + 4)
    # our own reader turns the escape back into the stored text
    wb.move_sheet("Documents", offset=-1)
    wb.save(tmp_path / "documents-first.xlsx")
    texts = dict(table_texts(tmp_path / "documents-first.xlsx", "text"))
    assert list(texts.values()) == [text]  # the whole note: offsets into it stay right
