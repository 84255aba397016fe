"""Bangla-HealthNER JSON: ``[{"text": str, "labels": [IOB2 tag per text.split() token]}]``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import FormatError
from engine.limits import MAX_JSON_DEPTH
from engine.spans import Document, entities_to_tags, parse_tag, tags_to_entities
from engine.text import words_from_tokens

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def check_json_depth(text: str, path: str | Path, line: int | None = None) -> None:
    """Refuse JSON nested deeper than :data:`MAX_JSON_DEPTH` before decoding it.

    Python's decoder recurses once per level and fails near 1,000 with a RecursionError; strings are
    removed first (C-speed regular expressions), so only the brackets are counted in Python.
    """
    depth = 0
    for ch in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if ch in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise FormatError(path, f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep; "
                                    "the formats this app reads need fewer than 10", line)


@contextmanager
def json_errors(path: str | Path, line: int | None, *, what: str = "invalid JSON") -> Iterator[None]:
    """Turn the ``json`` module's failures inside the block into :class:`FormatError`."""
    try:
        yield
    except json.JSONDecodeError as exc:
        raise FormatError(path, f"{what}: {exc.msg}", exc.lineno if line is None else line) from None
    except RecursionError:  # check_json_depth missed it (a malformed string confused it): still a clear error
        raise FormatError(path, f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep", line) from None


def iter_json_array(text: str, path: str | Path):
    """Yield ``(line, element)`` for each element of a top-level JSON array.

    Line numbers are counted from the previous element, not from the start: linear in the file size.
    """
    check_json_depth(text, path)
    decoder = json.JSONDecoder()
    n = len(text)
    pos = _skip_ws(text, 0)
    line, counted = 1, 0

    def line_at(p: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, p)
        counted = p
        return line

    if pos >= n or text[pos] != "[":
        raise FormatError(path, "expected a JSON array ('[' ...)", line_at(pos))
    pos = _skip_ws(text, pos + 1)
    if pos < n and text[pos] == "]":
        return
    while True:
        if pos >= n:
            raise FormatError(path, "the file ends in the middle of the JSON array (truncated?)", line_at(pos))
        start = pos
        with json_errors(path, None):
            item, end = decoder.raw_decode(text, start)
        yield line_at(start), item
        pos = _skip_ws(text, end)
        if pos < n and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
        elif pos < n and text[pos] == "]":
            return
        else:
            raise FormatError(path, "expected ',' or ']' after an element (truncated?)", line_at(pos))


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def parse(text: str, path: str | Path) -> list[Document]:
    docs = []
    for line, item in iter_json_array(text, path):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not isinstance(item.get("labels"), list):
            raise FormatError(path, 'each element must be {"text": string, "labels": [tags]}', line)
        tokens = item["text"].split()
        tags = item["labels"]
        if len(tokens) != len(tags):
            raise FormatError(path, f"{len(tokens)} tokens but {len(tags)} labels", line)
        bad = next((t for t in tags if not isinstance(t, str)), None)
        if bad is not None:
            raise FormatError(path, f"a label must be an IOB2 tag string such as 'B-Medicine', got {bad!r}", line)
        try:
            for tag in tags:
                parse_tag(tag)
        except (ValueError, TypeError) as exc:
            raise FormatError(path, str(exc), line) from None
        words = words_from_tokens(item["text"], tokens)
        try:
            entities = tags_to_entities(words, tags)
        except ValueError as exc:
            raise FormatError(path, str(exc), line) from None
        docs.append(Document(item["text"], entities, words=words, line=line))
    return docs


def dumps(docs: list[Document]) -> str:
    """Write documents as HealthNER JSON (tokens joined by single spaces)."""
    out = []
    for doc in docs:
        words = doc.tokens()
        out.append({"text": " ".join(w.text for w in words), "labels": entities_to_tags(words, doc.entities)})
    return json.dumps(out, ensure_ascii=False, indent=1)
