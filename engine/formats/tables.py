"""Spreadsheets: import rows of .csv/.xlsx as documents; export entities to Excel.

Exported text that Excel could read as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or CR) is written as a string cell with Excel's quote
prefix, so it is shown as text and never evaluated.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

from engine.errors import FormatError
from engine.formats import read_text_file

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXCEL_CELL_LIMIT = 32767
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")  # what xlsx XML cannot carry


def read_table(path: str | Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the first sheet of a .xlsx, or of a .csv (delimiter sniffed)."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        return _read_xlsx(path)
    text = read_text_file(path)
    if not text.strip():
        raise FormatError(path, "the file is empty")
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=_delimiter(text)) if any(c.strip() for c in row)]
    if not rows:
        raise FormatError(path, "the file has no rows with text")
    return [c.strip() for c in rows[0]], rows[1:]


def _delimiter(text: str) -> str:
    """The delimiter is the one the header line uses (tab, semicolon or comma).

    Notes are full of commas, so guessing from the body (csv.Sniffer) splits the text column of a
    one-column file, and fails on quoted multi-line cells; a header names its columns plainly.
    """
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    counts = {d: header.count(d) for d in ("\t", ";", ",")}
    best = max(counts, key=counts.get)
    return best if counts[best] else "\x1f"  # one column: a separator that text never holds


def _read_xlsx(path: Path) -> tuple[list[str], list[list[str]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FormatError(path, f"not a readable .xlsx workbook ({exc.__class__.__name__})") from None
    try:
        rows = [["" if v is None else str(v) for v in row] for row in wb.worksheets[0].iter_rows(values_only=True)]
    finally:
        wb.close()
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise FormatError(path, "the first sheet is empty")
    return [c.strip() for c in rows[0]], rows[1:]


def guess_text_column(header: list[str], rows: list[list[str]]) -> int | None:
    """The column named like text/note, else the one with the most letters; None if no text."""
    for i, name in enumerate(header):
        if name.lower() in ("text", "note", "notes", "document", "লেখা", "নোট"):
            return i
    lengths = [sum(ch.isalpha() for r in rows if i < len(r) for ch in r[i]) for i in range(len(header))]
    if not lengths or max(lengths) == 0:
        return None
    return max(range(len(lengths)), key=lengths.__getitem__)


def table_texts(path: str | Path, column: str | int | None = None) -> list[tuple[int, str]]:
    """``(line, text)`` for each non-empty row's text column (by name, index or guessed)."""
    header, rows = read_table(path)
    if isinstance(column, str):
        if column not in header:
            raise FormatError(path, f"no column named {column!r}; columns are {header}")
        index = header.index(column)
    elif column is None:
        index = guess_text_column(header, rows)
        if index is None:
            raise FormatError(path, "no column with text found")
    else:
        index = column
    return [(n + 2, r[index].strip()) for n, r in enumerate(rows) if index < len(r) and r[index].strip()]


def safe_cell(value: object) -> tuple[object, bool]:
    """(value, needs_quote_prefix): text that Excel would treat as a formula is kept as text.

    Control characters that a worksheet cannot hold (a form feed pasted from a PDF, say) become spaces,
    so character offsets into the text stay right; text past Excel's cell limit is cut with a note.
    """
    if not isinstance(value, str):
        return value, False
    value = _ILLEGAL.sub(" ", value)
    if len(value) > EXCEL_CELL_LIMIT:
        note = f" … [cut: {len(value):,} characters in all; export JSONL for the full text]"
        value = value[:EXCEL_CELL_LIMIT - len(note)] + note
    return value, value.startswith(FORMULA_START)


def write_workbook(path: str | Path, documents: list[dict], entities: list[dict]) -> None:
    """Sheets "Entities" and "Documents", bold frozen headers, autofilter, sized columns."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    sheets = [("Entities", ["document", "entity text", "type", "start", "end", "confidence", "source", "reviewed"],
               entities),
              ("Documents", ["document", "title", "created", "reviewed", "entities", "model version", "text"],
               documents)]
    for index, (name, columns, rows) in enumerate(sheets):
        ws = wb.active if index == 0 else wb.create_sheet()
        ws.title = name
        ws.append(columns)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        widths = [len(c) for c in columns]
        for r, row in enumerate(rows, start=2):
            for c, key in enumerate(columns, start=1):
                value, quote = safe_cell(row.get(key))
                cell = ws.cell(row=r, column=c, value=value)
                if quote:
                    cell.data_type = "s"
                    cell.quotePrefix = True
                widths[c - 1] = max(widths[c - 1], min(60, len(str(value)) if value is not None else 0))
        for c, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(c)].width = width + 2
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = ws.dimensions
    wb.save(path)
