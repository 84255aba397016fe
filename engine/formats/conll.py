"""CoNLL: one ``token<TAB>tag`` per line, a blank line between documents."""

from __future__ import annotations

from pathlib import Path

from engine.errors import FormatError
from engine.spans import Document, entities_to_tags, parse_tag, tags_to_entities
from engine.text import Word


def parse(text: str, path: str | Path) -> list[Document]:
    docs: list[Document] = []
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 1
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            if tokens:
                docs.append(_document(tokens, tags, first_line))
                tokens, tags = [], []
            continue
        if line.startswith("-DOCSTART-"):
            continue
        if not tokens:
            first_line = number
        parts = line.split("\t") if "\t" in line else line.rsplit(" ", 1)
        if len(parts) < 2 or not parts[0].strip():
            raise FormatError(path, "expected 'token<TAB>tag'", number)
        token, tag = parts[0].strip(), parts[-1].strip()
        try:
            parse_tag(tag)
        except ValueError as exc:
            raise FormatError(path, str(exc), number) from None
        tokens.append(token)
        tags.append(tag)
    if tokens:
        docs.append(_document(tokens, tags, first_line))
    return docs


def _document(tokens: list[str], tags: list[str], line: int) -> Document:
    words, pos = [], 0
    for tok in tokens:
        words.append(Word(tok, pos, pos + len(tok)))
        pos += len(tok) + 1
    text = " ".join(tokens)
    return Document(text, tags_to_entities(words, tags), words=words, line=line)


def dumps(docs: list[Document]) -> str:
    blocks = []
    for doc in docs:
        words = doc.tokens()
        tags = entities_to_tags(words, doc.entities)
        blocks.append("\n".join(f"{w.text}\t{t}" for w, t in zip(words, tags)))
    return "\n\n".join(blocks) + "\n"
