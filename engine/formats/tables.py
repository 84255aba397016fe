"""Spreadsheets: import rows of .csv/.xlsx as documents; export entities to Excel.

Exported text that Excel could read as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or CR) is written as a string cell with Excel's quote
prefix, so it is shown as text and never evaluated.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from copy import copy
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, islice
from pathlib import Path

from engine.errors import FormatError, OperationCancelled
from engine.formats.registry import ReadOptions, Source
from engine.limits import MAX_DOCUMENT_CHARS, MAX_FILE_BYTES
from engine.progress import IsCancelled, Progress, check_cancelled
from engine.spans import ASSERTIONS, PRESENT, Document, Entity, type_name_problem

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXCEL_CELL_LIMIT = 32767
EXCEL_CR = "_x000D_"  # how Excel stores a carriage return inside a cell's XML
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
_MAX_RUN_BYTES = 10 * MAX_DOCUMENT_CHARS  # a character takes at most 10 bytes in XML (&#x10FFFF;)
_LINE_END = re.compile("\r\n|\r|\n")
_FIRST_COMMA = "first comma"  # see _delimiter
_WORD_COMMA = re.compile(r"[^\s,]{1,20},.*\S")  # a short field without spaces, a comma, text
_ID_THEN_TEXT = re.compile(r"(?=[^\s,]*\d)[^\s,]{1,20},.*\S")  # ...with a digit: "17,", "P-101,"
csv.field_size_limit(MAX_DOCUMENT_CHARS)  # Python's default, 131,072 characters, is less than one document
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")  # what xlsx XML cannot carry


# the app's own Excel export: its Documents sheet's columns that are not the clinic's metadata
APP_DOCUMENT_COLUMNS = {"document", "title", "created", "reviewed", "reviewed at", "entities", "model version", "text",
                        "hidden direction marks", "source", "suggestions", "status"}
_TEXT_NAMES = ("text", "note", "notes", "লেখা", "নোট", "document text", "clinical note", "content")
_GUESS_ROWS = 200  # rows the text column is guessed from (the import dialog's preview)
_NUMBER = re.compile(r"^[\s#\-+.,/:()0-9\u09e6-\u09ef]*$")  # ids, dates, numbers (Bangla digits too)


@dataclass
class TableLayout:
    """What a spreadsheet looks like: its sheets, the one chosen, the header (found or made up), the text column."""

    sheets: list[str]
    sheet: str | None
    header: list[str]
    has_header: bool
    text_column: int
    preview: list[list[str]] = field(default_factory=list)
    title_row: str | None = None  # a title above the header, not read as a document


@dataclass
class TableRow:
    line: int
    text: str
    title: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    entities: list[Entity] | None = None  # None: the table holds none (the model tags the text)
    reviewed: bool = False  # entities a person made or checked (our export's reviewed documents, Label Studio's)


def read_table(path: str | Path | Source, *, max_rows: int | None = None,
               sheet: str | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a sheet of a .xlsx (see :func:`inspect_table` for the choice), or of a .csv.

    ``max_rows`` stops after that many rows below the header (enough to pick the text column).
    """
    layout, numbered = _read(_source(path), max_rows, sheet)
    return layout.header, [row for _, row in numbered]


def _source(path: str | Path | Source) -> Source:
    return path if isinstance(path, Source) else Source(path)


def _check_size(source: Source) -> None:
    size = source.size
    if size > MAX_FILE_BYTES:
        raise FormatError(source.path, f"the file is {size / 1e6:.0f} MB; a table can be at most "
                                f"{MAX_FILE_BYTES / 1e6:.0f} MB. Split it into smaller files")


def _non_blank(numbered: Iterator[tuple[int, list[str]]], limit: int | None) -> list[tuple[int, list[str]]]:
    rows = []
    for line, row in numbered:
        if not any(c.strip() for c in row):
            continue
        if limit is not None and len(rows) >= limit:
            break
        rows.append((line, row))
    return rows


def inspect_table(path: str | Path | Source, *, max_rows: int = 200, sheet: str | None = None) -> TableLayout:
    """The layout of a table from its first ``max_rows`` rows (see :class:`TableLayout`)."""
    layout, _ = _read(_source(path), max_rows, sheet)
    return layout


def _read(source: Source, max_rows: int | None, sheet: str | None) -> tuple[TableLayout, list[tuple[int, list[str]]]]:
    """The layout, and ``(line or row number, cells)`` of each non-blank row below the header (the first
    ``max_rows`` rows, or all)."""
    sheets, chosen, stream = _row_stream(source, sheet)
    rows = list(islice(stream, None if max_rows is None else max_rows + 1))
    stream.close()
    return _layout(source.path, sheets, chosen, rows)


def _read_stream(source: Source, sheet: str | None, *, progress: Progress | None = None,
                 cancelled: IsCancelled | None = None) -> tuple[TableLayout, Iterator[tuple[int, list[str]]]]:
    """The layout, from the rows the import dialog previews (the same there and here, and no pass over a whole
    55 MB file), and every non-blank row below the header as it is read; a CSV's lines read are told to
    ``progress`` (done, total) every thousand rows."""
    layout, _, rows = _read_preview(source, sheet, progress=progress, cancelled=cancelled)
    return layout, rows


def _read_preview(source: Source, sheet: str | None, *, progress: Progress | None = None,
                  cancelled: IsCancelled | None = None) -> tuple[TableLayout, list[list[str]], Iterator]:
    """As :func:`_read_stream`, with the previewed rows below the header too."""
    sheets, chosen, stream = _row_stream(source, sheet, progress=progress, cancelled=cancelled)
    preview = list(islice(stream, _GUESS_ROWS + 1))
    layout, body = _layout(source.path, sheets, chosen, preview)
    return layout, [r for _, r in body], chain(body, stream)


def _row_stream(source: Source, sheet: str | None, *, progress: Progress | None = None,
                cancelled: IsCancelled | None = None) -> tuple[list[str], str | None, Generator]:
    """Sheet names, the sheet read and its non-blank rows as they are read (a CSV: no sheets, None)."""
    _check_size(source)
    if source.suffix == ".xlsx":
        return _xlsx_sheet(source, sheet)
    return [], None, _non_blank_rows(_csv_rows(source, progress=progress, cancelled=cancelled))


def _non_blank_rows(numbered: Iterator[tuple[int, list[str]]]) -> Generator[tuple[int, list[str]], None, None]:
    yield from ((line, row) for line, row in numbered if any(c.strip() for c in row))


def _layout(path: Path, sheets: list[str], chosen: str | None,
            rows: list[tuple[int, list[str]]]) -> tuple[TableLayout, list[tuple[int, list[str]]]]:
    """The layout of a table from its first non-blank rows, and those of them below the header."""
    if not rows:
        raise FormatError(path, f"the sheet {chosen!r} is empty" if chosen is not None
                          else "the file has no rows with text")
    title_row = _title_row([r for _, r in rows])
    if title_row is not None:  # a (merged) title cell above the header names the sheet, it is no document
        rows = rows[1:]
    has_header = _has_header([r for _, r in rows])
    width = max(len(r) for _, r in rows)
    if has_header:
        header = [c.strip() or f"column {i + 1}" for i, c in enumerate(rows[0][1])]
        header += [f"column {i + 1}" for i in range(len(header), width)]
        rows = rows[1:]
    else:
        header = [f"column {i + 1}" for i in range(width)]
    body = [r for _, r in rows]
    column = guess_text_column(header if has_header else [""] * width, body[:_GUESS_ROWS])
    layout = TableLayout(sheets, chosen, header, has_header, 0 if column is None else column, body[:20],
                         title_row=title_row)
    return layout, rows


def _title_row(rows: list[list[str]]) -> str | None:
    """The text of a title row above the header (one filled cell, then a row of several short names over rows of
    two or more cells), or None."""
    if len(rows) < 3:
        return None
    first = [c.strip() for c in rows[0] if c.strip()]
    names = [c.strip() for c in rows[1]]
    filled = [c for c in names if c]
    if len(first) != 1 or len(filled) < 2 or len(set(filled)) != len(filled) or any(len(c) > 40 for c in filled):
        return None
    if not any(c.lower() in _TEXT_NAMES or c.lower() in APP_DOCUMENT_COLUMNS for c in filled) and \
            not _has_header(rows[1:]):
        return None
    below = rows[2:52]
    return first[0] if sum(sum(bool(c.strip()) for c in r) >= 2 for r in below) * 2 > len(below) else None


def _is_number(cell: str) -> bool:
    return bool(cell.strip()) and bool(_NUMBER.match(cell))


def _has_header(rows: list[list[str]]) -> bool:
    """Whether the first row names the columns rather than holding the first note.

    A header cell is short and on one line; below it, the text column's cells are much longer, and a
    column of numbers (ids, ages) has a name on top, not a number.
    """
    first, body = rows[0], rows[1:]
    cells = [c.strip() for c in first]
    if any(len(c) > 60 or "\n" in c or "\r" in c for c in cells):
        return False
    if any(c.lower() in _TEXT_NAMES or c.lower() in APP_DOCUMENT_COLUMNS for c in cells):
        return True
    if not body:  # one row: several short names are a header over nothing, one cell is a note
        return len(cells) > 1 and all(len(c) <= 30 for c in cells)
    votes = 0
    for i, cell in enumerate(cells):
        column = [r[i].strip() for r in body if i < len(r) and r[i].strip()]
        if not column:
            continue
        if all(_is_number(x) for x in column):
            votes += 1 if cell and not _is_number(cell) else -1
            continue
        median = sorted(len(x) for x in column)[len(column) // 2]
        if median >= 20:
            votes += 1 if len(cell) * 3 < median else -1
    return votes > 0


def _csv_rows(source: Source, *, progress: Progress | None = None,
              cancelled: IsCancelled | None = None) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of each row as the file is read from disk (:meth:`Source.lines`: a 55 MB CSV is never
    held whole); how far the read is goes to ``progress`` every thousand rows."""
    path = source.path
    if not source.head().strip() and not source.text().strip():  # (a head of spaces: rare enough to read whole)
        raise FormatError(path, "the file is empty")
    total, lines = source.lines(ends=True)  # rows may end in \r\n, \n or a lone \r (Excel for Mac)
    done = 0

    def read() -> Iterator[str]:
        nonlocal done
        for line, position in lines:
            done = position
            yield line

    # the delimiter is guessed from the first 200,000 characters, which the rows are then read from again
    stream, first, size = read(), [], 0
    for line in stream:
        first.append(line)
        size += len(line)
        if size >= _SAMPLE_CHARS:
            break
    rows = chain(first, stream)
    delimiter = _delimiter("".join(first), path)

    def tell(row_count: int) -> None:
        if row_count % 1000 == 0 and row_count:  # a 55 MB CSV: the bar moves and Cancel works while it is read
            check_cancelled(cancelled)
            if progress is not None:
                progress(min(done, total), total)

    if delimiter == _FIRST_COMMA:  # "17,a note, with commas": the id, then the whole note
        for line, row in enumerate(rows, 1):
            tell(line)
            row = row.rstrip("\r\n")
            yield line, (row.lstrip("\ufeff") if line == 1 else row).split(",", 1)
        return
    # quoted cells keep their line ends: the reader takes the next lines into them
    reader = csv.reader(rows, delimiter=delimiter)
    line = 1
    try:
        for n, row in enumerate(reader):
            tell(n)
            yield line, row
            line = reader.line_num + 1
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise FormatError(path, f"a cell is longer than {MAX_DOCUMENT_CHARS:,} characters, the most one "
                                    "document can hold; split that note", line) from None
        raise FormatError(path, f"not a readable CSV file ({exc})", line) from None


_SAMPLE_CHARS = 200_000  # what the delimiter is guessed from


def _delimiter(text: str, path: Path | None = None) -> str:
    """The delimiter that splits the first rows into the same number of columns (tab, semicolon, comma).

    Notes are full of commas: a one-column file of notes (with or without a header) splits into a
    different number of pieces on each row, so commas there are text; so are commas followed by a space
    (spreadsheet programs never write one after the delimiter). Rows that start with an id and a comma
    followed by such a note (``17,জ্বর, কাশি``, unquoted) split at their first comma only. A ``.tsv`` is
    tab-separated.
    """
    if path is not None and path.suffix.lower() == ".tsv":
        return "\t"
    sample = text.lstrip("\ufeff")[:_SAMPLE_CHARS]
    for delimiter in ("\t", ";", ","):
        try:
            rows = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if any(r)][:50]
        except csv.Error:
            continue
        if len(rows) > 2:
            rows = rows[:-1]  # the sample may cut the last row
        widths = {len(r) for r in rows}
        if len(widths) == 1 and widths.pop() > 1 and (len(rows) > 1 or delimiter in _LINE_END.split(sample)[0]):
            if delimiter == "," and _commas_in_text(rows):
                break
            return delimiter
    ragged = _ragged_delimiter(sample)
    if ragged is not None:
        return ragged
    lines = [line for line in _LINE_END.split(sample)[:51] if line.strip()]
    ids = lines[1:] if len(lines) > 1 and not _ID_THEN_TEXT.match(lines[0]) else lines  # the first: a header?
    if ('"' not in sample and ids and all(_ID_THEN_TEXT.match(line) for line in ids)
            and all(_WORD_COMMA.match(line) for line in lines)):
        return _FIRST_COMMA
    return "\x1f"  # one column: a separator that text never holds


def _ragged_delimiter(sample: str) -> str | None:
    """The delimiter of a table whose rows have fewer (or trailing empty) cells than its header: the first row
    splits into distinct short names, every other row into at least two cells and no filled cell past the
    header's width."""
    for delimiter in ("\t", ";", ","):
        try:
            rows = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if any(r)][:51]
        except csv.Error:
            continue
        if len(rows) > 2:
            rows = rows[:-1]  # the sample may cut the last row
        if len(rows) < 2:
            continue
        header = [c.strip() for c in rows[0]]
        if len(header) < 2 or not all(header) or len(set(header)) != len(header) or any(len(c) > 40 for c in header):
            continue
        if all(len(r) >= 2 and not any(c.strip() for c in r[len(header):]) for r in rows[1:]) \
                and not (delimiter == "," and _commas_in_text(rows)):
            return delimiter
    return None


def _commas_in_text(rows: list[list[str]]) -> bool:
    """Most cells after the first start with a space: the commas are the notes' own."""
    cells = [cell for row in rows for cell in row[1:] if cell.strip()]
    return sum(cell.startswith(" ") for cell in cells) * 2 > len(cells)


def check_xlsx_size(source: Source) -> None:
    """Refuse a workbook whose parts would unpack to too much, before any XML is parsed.

    The sizes come from the zip's directory; a part that says it is smaller than it is fails its
    checksum when read (zipfile stops at the declared size), so a lying header cannot get past.
    A cell's text sits between two '<'; a run longer than any allowed cell could be is refused here,
    without building it (a 257 KB file can hold a 50-million-character cell).
    """
    path = source.path
    try:
        with zipfile.ZipFile(source.binary()) as zf:
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


def _xlsx_sheet(source: Source, sheet: str | None) -> tuple[list[str], str, Generator]:
    """Sheet names, the sheet read (``sheet``, else the one with the longest texts) and its non-blank rows as they
    are read (the workbook is closed once they are all read)."""
    from openpyxl import load_workbook

    check_xlsx_size(source)
    path = source.path
    try:
        wb = load_workbook(source.binary(), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FormatError(path, f"not a readable .xlsx workbook ({exc.__class__.__name__})") from None
    except Exception as exc:  # noqa: BLE001 - damaged XML inside: lxml/expat/zlib each raise their own kind
        raise FormatError(path, f"not a readable .xlsx workbook ({exc.__class__.__name__}: {exc})") from None
    try:
        names = list(wb.sheetnames)
        if not names:
            raise FormatError(path, "the workbook has no worksheet")
        if sheet is not None and sheet not in names:
            raise FormatError(path, f"no sheet named {sheet!r}; sheets are {names}")
        if sheet is None and "Documents" in names and _is_own_export(path, wb["Documents"]):
            sheet = "Documents"  # the app's own export: its Entities sheet holds no notes
        if sheet is None and len(names) > 1:
            sheet = max(names, key=lambda n: (_longest_texts(path, wb[n]), -names.index(n)))
        chosen = sheet if sheet is not None else names[0]
    except BaseException:
        wb.close()
        raise

    def rows() -> Generator[tuple[int, list[str]], None, None]:
        try:
            yield from _non_blank_rows(_ws_rows(path, wb[chosen]))
        finally:
            wb.close()

    return names, chosen, rows()


def _is_own_export(path: Path, ws) -> bool:
    first = _non_blank(_ws_rows(path, ws), 1)
    return bool(first) and "text" in [c.strip() for c in first[0][1]]


def _longest_texts(path: Path, ws) -> int:
    """The most letters in one column over the sheet's first 200 rows."""
    rows = [r for _, r in _non_blank(_ws_rows(path, ws), 200)]
    width = max((len(r) for r in rows), default=0)
    return max((sum(_letter_count(r[i]) for r in rows if i < len(r)) for i in range(width)), default=0)


def _ws_rows(path: Path, ws) -> Iterator[tuple[int, list[str]]]:
    number = 0
    try:
        ws.reset_dimensions()  # a stale <dimension ref="A1:B5"> would silently cut the rows read
        for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
            if number > EXCEL_MAX_ROWS:
                raise FormatError(path, f"the sheet claims more than {EXCEL_MAX_ROWS:,} rows (damaged?)")
            yield number, ["" if v is None else str(v).replace(EXCEL_CR, "\r") for v in row]
    except FormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - the sheet's XML is parsed lazily, row by row: same damage as above
        raise FormatError(path, f"not a readable .xlsx workbook ({exc.__class__.__name__}: {exc})",
                          number + 1) from None


def _letter_count(cell: str) -> int:
    """Letters and their marks: Bangla vowel signs are marks, not letters, to ``str.isalpha``."""
    return sum(1 for ch in cell if ch.isalpha() or unicodedata.category(ch)[0] == "M")


def _letters(column: list[str]) -> float:
    filled = [c for c in column if c.strip()]
    return sum(_letter_count(c) for c in filled) / len(filled) if filled else 0.0


def guess_text_column(header: list[str], rows: list[list[str]]) -> int | None:
    """The column named like text/note (if it holds words), else the one with the most letters; None if no
    text. A column of numbers or ids is never the text, whatever its name (``document`` may hold ids)."""
    width = max([len(header)] + [len(r) for r in rows])
    columns = [[r[i] if i < len(r) else "" for r in rows] for i in range(width)]
    named = [i for i, name in enumerate(header) if name.strip().lower() in _TEXT_NAMES]
    for i in named:
        if _letters(columns[i]) >= 2:
            return i
    for i in named:  # the text column, empty (formulas saved without their values): never fall back to another
        if rows and not any(c.strip() for c in columns[i]):
            return i
    lengths = [sum(_letter_count(c) for c in col) for col in columns]
    if not lengths or max(lengths) == 0:
        return None
    return max(range(len(lengths)), key=lengths.__getitem__)


def table_documents(path: str | Path | Source, column: str | int | None = None, *, sheet: str | None = None,
                    notes: list[str] | None = None, progress: Progress | None = None,
                    cancelled: IsCancelled | None = None) -> list[TableRow]:
    """:func:`iter_table_rows`, whole."""
    return list(iter_table_rows(path, column, sheet=sheet, notes=notes, progress=progress, cancelled=cancelled))


def iter_table_rows(path: str | Path | Source, column: str | int | None = None, *, sheet: str | None = None,
                    notes: list[str] | None = None, progress: Progress | None = None,
                    cancelled: IsCancelled | None = None) -> Iterator[TableRow]:
    """One :class:`TableRow` per non-empty row, as the table is read: its text column (by name, index or guessed),
    a ``title`` column if there is one, and every other filled cell as metadata under its column's name.

    A text cell longer than one document may be makes the whole file an error naming its row: never a cut; so
    does a text column empty or of numbers in every row (said once the table is read: drop the rows that came).
    What is not read as documents (a title row above the header) is said in ``notes``.
    """
    source = _source(path)
    path = source.path
    layout, preview, numbered = _read_preview(source, sheet, progress=progress, cancelled=cancelled)
    header = layout.header
    if layout.title_row is not None and notes is not None:
        notes.append(f"the first row, {layout.title_row[:60]!r}, is a title above the header, not a document")
    if isinstance(column, str):
        if column not in header:
            raise FormatError(path, f"no column named {column!r}; columns are {header}")
        index = header.index(column)
    elif column is None:
        if guess_text_column(header if layout.has_header else [""] * len(header), preview) is None:
            raise FormatError(path, "no column with text found")
        index = layout.text_column
    else:
        index = column
    if not 0 <= index < len(header):
        raise FormatError(path, f"there is no column {index + 1}; the table has {len(header)}")
    own_export = layout.sheet == "Documents" and "text" in header
    titles = {i for i, name in enumerate(header) if name.lower() == "title"} if layout.has_header else set()
    skip = {index} | titles
    if own_export:
        skip |= {i for i, name in enumerate(header) if name in APP_DOCUMENT_COLUMNS}
    regions = _region_columns(header, preview, source, sheet, skip) if layout.has_header else []
    skip |= set(regions)
    own_entities = _own_entities(source, notes) if own_export and source.suffix == ".xlsx" else None
    rows = texts = numbers = 0
    for line, row in numbered:
        rows += 1
        text = row[index] if index < len(row) else ""  # as the cell has it: a note may end in spaces
        if len(text) > MAX_DOCUMENT_CHARS:
            raise FormatError(path, f"the cell is {len(text):,} characters long; one document can hold at most "
                                    f"{MAX_DOCUMENT_CHARS:,}. Split that note", line)
        if not text.strip():
            continue
        texts += 1
        numbers += _is_number(text)
        title = next((row[i].strip() for i in titles if i < len(row) and row[i].strip()), "")
        metadata = {header[i]: cell.strip() for i, cell in enumerate(row) if i not in skip and cell.strip()}
        out = TableRow(line, text, title, metadata)
        if regions:
            _label_studio_row(out, [row[i] if i < len(row) else "" for i in regions], path, notes)
        elif own_entities is not None:
            _own_export_row(out, row, header, own_entities, notes)
        yield out
    if rows and not texts:
        raise FormatError(path, f"the column {header[index]!r} is empty in every row; if it holds formulas, open the "
                                "file in Excel or LibreOffice and save it, so that their values are saved too, or "
                                "choose the column with the notes")
    if texts and numbers == texts:
        raise FormatError(path, f"the column {header[index]!r} holds numbers (ids or dates), not text; choose the "
                                "column with the notes")


def _cell(row: list[str], header: list[str], name: str) -> str:
    return row[header.index(name)].strip() if name in header and header.index(name) < len(row) else ""


def _region_columns(header: list[str], preview: list[list[str]], source: Source, sheet: str | None,
                    skip: set[int]) -> list[int]:
    """Columns of Label Studio's CSV/TSV export that hold labelled regions as JSON
    (``[{"start": 0, "end": 4, "text": "জ্বর", "labels": ["Symptom"]}]``) in every filled cell, some not empty.
    Candidates come from the previewed rows; only for those is the whole table read once more."""
    candidates = [i for i in range(len(header)) if i not in skip and _regions_cell(preview, i) in (_REGIONS, _EMPTY)]
    if not candidates:
        return []
    found = dict.fromkeys(candidates, False)
    _, numbered = _read_stream(source, sheet)
    for _, row in numbered:
        for i in list(found):
            kind = _regions_cell([row], i)
            if kind is False:
                del found[i]
            elif kind == _REGIONS:
                found[i] = True
        if not found:
            break
    return [i for i, regions in found.items() if regions]


_REGIONS, _EMPTY = "regions", "empty lists"


def _regions_cell(rows: list[list[str]], i: int) -> str | bool | None:
    """What column ``i`` of ``rows`` holds: False when a filled cell is no list of regions, else :data:`_REGIONS`
    when a cell holds some, :data:`_EMPTY` when every filled cell is an empty list, None when none is filled."""
    kind = None
    for r in rows:
        if i >= len(r) or not r[i].strip():
            continue
        if not r[i].lstrip().startswith("["):
            return False
        try:
            value = json.loads(r[i])
        except (ValueError, RecursionError):
            return False
        if not (isinstance(value, list) and all(isinstance(x, dict) and "start" in x and "labels" in x for x in value)):
            return False
        kind = _REGIONS if value or kind == _REGIONS else _EMPTY
    return kind


def _label_studio_row(row: TableRow, cells: list[str], path: Path, notes: list[str] | None) -> None:
    """A row of Label Studio's CSV export: its regions are a person's annotation when the row has one."""
    from engine.formats.labelstudio import region_entities

    regions = [region for cell in cells if cell.strip() for region in json.loads(cell)]
    found, left_out = region_entities(regions, row.text, path=path, line=row.line)
    if found or any(row.metadata.get(k) for k in ("annotator", "annotation_id")):
        row.entities, row.reviewed = found, True
    if notes is not None:
        notes.extend(left_out)


def _own_entities(source: Source, notes: list[str] | None) -> dict[str, list[list[str]]] | None:
    """The app's own export: its Entities sheet's rows by document number (None when there is no such sheet)."""
    from openpyxl import load_workbook

    path = source.path
    wb = load_workbook(source.binary(), read_only=True, data_only=True)
    try:
        if "Entities" not in wb.sheetnames:
            if notes is not None:
                notes.append("the workbook has no Entities sheet: entities were not read, the texts are tagged anew")
            return None
        rows = [r for _, r in _non_blank(_ws_rows(path, wb["Entities"]), None)]
    finally:
        wb.close()
    if not rows or [c.strip() for c in rows[0][:len(ENTITY_COLUMNS)]] != list(ENTITY_COLUMNS):
        if notes is not None:
            notes.append("the Entities sheet is not the one this app writes: entities were not read, the texts are "
                         "tagged anew")
        return None
    by_document: dict[str, list[list[str]]] = {}
    for r in rows[1:]:
        by_document.setdefault(r[0].strip(), []).append(r)
    return by_document


def _score(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if 0 <= value <= 1 else None


def _own_export_row(row: TableRow, cells: list[str], header: list[str], entities: dict[str, list[list[str]]],
                    notes: list[str] | None) -> None:
    """A document of the app's own Excel export, with its entities and review status as exported."""
    row.reviewed = _cell(cells, header, "reviewed") == "yes"
    found, wrong = [], 0
    column = {name: i for i, name in enumerate(ENTITY_COLUMNS)}
    for e in entities.get(_cell(cells, header, "document"), []):
        e = e + [""] * (len(ENTITY_COLUMNS) - len(e))
        try:
            start, end = int(float(e[column["start"]])), int(float(e[column["end"]]))
        except ValueError:
            wrong += 1
            continue
        label, assertion = e[column["type"]].strip(), e[column["assertion"]].strip() or PRESENT
        confidence = _score(e[column["confidence"]])
        if (not 0 <= start < end <= len(row.text) or row.text[start:end] != e[column["entity text"]]
                or type_name_problem(label) or assertion not in ASSERTIONS):
            wrong += 1
            continue
        found.append(Entity(start, end, label, None if row.reviewed else confidence, assertion))
    row.entities = found if found or row.reviewed else None
    if wrong and notes is not None:
        notes.append(f"row {row.line}: {wrong} entit{'y' if wrong == 1 else 'ies'} of the Entities sheet do not match "
                     "the document's text (edited in the workbook?) and were not imported")


def table_texts(path: str | Path, column: str | int | None = None) -> list[tuple[int, str]]:
    """``(line, text)`` for each non-empty row's text column (see :func:`table_documents`)."""
    return [(row.line, row.text) for row in table_documents(path, column)]


def iter_documents(source: Source, options: ReadOptions) -> Iterator[Document]:
    """The registry's reader: one document per row as the table is read (:func:`iter_table_rows`), annotated
    where the table carries a person's entities, suggested where it carries a model's, else to be tagged."""
    for row in iter_table_rows(source, options.column, sheet=options.sheet, notes=options.notes,
                               progress=options.progress, cancelled=options.cancelled):
        yield Document(row.text, row.entities or [], name=row.title or f"{source.name} row {row.line}", line=row.line,
                       status="annotated" if row.reviewed else "unannotated" if row.entities is None else "suggested",
                       metadata=row.metadata)


def read_documents(source: Source, options: ReadOptions) -> list[Document]:
    """:func:`iter_documents`, whole."""
    return list(iter_documents(source, options))


def safe_cell(value: object) -> tuple[object, bool]:
    """(value, needs_quote_prefix): text that Excel would treat as a formula is kept as text.

    The one place that makes a cell inert: every cell the app writes goes through it, header cells included
    (an entity type or a metadata key from an imported file can read ``=HYPERLINK(...)``). Control characters
    that a worksheet cannot hold (a form feed pasted from a PDF, a NUL in a CSV header) become spaces, so
    character offsets into the text stay right; text past Excel's cell limit is cut with a note. Values that
    are neither text, number nor date (a list from a JSON file's metadata) are written as their text.
    """
    if value is None or isinstance(value, (int, float, datetime)):
        return value, False
    if not isinstance(value, str):
        value = str(value)
    # XML readers turn a raw CR (of a Windows line end) into nothing, which would shift every offset after it;
    # Excel writes and reads CR in a cell as the escape _x000D_, and so do we
    value = _ILLEGAL.sub(" ", value)
    formula_like = value.startswith(FORMULA_START)
    value = value.replace("\r", EXCEL_CR)
    if len(value) > EXCEL_CELL_LIMIT:
        note = f" … [cut: {len(value):,} characters in all; export JSONL for the full text]"
        value = value[:EXCEL_CELL_LIMIT - len(note)] + note
    return value, formula_like


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


# The app's Excel export, defined here once: the sheets, their first columns, and which columns wrap.
# "Documents" with "title" and "text" is also what the reader above recognises as the app's own export.
ENTITY_COLUMNS = ("document", "title", "entity text", "type", "assertion", "status", "confidence", "start", "end",
                  "reviewed")
DOCUMENT_COLUMNS = ("document", "title", "created", "reviewed", "entities", "model version", "text",
                    "hidden direction marks", "reviewed at")  # then one column per metadata key
SUMMARY_COLUMNS = ("document", "title", "reviewed")  # then one column per entity type, then per assertion
# the Summary sheet's column of each assertion but present (whose findings go to their type's column)
SUMMARY_ASSERTION_COLUMNS = {a: a.capitalize() for a in ASSERTIONS if a != PRESENT}
EXCEL_DATE_FORMAT = "yyyy-mm-dd hh:mm"
_WIDE = 80  # characters: a wrapped note reads as a paragraph
# A wrapped row's height, set in the file: LibreOffice keeps the default height of rows without one, so a note
# showed one or two of its lines. Points per line (Bangla script stands taller than Latin), Excel's maximum.
LINE_POINTS = 16.5
MAX_ROW_POINTS = 409
_WRAPPED = {"Documents": {"text"}, "Summary": None}  # None: every column after SUMMARY_COLUMNS


@dataclass(frozen=True)
class NotWritten:
    """Something of one document that a workbook could not hold (Excel's limits, a value it cannot store)."""

    sheet: str
    document: object  # the row's "document" cell
    title: str
    what: str

    def line(self) -> str:
        title = f" ({self.title})" if self.title else ""
        return f"document {self.document}{title}, sheet {self.sheet}: {self.what}"


NOT_WRITTEN_SHEET = "Not written"
NOT_WRITTEN_COLUMNS = ("document", "title", "sheet", "what was not written")


def write_workbook(path: str | Path, documents: list[dict], entities: list[dict], *, summary: list[dict] = (),
                   cancelled: Callable[[], bool] | None = None) -> list[NotWritten]:
    """Sheets "Entities", "Documents" and (given ``summary`` rows) "Summary": bold frozen headers, autofilter,
    sized columns. Each sheet's columns are its fixed ones above, then any other keys of its rows in the order
    first seen (the Documents sheet's metadata, the Summary sheet's entity types).

    Cells are top-aligned and long texts wrapped, so a note ending in a line break still shows its first lines
    (bottom-aligned, LibreOffice shows only the empty last one); ``datetime`` values are real dates.
    ``cancelled()`` is checked every few hundred rows and while the file is written.

    What one document holds never stops the rest from being written: columns past Excel's 16,384, rows past
    its 1,048,576 and values a cell cannot store are left out, listed first in a "Not written" sheet (naming
    each document), and returned.
    """
    from openpyxl import Workbook

    wb = Workbook()
    sheets = [("Entities", ENTITY_COLUMNS, entities), ("Documents", DOCUMENT_COLUMNS, documents)]
    if summary:
        sheets.append(("Summary", SUMMARY_COLUMNS, summary))
    not_written: list[NotWritten] = []
    for index, (name, fixed, rows) in enumerate(sheets):
        ws = wb.active if index == 0 else wb.create_sheet()
        ws.title = name
        not_written += _write_sheet(ws, fixed, rows, cancelled=cancelled)
    if not_written:
        ws = wb.create_sheet(NOT_WRITTEN_SHEET, 0)
        _write_sheet(ws, NOT_WRITTEN_COLUMNS, [{"document": n.document, "title": n.title, "sheet": n.sheet,
                                               "what was not written": n.what} for n in not_written],
                     cancelled=cancelled)
        wb.active = 0
    if cancelled is None:
        wb.save(path)
    else:
        with open(path, "wb") as raw:
            wb.save(_CancellableFile(raw, cancelled))
    return not_written


def _write_sheet(ws, fixed: tuple[str, ...], rows: list[dict], *,
                 cancelled: Callable[[], bool] | None) -> list[NotWritten]:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    top, wrap = Alignment(vertical="top"), Alignment(vertical="top", wrap_text=True)
    styles: dict[int, object] = {}  # id(alignment) -> the style array of a cell that has it
    not_written: list[NotWritten] = []

    def left_out(row: dict, what: str) -> None:
        title, _ = safe_cell(row.get("title") or "")
        not_written.append(NotWritten(ws.title, row.get("document"), str(title), what))

    columns = _columns(fixed, rows)
    if len(columns) > EXCEL_MAX_COLUMNS:  # a CSV row of 20,000 cells: its metadata keys become columns
        # the narrowest rows' columns first, so one very wide document loses its own tail, not the others' keys
        columns = _columns(fixed, sorted(rows, key=len))
        dropped = columns[EXCEL_MAX_COLUMNS:]
        columns = columns[:EXCEL_MAX_COLUMNS]
        for row in rows:
            if lost := [k for k in dropped if row.get(k) is not None]:
                left_out(row, f"{len(lost):,} column(s) past Excel's {EXCEL_MAX_COLUMNS:,} "
                              f"(from {str(safe_cell(lost[0])[0])[:60]!r})")
    if len(rows) >= EXCEL_MAX_ROWS:
        firsts = {}
        for row in rows[EXCEL_MAX_ROWS - 1:]:
            firsts.setdefault(row.get("document"), row)
        for row in firsts.values():
            left_out(row, f"rows past Excel's {EXCEL_MAX_ROWS:,} (export JSONL for all of them)")
        rows = rows[:EXCEL_MAX_ROWS - 1]
    wrapped = _WRAPPED.get(ws.title, set())
    wrapped = set(columns[len(fixed):]) if wrapped is None else wrapped
    widths = []
    paragraphs: dict[int, list[tuple[int, list[int]]]] = {}  # row -> (column, each line's length) of wrapped cells
    for c, key in enumerate(columns, start=1):  # headers are text from other tools' files too: as inert
        _set_cell(ws.cell(row=1, column=c), key)
        ws.cell(row=1, column=c).font = Font(bold=True)
        widths.append(min(60, len(key)))
    for r, row in enumerate(rows, start=2):
        if cancelled is not None and r % 256 == 0 and cancelled():
            raise OperationCancelled()
        for c, key in enumerate(columns, start=1):
            if (raw := row.get(key)) is None:
                continue  # no cell at all: a wide sheet of sparse metadata stays small
            cell = ws.cell(row=r, column=c)
            alignment = wrap if key in wrapped else top
            if (style := styles.get(id(alignment))) is None:
                cell.alignment = alignment
                style = styles[id(alignment)] = copy(cell._style)
            else:  # a copy of the first such cell's style: assigning an Alignment hashes it, a third of the export
                cell._style = copy(style)
            try:
                value = _set_cell(cell, raw)
            except Exception as exc:  # noqa: BLE001 - openpyxl refuses values in its own ways; one cell, not the file
                cell.value = None
                left_out(row, f"the {str(safe_cell(key)[0])[:60]!r} cell ({exc.__class__.__name__})")
                continue
            widths[c - 1] = max(widths[c - 1], min(60, len(str(value))))
            if key in wrapped and isinstance(value, str) and (len(value) > 40 or "\n" in value):
                paragraphs.setdefault(r, []).append((c, [len(line) for line in value.splitlines()]))
    for c, (key, width) in enumerate(zip(columns, widths, strict=True), start=1):
        ws.column_dimensions[get_column_letter(c)].width = _WIDE if key in wrapped and width >= 40 else width + 2
    for r, cells in paragraphs.items():  # as many lines as the longest wrapped cell needs at its column's width
        lines = max(sum(max(1, -(-n // max(int(ws.column_dimensions[get_column_letter(c)].width) - 2, 1)))
                        for n in lengths or [0]) for c, lengths in cells)
        if lines > 1:
            ws.row_dimensions[r].height = min(MAX_ROW_POINTS, lines * LINE_POINTS)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    return not_written


def _set_cell(cell, raw: object) -> object:
    value, quote = safe_cell(raw)
    cell.value = value
    if quote:
        cell.data_type = "s"
        cell.quotePrefix = True
    elif isinstance(value, datetime):
        cell.number_format = EXCEL_DATE_FORMAT
    return value


def _columns(fixed: tuple[str, ...], rows: list[dict]) -> list[str]:
    """``fixed``, then every other key of ``rows`` in the order first seen."""
    extra = dict.fromkeys(k for row in rows for k in row if k not in fixed)
    return [*fixed, *extra]
