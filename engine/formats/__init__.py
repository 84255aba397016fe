"""Read and write documents in the formats clinics and tools use, through one registry (:mod:`.registry`).

Every reader returns :class:`engine.spans.Document` objects (text + character
spans, and a status: annotated, suggested, or to be tagged); every error is an
:class:`engine.errors.FormatError` naming the file and, where it applies, the line.
The formats are registered at the end of this module, one :func:`register` call each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from pathlib import Path

from engine.errors import FormatError
from engine.formats import brat, conll, healthner, jsonl, labelstudio
from engine.formats.registry import Format, ReadOptions, Source, WriteOptions, by_suffix, guess, register
from engine.limits import MAX_DOCUMENT_CHARS, MAX_FILE_BYTES
from engine.spans import Document, Entity
from engine.text import looks_like_notes

_SURROGATE = re.compile("[\ud800-\udfff]")


def read_text_file(path: str | Path) -> str:
    """Read a text file as UTF-8 or UTF-16 (BOM optional); clear error otherwise."""
    return decode_text(Path(path).read_bytes(), path)


def decode_text(raw: bytes, path: str | Path) -> str:
    """``raw`` as UTF-8 or UTF-16 (BOM optional); :class:`FormatError` naming ``path`` otherwise."""
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                raise FormatError(path, f"not valid {encoding.upper()} text despite its byte-order mark") from None
            if encoding == "utf-16" and not looks_like_notes(text, expected_share=0.5):  # a mark, then byte soup
                raise FormatError(path, "not text despite its UTF-16 byte-order mark: most characters are in no "
                                        "script notes are written in (Bengali, Latin); a binary file?")
            return text
    try:
        text = raw.decode("utf-8")
        if "\x00" not in text:
            return text
    except UnicodeDecodeError as exc:
        utf8_error = exc
    else:
        utf8_error = None
    if len(raw) % 2 == 0:  # UTF-16 without a byte-order mark?
        for encoding in ("utf-16-le", "utf-16-be"):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                continue
            if _looks_like_text(text):
                return text
    if utf8_error is not None and raw.count(0) == 0:
        line = raw[: utf8_error.start].count(b"\n") + 1
        raise FormatError(path, f"not valid UTF-8 or UTF-16 text (bad byte at offset {utf8_error.start})", line)
    raise FormatError(path, "this looks like a binary file, not text")


def _looks_like_text(text: str) -> bool:
    """Plausible UTF-16 without a byte-order mark: printable, and mostly in the scripts we expect.

    Any even-length 8-bit file (cp1252, Bijoy ANSI...) also decodes as UTF-16, into CJK-looking
    nonsense; real notes are Bengali, Latin, digits, punctuation and spaces.
    """
    if not text:
        return False
    visible = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t")
    expected = sum(1 for ch in text if ord(ch) < 0x0250 or 0x0980 <= ord(ch) <= 0x09FF or 0x2000 <= ord(ch) <= 0x206F)
    return visible >= 0.97 * len(text) and expected >= 0.9 * len(text)


CONLL_SUFFIXES = (".conll", ".iob", ".bio", ".iob2", ".bioes")
# never CoNLL whatever they hold; any other suffix is CoNLL when the content says so (corpora name their
# files eng.train, eng.testb, NER-de-dev...)
NOT_CONLL_SUFFIXES = (".md", ".text", ".csv", ".xlsx", ".xmi", ".json", ".jsonl", ".ann")
TEXT_SUFFIXES = (".txt", ".text", ".md")
OFFICE_SUFFIXES = (".ods", ".xls", ".odt", ".docx", ".doc")  # refused with how to convert
MAX_TEXT_BYTES = 4 * MAX_DOCUMENT_CHARS  # no encoding we read takes more than 4 bytes a character
_KNOWN_SUFFIXES = (*CONLL_SUFFIXES, *NOT_CONLL_SUFFIXES, *TEXT_SUFFIXES, *OFFICE_SUFFIXES, ".tsv", ".zip")


def _unnamed(source: Source) -> bool:
    """A suffix no format claims (``eng.testb``, ``notes.data``) or a ``.txt``: its content decides."""
    return source.suffix == ".txt" or source.suffix not in _KNOWN_SUFFIXES


# -- refused formats: recognised, to say how to convert them ---------------------------------------------------

_INCEPTION = "export the project from INCEpTION/WebAnno as CoNLL 2002 or as JSON (UIMA CAS JSON is not read either)"


def _sniff_inception(source: Source) -> float:
    head = source.head().lstrip("\ufeff \t\r\n")[:4000]
    return 1.0 if source.suffix == ".xmi" or head.startswith("#FORMAT=WebAnno TSV") or "<xmi:XMI" in head \
        or "http://www.omg.org/XMI" in head else 0.0


def _read_inception(source: Source, options: ReadOptions) -> list[Document]:
    if source.head().lstrip("\ufeff \t\r\n").startswith("#FORMAT=WebAnno TSV"):
        raise FormatError(source.path, f"this is a WebAnno TSV file, which this app cannot read; {_INCEPTION}")
    raise FormatError(source.path, f"this is a UIMA XMI file, which this app cannot read; {_INCEPTION}")


def _read_office(source: Source, options: ReadOptions) -> list[Document]:
    sheet = source.suffix in (".ods", ".xls")
    kind = "a spreadsheet" if sheet else "a word-processor document"
    target = ".xlsx or .csv" if sheet else "plain text (.txt)"
    raise FormatError(source.path, f"{source.suffix} files ({kind}) cannot be read; open it in LibreOffice or Excel "
                                   f"and save it as {target} (File › Save As), then import that file")


def _sniff_brat_companion(source: Source) -> float:
    return 1.0 if source.name in brat.CONFIG_FILES or brat.is_manifest(source.path) else 0.0


def _read_brat_companion(source: Source, options: ReadOptions) -> list[Document]:
    if brat.is_manifest(source.path):
        raise FormatError(source.path, "this is the list of titles and review status of a BRAT export, not a "
                                       "document; import the .txt/.ann files beside it (it is read with them)")
    raise FormatError(source.path, "this is brat's configuration file, not a document; import the .txt/.ann files "
                                   "beside it")


# -- annotated formats -------------------------------------------------------------------------------------------

def _sniff_brat(source: Source) -> float:
    if source.suffix == ".ann":
        return 0.95
    return 0.95 if source.suffix == ".txt" and brat.pair(source.path) is not None else 0.0


def _read_brat(source: Source, options: ReadOptions) -> list[Document]:
    found = brat.pair(source.path)
    if found is None:
        linked = source.path.with_suffix(".txt").is_symlink()  # never followed: it could lead anywhere
        raise FormatError(source.path, "a BRAT annotation file needs its text beside it, with the same name and .txt"
                                       + ("; the .txt there is a link, which is not followed: copy the file itself"
                                          if linked else ""))
    text_path, ann_path = found
    other = Source(ann_path if source.path == text_path else text_path)
    body, ann = (source.text(), other.text()) if source.path == text_path else (other.text(), source.text())
    return [brat.read_pair(body, ann, text_path=text_path, ann_path=ann_path)]


def _sniff_conll(source: Source) -> float:
    if source.suffix in CONLL_SUFFIXES:
        return 0.9
    if source.suffix in NOT_CONLL_SUFFIXES:
        return 0.0
    head = source.head()
    if conll.looks_like_conll(head):
        return 0.8
    # a corpus with one tag the reader does not know: read as CoNLL, whose reader names that line
    return 0.6 if conll.looks_mostly_like_conll(head) else 0.0


def _jsonl_head(head: str) -> dict | None:
    """The first line of JSON Lines, if it is one object (and more lines start like one)."""
    stripped = head.lstrip("\ufeff \t\r\n")
    if not stripped.startswith("{"):
        return None
    lines = [line for line in stripped.split("\n") if line.strip()]
    if not all(line.lstrip().startswith("{") for line in lines[:3]):
        return None
    try:
        first = json.loads(lines[0])
    except (ValueError, RecursionError):
        return None
    return first if isinstance(first, dict) else None


def _sniff_jsonl(source: Source, *, prodigy: bool) -> float:
    if source.suffix == ".jsonl":
        score = 0.9
    elif source.suffix == ".json" or _unnamed(source):
        first = _jsonl_head(source.head())
        if first is None or (source.suffix == ".json" and len(source.head().strip().split("\n")) < 2):
            return 0.0  # one object in a .json: a Label Studio task
        score = 0.9 if source.suffix == ".json" else 0.7
        if source.suffix != ".json" and not isinstance(first.get("text", first.get("data")), str):
            return 0.0
    else:
        return 0.0
    first = _jsonl_head(source.head()) or {}
    spans = "spans" in first or "answer" in first
    return score + 0.01 if spans == prodigy else score  # same reader either way; the name in reports differs


def _stream_jsonl(source: Source, options: ReadOptions) -> Iterator[Document]:
    total, lines = source.lines()  # from disk a line at a time: a 100 MB file is never held whole
    return jsonl.iter_lines(lines, total, source.path, notes=options.notes, progress=options.progress,
                            cancelled=options.cancelled)


def _sniff_json(source: Source) -> str | None:
    """"healthner" or "labelstudio" for a JSON file (or an unnamed one holding JSON), else None."""
    head = source.head().lstrip("\ufeff \t\r\n")
    if source.suffix != ".json" and not (_unnamed(source) and head.startswith(("[", "{"))):
        return None
    if head.startswith("{"):
        if _jsonl_head(head) is not None and len([x for x in head.split("\n") if x.strip()]) > 1:
            return None  # JSON Lines
        return "labelstudio" if source.suffix == ".json" or labelstudio.looks_like(head) else None
    if _healthner_head(head, source.path, named=source.suffix == ".json"):
        return "healthner"
    return "labelstudio" if source.suffix == ".json" or labelstudio.looks_like(head) else None


def _sniff_labelstudio(source: Source) -> float:
    return (0.8 if source.suffix == ".json" else 0.65) if _sniff_json(source) == "labelstudio" else 0.0


def _sniff_healthner(source: Source) -> float:
    return (0.85 if source.suffix == ".json" else 0.7) if _sniff_json(source) == "healthner" else 0.0


def _healthner_head(text: str, path: Path, *, named: bool) -> bool:
    """Whether the first element of the array is ``{"text": str, "labels": [str, ...]}`` (HealthNER). Only a
    ``.json`` (``named``) that cannot be parsed counts as HealthNER without, so its reader says what is wrong."""
    try:
        for _, first in healthner.iter_json_array(text, path):
            labels = first.get("labels") if isinstance(first, dict) else None
            return (isinstance(first, dict) and "labels" in first and "data" not in first
                    and not (isinstance(labels, list) and labels and all(isinstance(x, dict) for x in labels)))
    except FormatError:
        return named and '"annotations"' not in text[:2000] and '"data"' not in text[:2000]
    return named


def _annotated(parse):
    """A reader of a whole annotated file's text (or a streaming one), refusing a file over the size limit."""
    def read(source: Source, options: ReadOptions):
        if source.size > MAX_FILE_BYTES:
            raise FormatError(source.path, f"the file is {source.size / 1e6:.0f} MB; an annotated file can be at "
                                           f"most {MAX_FILE_BYTES / 1e6:.0f} MB. Split it into smaller files")
        return parse(source, options)
    return read


def _whole(stream):
    """The list reader of a streaming one."""
    return lambda source, options: list(stream(source, options))


# -- plain text and spreadsheets: documents to tag ----------------------------------------------------------------

def _sniff_text(source: Source) -> float:
    if source.suffix in TEXT_SUFFIXES:
        return 0.3
    return 0.1 if source.suffix not in _KNOWN_SUFFIXES else 0.0  # whatever else a user picks: text, or said why not


def _read_text(source: Source, options: ReadOptions) -> list[Document]:
    if source.size > MAX_TEXT_BYTES:
        raise FormatError(source.path, f"the file is {source.size / 1e6:.1f} MB; one document can be at most "
                                       f"{MAX_DOCUMENT_CHARS:,} characters. Split it into smaller files")
    text = source.text()
    if not text.strip():
        raise FormatError(source.path, "the file has no text")
    return [Document(text, [], name=source.path.stem, status="unannotated")]


def _stream_table(source: Source, options: ReadOptions) -> Iterator[Document]:
    from engine.formats import tables

    return tables.iter_documents(source, options)


def _write_xlsx(docs: list[Document], path: Path, options: WriteOptions) -> list:
    # the workbook's layout (summary, what a cell could not hold) lives with the export of stored documents
    from engine.exporting import write_xlsx_documents

    return write_xlsx_documents(docs, path, model_version=options.model_version, cancelled=options.cancelled)


def _write_brat(docs: list[Document], path: Path, options: WriteOptions) -> None:
    with open(path, "wb") as out:
        brat.write_zip(out, docs)


def load_documents(path: str | Path | Source, *, labels: Collection[str] | None = None,
                   known_types: Collection[str] = (), notes: list[str] | None = None) -> list[Document]:
    """Load an annotated file, its format found by name and content (:func:`engine.formats.registry.guess`).

    ``.json``: HealthNER (``[{"text", "labels"}]``), a Label Studio export (or JSON-MIN, or one task);
    ``.jsonl``: doccano, Prodigy; ``.conll``/``.iob``/``.bio`` and CoNLL-looking ``.txt``/``.tsv``: CoNLL;
    ``.ann`` (or a ``.txt`` beside one): BRAT; a file of another name holding any of these. ``known_types`` maps
    ``Health_Condition`` (in any of them) back to ``Health Condition``. File-level notes (examples not
    imported, and why) are appended to ``notes``. If ``labels`` (entity types) is given, an unknown type is an
    error.
    """
    source = path if isinstance(path, Source) else Source(path)
    fmt = guess(source)
    if fmt is None or not fmt.annotated:
        raise FormatError(source.path, f"unknown annotated format {source.suffix!r}; expected one of .json, .jsonl, "
                                       ".conll, .ann (or CoNLL columns in .txt/.tsv)")
    return read_documents(source, fmt, ReadOptions(known_types=known_types, notes=notes if notes is not None else []),
                          labels=labels)


def read_documents(source: Source, fmt: Format, options: ReadOptions, *,
                   labels: Collection[str] | None = None) -> list[Document]:
    """``fmt``'s documents of ``source``, with the checks every reader shares (:func:`iter_documents`, whole)."""
    docs = list(iter_documents(source, fmt, options))
    if labels is not None:
        check_labels(docs, labels, source.path)
    return docs


def iter_documents(source: Source, fmt: Format, options: ReadOptions) -> Iterator[Document]:
    """``fmt``'s documents of ``source`` as they are read (a format with a streaming reader hands them over one by
    one; a :class:`FormatError` may come after some), each with the checks every reader shares."""
    known = {t.replace(" ", "_"): t for t in options.known_types if " " in t}
    for doc in fmt.stream(source, options) if fmt.stream is not None else fmt.read(source, options):
        # our CoNLL and BRAT exports write Health_Condition; doccano, spaCy and Label Studio carry it on from there
        if known:
            known_underscores([doc], options.known_types)
        if _SURROGATE.search(doc.text):  # JSON can carry lone surrogates (\ud83d), which no database can store
            raise FormatError(source.path, "the text contains an invalid character (a lone UTF-16 surrogate)", doc.line)
        yield doc


def known_underscores(docs: list[Document], known_types: Collection[str]) -> None:
    """``Health_Condition`` back to ``Health Condition`` where that is a known type (in place)."""
    known = {t.replace(" ", "_"): t for t in known_types if " " in t}
    if not known:
        return
    for doc in docs:
        doc.entities = [Entity(e.start, e.end, known[e.label], e.confidence, e.assertion) if e.label in known else e
                        for e in doc.entities]


def check_labels(docs: list[Document], labels: Collection[str], path: str | Path) -> None:
    """Raise naming the first document whose entity type is not in ``labels``."""
    known = set(labels)
    for i, doc in enumerate(docs):
        for ent in doc.entities:
            if ent.label not in known:
                raise FormatError(
                    path,
                    f"document {i + 1} has entity type {ent.label!r}, not one of {sorted(known)}",
                    doc.line,
                )


__all__ = ["FormatError", "iter_documents", "load_documents", "read_documents", "read_text_file", "decode_text", "check_labels",
           "known_underscores", "brat", "conll", "healthner", "jsonl", "labelstudio"]


# -- the registry: one record per format; the order is the Export menu's, and wins ties in detection -------------

register(Format("office", "Office documents (.ods, .xls, .docx…)", OFFICE_SUFFIXES, by_suffix(OFFICE_SUFFIXES, 1.0),
                _read_office, importable=False))
register(Format("inception", "WebAnno TSV / UIMA XMI", (".xmi",), _sniff_inception, _read_inception, importable=False))
register(Format("brat-companion", "brat configuration", (".conf",), _sniff_brat_companion, _read_brat_companion,
                importable=False))
register(Format("xlsx", "Excel workbook", (".xlsx",), by_suffix((".xlsx",), 0.5), _whole(_stream_table),
                stream=_stream_table, write=_write_xlsx, menu="Export to Excel…", menu_key="export_xlsx", reviewed_only=False, annotated=False,
                table=True))
register(Format("csv", "CSV / TSV table", (".csv", ".tsv"), by_suffix((".csv", ".tsv"), 0.5),
                _whole(_stream_table), stream=_stream_table, annotated=False, table=True))
register(Format("text", "Plain text", TEXT_SUFFIXES, _sniff_text, _read_text, annotated=False))
register(Format("doccano", "doccano JSONL", (".jsonl",), lambda s: _sniff_jsonl(s, prodigy=False),
                _whole(_annotated(_stream_jsonl)), lambda d, o: jsonl.dumps_doccano(d), menu="Export reviewed as JSONL…",
                stream=_annotated(_stream_jsonl)))
register(Format("conll", "CoNLL", CONLL_SUFFIXES, _sniff_conll,
                _annotated(lambda s, o: conll.parse(s.text(), s.path, known_types=o.known_types)),
                lambda d, o: conll.dumps(d), menu="Export reviewed as CoNLL…"))
register(Format("prodigy", "Prodigy JSONL", (".jsonl",), lambda s: _sniff_jsonl(s, prodigy=True),
                _whole(_annotated(_stream_jsonl)), lambda d, o: jsonl.dumps_prodigy(d),
                menu="Export reviewed as Prodigy JSONL…", stream=_annotated(_stream_jsonl)))
register(Format("labelstudio", "Label Studio JSON", (".json",), _sniff_labelstudio,
                _annotated(lambda s, o: labelstudio.parse(s.text(), s.path)),
                lambda d, o: labelstudio.dumps(d, model_version=o.model_version),
                menu="Export to Label Studio…", reviewed_only=False))
register(Format("healthner", "HealthNER JSON", (".json",), _sniff_healthner,
                _annotated(lambda s, o: healthner.parse(s.text(), s.path))))
register(Format("brat", "BRAT standoff (.zip of .txt/.ann pairs)", (".ann",), _sniff_brat, _annotated(_read_brat),
                write=_write_brat, menu="Export reviewed as BRAT (.zip)…", write_suffix=".zip"))
