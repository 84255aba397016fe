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
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from engine.errors import FormatError, OperationCancelled
from engine.formats import read_text_file
from engine.limits import MAX_DOCUMENT_CHARS, MAX_FILE_BYTES

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXCEL_CELL_LIMIT = 32767
EXCEL_CR = "_x000D_"  # how Excel stores a carriage return inside a cell's XML
EXCEL_MAX_ROWS = 1_048_576
_MAX_RUN_BYTES = 10 * MAX_DOCUMENT_CHARS  # a character takes at most 10 bytes in XML (&#x10FFFF;)
_LINE_END = re.compile("\r\n|\r|\n")
csv.field_size_limit(MAX_DOCUMENT_CHARS)  # Python's default, 131,072 characters, is less than one document
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")  # what xlsx XML cannot carry


def read_table(path: str | Path, *, max_rows: int | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the first sheet of a .xlsx, or of a .csv (delimiter sniffed).

    ``max_rows`` stops after that many rows below the header (enough to pick the text column).
    """
    header, rows = _numbered_rows(Path(path), max_rows)
    return header, [row for _, row in rows]


def _numbered_rows(path: Path, max_rows: int | None) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and ``(line or row number, cells)`` of each non-blank row below it."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise FormatError(path, f"the file is {size / 1e6:.0f} MB; a table can be at most "
                                f"{MAX_FILE_BYTES / 1e6:.0f} MB. Split it into smaller files")
    numbered = _xlsx_rows(path) if path.suffix.lower() == ".xlsx" else _csv_rows(path)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for line, row in numbered:
        if not any(c.strip() for c in row):
            continue
        if header is None:
            header = [c.strip() for c in row]
            continue
        if max_rows is not None and len(rows) >= max_rows:
            break
        rows.append((line, row))
    if header is None:
        raise FormatError(path, "the first sheet is empty" if path.suffix.lower() == ".xlsx"
                          else "the file has no rows with text")
    return header, rows


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    text = read_text_file(path)
    if not text.strip():
        raise FormatError(path, "the file is empty")
    # newline="": rows may end in \r\n, \n or a lone \r (Excel for Mac); quoted cells keep theirs
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    line = 1
    try:
        for row in reader:
            yield line, row
            line = reader.line_num + 1
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise FormatError(path, f"a cell is longer than {MAX_DOCUMENT_CHARS:,} characters, the most one "
                                    "document can hold; split that note", line) from None
        raise FormatError(path, f"not a readable CSV file ({exc})", line) from None


def _delimiter(text: str) -> str:
    """The delimiter is the one the header line uses (tab, semicolon or comma).

    Notes are full of commas, so guessing from the body (csv.Sniffer) splits the text column of a
    one-column file, and fails on quoted multi-line cells; a header names its columns plainly.
    """
    header = _LINE_END.split(text.lstrip("\ufeff"), maxsplit=1)[0]
    counts = {d: header.count(d) for d in ("\t", ";", ",")}
    best = max(counts, key=counts.get)
    return best if counts[best] else "\x1f"  # one column: a separator that text never holds


def check_xlsx_size(path: Path) -> None:
    """Refuse a workbook whose parts would unpack to too much, before any XML is parsed.

    The sizes come from the zip's directory; a part that says it is smaller than it is fails its
    checksum when read (zipfile stops at the declared size), so a lying header cannot get past.
    A cell's text sits between two '<'; a run longer than any allowed cell could be is refused here,
    without building it (a 257 KB file can hold a 50-million-character cell).
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            if total > MAX_FILE_BYTES:
                raise FormatError(path, f"the workbook unpacks to {total / 1e6:.0f} MB; at most "
                                        f"{MAX_FILE_BYTES / 1e6:.0f} MB can be read. Split it, or save it as .csv")
            for info in infos:
                if info.filename.endswith((".xml", ".rels")) and info.file_size > _MAX_RUN_BYTES:
                    _check_runs(zf, info, path)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise FormatError(path, f"not a readable .xlsx workbook ({exc.__class__.__name__}: {exc})") from None


def _check_runs(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> None:
    run = 0  # bytes since the last '<'
    with zf.open(info) as part:
        while chunk := part.read(1 << 20):
            pieces = chunk.split(b"<")
            longest = max(run + len(pieces[0]), max(map(len, pieces[1:]), default=0))
            if longest > _MAX_RUN_BYTES:
                raise FormatError(path, f"a cell is longer than {MAX_DOCUMENT_CHARS:,} characters, the most one "
                                        f"document can hold ({info.filename})")
            run = run + len(chunk) if len(pieces) == 1 else len(pieces[-1])


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    check_xlsx_size(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FormatError(path, f"not a readable .xlsx workbook ({exc.__class__.__name__})") from None
    except Exception as exc:  # noqa: BLE001 - damaged XML inside: lxml/expat/zlib each raise their own kind
        raise FormatError(path, f"not a readable .xlsx workbook ({exc.__class__.__name__}: {exc})") from None
    try:
        if not wb.worksheets:
            raise FormatError(path, "the workbook has no worksheet")
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # a stale <dimension ref="A1:B5"> would silently cut the rows read
        number = 0
        for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
            if number > EXCEL_MAX_ROWS:
                raise FormatError(path, f"the sheet claims more than {EXCEL_MAX_ROWS:,} rows (damaged?)")
            yield number, ["" if v is None else str(v).replace(EXCEL_CR, "\r") for v in row]
    except FormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - the sheet's XML is parsed lazily, row by row: same damage as above
        raise FormatError(path, f"not a readable .xlsx workbook ({exc.__class__.__name__}: {exc})",
                          number + 1) from None
    finally:
        wb.close()


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
    """``(line, text)`` for each non-empty row's text column (by name, index or guessed).

    A text cell longer than one document may be makes the whole file an error naming its row: never a cut.
    """
    path = Path(path)
    header, numbered = _numbered_rows(path, None)
    rows = [row for _, row in numbered]
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
    texts = []
    for line, row in numbered:
        text = row[index].strip() if index < len(row) else ""
        if len(text) > MAX_DOCUMENT_CHARS:
            raise FormatError(path, f"the cell is {len(text):,} characters long; one document can hold at most "
                                    f"{MAX_DOCUMENT_CHARS:,}. Split that note", line)
        if text:
            texts.append((line, text))
    return texts


def safe_cell(value: object) -> tuple[object, bool]:
    """(value, needs_quote_prefix): text that Excel would treat as a formula is kept as text.

    Control characters that a worksheet cannot hold (a form feed pasted from a PDF, say) become spaces,
    so character offsets into the text stay right; text past Excel's cell limit is cut with a note.
    """
    if not isinstance(value, str):
        return value, False
    # XML readers turn a raw CR (of a Windows line end) into nothing, which would shift every offset after it;
    # Excel writes and reads CR in a cell as the escape _x000D_, and so do we
    value = _ILLEGAL.sub(" ", value).replace("\r", EXCEL_CR)
    if len(value) > EXCEL_CELL_LIMIT:
        note = f" … [cut: {len(value):,} characters in all; export JSONL for the full text]"
        value = value[:EXCEL_CELL_LIMIT - len(note)] + note
    return value, value.startswith(FORMULA_START)


class _CancellableFile:
    """A file whose every write first checks ``cancelled()``: openpyxl's save can take half a minute."""

    def __init__(self, raw, cancelled) -> None:
        self._raw, self._cancelled = raw, cancelled

    def write(self, data) -> int:
        if self._cancelled():
            raise OperationCancelled()
        return self._raw.write(data)

    def __getattr__(self, name: str):
        return getattr(self._raw, name)


def write_workbook(path: str | Path, documents: list[dict], entities: list[dict], *,
                   cancelled: Callable[[], bool] | None = None) -> None:
    """Sheets "Entities" and "Documents", bold frozen headers, autofilter, sized columns.

    ``cancelled()`` is checked every few hundred rows and while the file is written.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    sheets = [("Entities", ["document", "entity text", "type", "start", "end", "confidence", "source", "reviewed"],
               entities),
              ("Documents", ["document", "title", "created", "reviewed", "entities", "model version", "text",
                             "hidden direction marks"],
               documents)]
    for index, (name, columns, rows) in enumerate(sheets):
        ws = wb.active if index == 0 else wb.create_sheet()
        ws.title = name
        ws.append(columns)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        widths = [len(c) for c in columns]
        for r, row in enumerate(rows, start=2):
            if cancelled is not None and r % 256 == 0 and cancelled():
                raise OperationCancelled()
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
    if cancelled is None:
        wb.save(path)
        return
    with open(path, "wb") as raw:
        wb.save(_CancellableFile(raw, cancelled))
