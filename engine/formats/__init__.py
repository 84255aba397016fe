"""Read and write annotated documents in the formats clinics and tools use.

Every reader returns :class:`engine.spans.Document` objects (text + character
spans); every error is an :class:`engine.errors.FormatError` naming the file
and, where it applies, the line.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from engine.errors import FormatError
from engine.formats import conll, healthner, jsonl
from engine.spans import Document

ANNOTATED_SUFFIXES = (".json", ".jsonl", ".conll")
_SURROGATE = re.compile("[\ud800-\udfff]")


def read_text_file(path: str | Path) -> str:
    """Read a text file as UTF-8 or UTF-16 (BOM optional); clear error otherwise."""
    raw = Path(path).read_bytes()
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                raise FormatError(path, f"not valid {encoding.upper()} text despite its byte-order mark") from None
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


def load_documents(path: str | Path, *, labels: Collection[str] | None = None) -> list[Document]:
    """Load an annotated file, choosing the reader from its suffix and content.

    ``.json``: HealthNER (``[{"text", "labels"}]``) or a Label Studio export;
    ``.jsonl``: doccano; ``.conll``/``.tsv``/``.txt`` with tab-separated tags: CoNLL.
    If ``labels`` (entity types) is given, an unknown type is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(path, "no such file")
    text = read_text_file(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        head = text.lstrip()[:2000]
        if '"annotations"' in head or '"data"' in head:
            docs = jsonl.parse_label_studio(text, path)
        else:
            docs = healthner.parse(text, path)
    elif suffix == ".jsonl":
        docs = jsonl.parse_doccano(text, path)
    elif suffix in (".conll", ".tsv", ".txt", ".iob"):
        docs = conll.parse(text, path)
    else:
        raise FormatError(path, f"unknown annotated format {suffix!r}; expected one of .json, .jsonl, .conll")
    for doc in docs:  # JSON can carry lone surrogates (\ud83d), which no database or workbook can store
        if _SURROGATE.search(doc.text):
            raise FormatError(path, "the text contains an invalid character (a lone UTF-16 surrogate)", doc.line)
    if labels is not None:
        check_labels(docs, labels, path)
    return docs


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


__all__ = ["FormatError", "load_documents", "read_text_file", "check_labels", "conll", "healthner", "jsonl"]
