"""The format registry: a format registered in one place is detected, imported, offered by both file dialogs and
the Export menu, and written by ``extract``; each file is read from disk once."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.formats import registry
from engine.formats.registry import Format, ReadOptions, Source, WriteOptions
from engine.spans import Document, Entity

MAGIC = "TOY-NOTES 1\n"


def _sniff(source: Source) -> float:
    if source.suffix == ".toy":
        return 0.9
    return 0.75 if source.head().startswith(MAGIC) else 0.0  # found by content under any other name


def _read(source: Source, options: ReadOptions) -> list[Document]:
    docs = []
    for number, line in enumerate(source.text().splitlines()[1:], start=2):
        text, _, label = line.partition("|")
        entities = [Entity(0, len(text.split()[0]), label)] if label else []
        docs.append(Document(text, entities, line=number, status="annotated" if label else "unannotated"))
    return docs


def _dumps(docs: list[Document], options: WriteOptions) -> str:
    return MAGIC + "".join(f"{d.text}|{d.entities[0].label if d.entities else ''}\n" for d in docs)


@pytest.fixture
def toy():
    fmt = registry.register(Format("toy", "Toy notes", (".toy",), _sniff, _read, dumps=_dumps,
                                   menu="Export reviewed as toy notes…"))
    yield fmt
    registry.unregister("toy")


def test_a_registered_format_is_detected_read_and_written_everywhere(toy, tmp_path):
    from engine.exporting import export_documents
    from engine.importing import import_files

    named = tmp_path / "a.toy"
    named.write_text(MAGIC + "জ্বর আছে|Symptom\nকাশি নেই|\n", encoding="utf-8")
    unnamed = tmp_path / "b.data"
    unnamed.write_text(MAGIC + "নাপা দিন|Medicine\n", encoding="utf-8")
    assert registry.guess(Source(named)) is toy and registry.guess(Source(unnamed)) is toy
    batch = import_files([named, unnamed], None)
    assert batch.errors == []
    assert [(d.text, d.origin, d.needs_tagging, [e.label for e in d.entities]) for d in batch.documents] == [
        ("জ্বর আছে", "human", False, ["Symptom"]), ("কাশি নেই", "model", True, []),
        ("নাপা দিন", "human", False, ["Medicine"])]
    assert ".toy" in registry.import_suffixes() and toy in registry.writers()
    export_documents([Document("জ্বর আছে", [Entity(0, 4, "Symptom")])], tmp_path / "out.toy")
    assert (tmp_path / "out.toy").read_text(encoding="utf-8") == MAGIC + "জ্বর আছে|Symptom\n"


def test_extract_writes_and_names_a_registered_format(toy, tmp_path, capsys):
    from app.extract import extract, output_help

    source = tmp_path / "a.toy"
    source.write_text(MAGIC + "জ্বর আছে|Symptom\n", encoding="utf-8")
    assert extract(None, [source], tmp_path / "out.toy") == 0
    assert (tmp_path / "out.toy").read_text(encoding="utf-8") == MAGIC + "জ্বর আছে|Symptom\n"
    assert ".toy Toy notes" in output_help()


def test_the_window_offers_a_registered_format_in_both_dialogs_and_the_export_menu(toy, window, tmp_path,
                                                                                   monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    asked = []  # the filters the window hands to the (native, not drivable) file dialogs
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a: asked.append(a[3]) or ([], ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: asked.append(a[3]) or ("", ""))
    window.import_dialog()
    entry = next(a for a in window.menuBar().actions()[0].menu().actions() if a.text() == toy.menu)
    entry.trigger()
    assert "*.toy" in asked[0] and asked[1] == "Toy notes (*.toy)"


def test_a_workbook_is_read_from_disk_once_and_a_csv_never_whole(tmp_path, monkeypatch):
    """One Source for the dialog and the import: a workbook's bytes are read once; a CSV (up to 100 MB) is read a
    line at a time, as far as each look needs, and never held whole."""
    from engine.importing import read_file

    path = tmp_path / "notes.csv"
    path.write_text("id,text\n1,জ্বর আছে\n2,কাশি আছে\n", encoding="utf-8")
    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self.name) or real(self))
    source = Source(path)
    from engine.importing import table_layout

    assert table_layout(source).header == ["id", "text"]  # the spreadsheet dialog's look
    assert [d.text for d in read_file(source)] == ["জ্বর আছে", "কাশি আছে"]  # then the import, same source
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["id", "text"])
    wb.active.append([1, "জ্বর আছে"])
    wb.save(tmp_path / "notes.xlsx")
    workbook = Source(tmp_path / "notes.xlsx")
    assert table_layout(workbook).header == ["id", "text"]
    assert [d.text for d in read_file(workbook)] == ["জ্বর আছে"]
    assert reads == ["notes.xlsx"]


def test_register_refuses_a_second_format_of_one_name(toy):
    with pytest.raises(ValueError, match="registered already"):
        registry.register(Format("toy", "Again", (".toy",), _sniff, _read))
