"""The Excel export as a clinic reads it in LibreOffice (issue 24): a note's whole text shows (its row is as tall
as its wrapped lines, set in the file), and the Summary sheet keeps the patient id an import brought."""

from __future__ import annotations

from openpyxl import load_workbook

from engine.exporting import export, identifies
from engine.formats.tables import LINE_POINTS
from engine.importing import import_files
from engine.storage import NewDocument, Repository

LONG = ("রোগীর বয়স ৪৫ বছর। গত তিন দিন ধরে জ্বর, মাথা ব্যথা ও শুকনো কাশি। ডায়াবেটিস আছে। নাপা ৫০০ মিগ্রা দিনে ৩ বার "
        "এবং অ্যাজিথ্রোমাইসিন ৫০০ মিগ্রা দিনে ১ বার ৫ দিন। রক্ত পরীক্ষা ও বুকের এক্স-রে করতে হবে।\nপ্রয়োজনে মেডিসিন "
        "বিশেষজ্ঞ দেখান।")


def test_a_long_note_gets_a_row_as_tall_as_its_wrapped_lines(tmp_path):
    repo = Repository(tmp_path / "db.sqlite3")
    repo.add_documents([NewDocument("long", LONG, "t"), NewDocument("short", "জ্বর", "t")], origin="model")
    export(repo, tmp_path / "out.xlsx")
    ws = load_workbook(tmp_path / "out.xlsx")["Documents"]
    rows = {row[1].value: row[0].row for row in ws.iter_rows(min_row=2)}
    width = ws.column_dimensions["G"].width - 2
    lines = sum(-(-len(line) // int(width)) for line in LONG.splitlines())
    assert lines >= 3 and ws.row_dimensions[rows["long"]].height == lines * LINE_POINTS
    assert ws.row_dimensions[rows["short"]].height is None  # one line: the default height
    repo.close()


def test_the_summary_sheet_keeps_the_patient_id_of_an_imported_spreadsheet(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Patient ID", "ward", "note"])
    book.active.append(["P-1041", "৩", "রোগীর জ্বর আর কাশি আছে"])
    book.save(tmp_path / "ward.xlsx")
    batch = import_files([tmp_path / "ward.xlsx"], None, text_column="note")
    repo = Repository(tmp_path / "db.sqlite3")
    repo.add_documents([NewDocument(d.title, d.text, d.source, d.entities, metadata=d.metadata)
                        for d in batch.documents], origin="model")
    export(repo, tmp_path / "out.xlsx")
    rows = list(load_workbook(tmp_path / "out.xlsx")["Summary"].iter_rows(values_only=True))
    assert rows[0][:4] == ("document", "title", "reviewed", "Patient ID") and rows[1][3] == "P-1041"
    assert "ward" not in rows[0]  # other details stay on the Documents sheet
    assert all(identifies(f) for f in ("patient id", "MRN", "Reg. No", "রোগী নং"))
    assert not any(identifies(f) for f in ("note", "video", "identity", "title", "row"))
    repo.close()
