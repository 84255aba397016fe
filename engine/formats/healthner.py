"""Bangla-HealthNER JSON: ``[{"text": str, "labels": [IOB2 tag per text.split() token]}]``."""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import FormatError
from engine.spans import Document, entities_to_tags, parse_tag, tags_to_entities
from engine.text import words_from_tokens


def iter_json_array(text: str, path: str | Path):
    """Yield ``(line, element)`` for each element of a top-level JSON array."""
    decoder = json.JSONDecoder()
    n = len(text)
    pos = _skip_ws(text, 0)
    if pos >= n or text[pos] != "[":
        raise FormatError(path, "expected a JSON array ('[' ...)", _line(text, pos))
    pos = _skip_ws(text, pos + 1)
    if pos < n and text[pos] == "]":
        return
    while True:
        if pos >= n:
            raise FormatError(path, "the file ends in the middle of the JSON array (truncated?)", _line(text, pos))
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise FormatError(path, f"invalid JSON: {exc.msg}", exc.lineno) from None
        yield _line(text, pos), item
        pos = _skip_ws(text, end)
        if pos < n and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
        elif pos < n and text[pos] == "]":
            return
        else:
            raise FormatError(path, "expected ',' or ']' after an element (truncated?)", _line(text, pos))


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


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
        docs.append(Document(item["text"], tags_to_entities(words, tags), words=words, line=line))
    return docs


def dumps(docs: list[Document]) -> str:
    """Write documents as HealthNER JSON (tokens joined by single spaces)."""
    out = []
    for doc in docs:
        words = doc.tokens()
        out.append({"text": " ".join(w.text for w in words), "labels": entities_to_tags(words, doc.entities)})
    return json.dumps(out, ensure_ascii=False, indent=1)
