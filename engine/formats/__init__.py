"""Read and write annotated documents in the formats clinics and tools use.

Every reader returns :class:`engine.spans.Document` objects (text + character
spans); every error is an :class:`engine.errors.FormatError` naming the file
and, where it applies, the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from pathlib import Path

from engine.errors import FormatError
from engine.formats import brat, conll, healthner, jsonl, labelstudio
from engine.spans import Document, Entity
from engine.text import looks_like_notes

_SURROGATE = re.compile("[\ud800-\udfff]")


def read_text_file(path: str | Path) -> str:
    """Read a text file as UTF-8 or UTF-16 (BOM optional); clear error otherwise."""
    raw = Path(path).read_bytes()
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
MAYBE_CONLL_SUFFIXES = (".txt", ".tsv")  # CoNLL when the content says so, else plain text
# never CoNLL whatever they hold; any other suffix is CoNLL when the content says so (corpora name their
# files eng.train, eng.testb, NER-de-dev...)
NOT_CONLL_SUFFIXES = (".md", ".text", ".csv", ".xlsx", ".xmi", ".json", ".jsonl", ".ann")


def refused_format(text: str, path: Path) -> str | None:
    """Why a file of a known but unsupported annotation format is refused (None if it is not one)."""
    head = text.lstrip("\ufeff \t\r\n")[:4000]
    export = "export the project from INCEpTION/WebAnno as CoNLL 2002 or as JSON (UIMA CAS JSON is not read either)"
    if path.name in brat.CONFIG_FILES:
        return "this is brat's configuration file, not a document; import the .txt/.ann files beside it"
    if head.startswith("#FORMAT=WebAnno TSV"):
        return f"this is a WebAnno TSV file, which this app cannot read; {export}"
    if path.suffix.lower() == ".xmi" or "<xmi:XMI" in head or "http://www.omg.org/XMI" in head:
        return f"this is a UIMA XMI file, which this app cannot read; {export}"
    return None


def detect(path: Path, text: str) -> str | None:
    """The annotated format of a file, from its name and content: "conll", "jsonl", "labelstudio",
    "healthner", "brat", or None for plain text (and unknown suffixes that do not hold CoNLL columns)."""
    suffix = path.suffix.lower()
    if suffix in (".ann", ".txt") and brat.pair(path) is not None:
        return "brat"
    if suffix in CONLL_SUFFIXES:
        return "conll"
    if suffix in MAYBE_CONLL_SUFFIXES:
        return "conll" if conll.looks_like_conll(text) else None
    if suffix == ".jsonl":
        return "jsonl"
    if suffix == ".json":
        stripped = text.lstrip("\ufeff \t\r\n")
        if stripped.startswith("{"):
            lines = [line for line in stripped.split("\n") if line.strip()]
            if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines[:3]) \
                    and _one_object(lines[0]):
                return "jsonl"  # JSON Lines saved as .json
            return "labelstudio"
        return "healthner" if _healthner_head(stripped, path) else "labelstudio"
    if suffix not in NOT_CONLL_SUFFIXES and conll.looks_like_conll(text):
        return "conll"
    return None


def _one_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


def _healthner_head(text: str, path: Path) -> bool:
    """Whether the first element of the array is ``{"text": str, "labels": [str, ...]}`` (HealthNER)."""
    try:
        for _, first in healthner.iter_json_array(text, path):
            labels = first.get("labels") if isinstance(first, dict) else None
            return (isinstance(first, dict) and "labels" in first and "data" not in first
                    and not (isinstance(labels, list) and labels and all(isinstance(x, dict) for x in labels)))
    except FormatError:
        return '"annotations"' not in text[:2000] and '"data"' not in text[:2000]  # the parser says what is wrong
    return True


def load_documents(path: str | Path, *, labels: Collection[str] | None = None, known_types: Collection[str] = (),
                   notes: list[str] | None = None) -> list[Document]:
    """Load an annotated file, choosing the reader from its suffix and content (:func:`detect`).

    ``.json``: HealthNER (``[{"text", "labels"}]``), a Label Studio export (or JSON-MIN, or one task);
    ``.jsonl``: doccano, Prodigy; ``.conll``/``.iob``/``.bio`` and CoNLL-looking ``.txt``/``.tsv``: CoNLL;
    ``.ann`` (or a ``.txt`` beside one): BRAT. ``known_types`` maps ``Health_Condition`` (in any of them) back
    to ``Health Condition``. File-level notes (examples not imported, and why) are appended to ``notes``.
    If ``labels`` (entity types) is given, an unknown type is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(path, "no such file")
    if brat.is_manifest(path):
        raise FormatError(path, "this is the list of titles and review status of a BRAT export, not a document; "
                                "import the .txt/.ann files beside it (it is read with them)")
    if path.suffix.lower() == ".ann" and brat.pair(path) is None:
        raise FormatError(path, "a BRAT annotation file needs its text beside it, with the same name and .txt")
    text = read_text_file(path)
    refused = refused_format(text, path)
    if refused:
        raise FormatError(path, refused)
    kind = detect(path, text)
    if kind == "brat":
        text_path, ann_path = brat.pair(path)
        body = text if path == text_path else read_text_file(text_path)
        ann = text if path == ann_path else read_text_file(ann_path)
        docs = [brat.read_pair(body, ann, text_path=text_path, ann_path=ann_path)]
    elif kind == "conll":
        docs = conll.parse(text, path, known_types=known_types)
    elif kind == "jsonl":
        docs = jsonl.parse(text, path, notes=notes)
    elif kind == "labelstudio":
        docs = labelstudio.parse(text, path)
    elif kind == "healthner":
        docs = healthner.parse(text, path)
    else:
        raise FormatError(path, f"unknown annotated format {path.suffix!r}; expected one of .json, .jsonl, .conll, "
                                ".ann (or CoNLL columns in .txt/.tsv)")
    # our CoNLL and BRAT exports write Health_Condition; doccano, spaCy and Label Studio carry it on from there
    known_underscores(docs, known_types)
    for doc in docs:  # JSON can carry lone surrogates (\ud83d), which no database or workbook can store
        if _SURROGATE.search(doc.text):
            raise FormatError(path, "the text contains an invalid character (a lone UTF-16 surrogate)", doc.line)
    if labels is not None:
        check_labels(docs, labels, path)
    return docs


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


__all__ = ["FormatError", "load_documents", "read_text_file", "check_labels", "detect", "refused_format", "brat",
           "conll", "healthner", "jsonl", "labelstudio"]
