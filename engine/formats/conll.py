"""CoNLL as people have it: one token per line, columns, a blank line between documents.

Columns are split on tabs when the line has one (so ``token<TAB>B-Health Condition`` keeps its space),
else on runs of spaces (``EU NNP B-NP B-ORG``); Label Studio's ``token -X- _ TAG`` keeps a space inside its
tag (``B-Health Condition``); the token is the first column and the tag the last. ``-DOCSTART-`` lines and ``#`` comments (MultiCoNER's ``# id ...``) are skipped.
A running number in front of each token (GermEval 2014: ``7<TAB>Stuttgart<TAB>B-LOC<TAB>O``) is not the token;
there, of two tag columns the first holds the outer entities and the last the nested ones, which are
counted in the document's notes (a document holds no nested entities).
IOB1, IOB2, BIOES, BILOU and IO tags are all read, into IOB2 spans.

The writer puts types without spaces (``B-Health_Condition``): whitespace-splitting readers (spaCy's
``convert``, conlleval) would cut ``B-Health Condition`` in two. On import the underscore form maps back
only when it names a known type.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from engine.errors import FormatError
from engine.spans import Document, Entity, entities_to_tags, type_name_problem
from engine.text import Word, split_words, words_from_tokens

_TAG = re.compile(r"^(?:O|[BIESLU]-\S.*)$")
_PREFIXES = "BIESLU"
_STARTS = "BSU"  # begin a new entity whatever came before
_ENDS = "ESLU"  # close the entity they are in


_LABEL_STUDIO = re.compile(r"^\s*(\S+) -X- _ (\S.*?)\s*$")  # its CoNLL-2003 export: the tag may hold a space


def _columns(line: str) -> list[str]:
    if "\t" in line:
        return [p.strip() for p in line.split("\t")]
    found = _LABEL_STUDIO.match(line)
    if found:  # "কাশি -X- _ B-Health Condition": the tag is everything after the placeholders
        return [found[1], "-X-", "_", found[2]]
    return line.split()


def _is_tag(tag: str) -> bool:
    return bool(_TAG.match(tag)) and (tag == "O" or type_name_problem(tag[2:]) is None)


def looks_like_conll(text: str, *, lines: int = 200) -> bool:
    """Whether ``text`` reads as token/tag columns: every one of the first content lines ends in a tag."""
    seen, tabbed, widths = 0, True, set()
    for raw in text.lstrip("\ufeff").splitlines()[: lines * 3]:
        line = raw.strip()
        if not line or line.startswith("-DOCSTART-"):
            continue
        cols = _columns(raw)
        if line.startswith("#") and not (len(cols) >= 2 and _is_tag(cols[-1])):
            continue
        if len(cols) < 2 or not _is_tag(cols[-1]):
            return False
        seen += 1
        tabbed = tabbed and "\t" in raw
        widths.add(len(cols))
        if seen >= lines:
            break
    # a note's line can end in "O" too: columns split by spaces must agree over several lines
    return seen > 0 and (tabbed or (seen >= 2 and len(widths) == 1))


def looks_mostly_like_conll(text: str, *, lines: int = 200) -> bool:
    """Token/tag columns on at least 9 in 10 of the first (ten or more) content lines, split alike: a corpus with
    a tag the reader does not know (``B_PER``), which must be refused naming that line, not read as one note."""
    seen = tagged = 0
    widths: dict[int, int] = {}
    for raw in text.lstrip("\ufeff").splitlines()[: lines * 3]:
        line = raw.strip()
        if not line or line.startswith("-DOCSTART-") or line.startswith("#"):
            continue
        cols = _columns(raw)
        seen += 1
        widths[len(cols)] = widths.get(len(cols), 0) + 1
        tagged += len(cols) >= 2 and _is_tag(cols[-1])
        if seen >= lines:
            break
    return seen >= 10 and tagged * 10 >= seen * 9 and max(widths.values()) * 10 >= seen * 9


def parse(text: str, path: str | Path, *, known_types: Collection[str] = ()) -> list[Document]:
    """Documents of a CoNLL file; ``known_types`` lets ``B-Health_Condition`` mean ``Health Condition``."""
    known = {t.replace(" ", "_"): t for t in known_types if " " in t}
    docs: list[Document] = []
    tokens: list[str] = []
    tags: list[tuple[str, str | None]] = []
    first_line, nested, previous_inner = 1, 0, None
    numbered = _numbered(text)

    def close() -> None:
        nonlocal nested, previous_inner
        if tokens:
            docs.append(_document(tokens, tags, first_line))
            if nested:
                docs[-1].notes.append(f"line {first_line}: {nested} nested entit{'y' if nested == 1 else 'ies'} "
                                      "(the last column) not imported; the outer ones are")
            tokens.clear()
            tags.clear()
        nested, previous_inner = 0, None

    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("-DOCSTART-"):
            close()
            continue
        cols = _columns(raw)
        if line.startswith("#") and not (len(cols) >= 2 and _is_tag(cols[-1])):
            continue  # a comment (``# sent_id = 3``); a token "#" with its tag is a token
        if len(cols) < 2 or not cols[0]:
            raise FormatError(path, "expected 'token<TAB>tag' (a token and its tag, e.g. 'জ্বর<TAB>B-Symptom')", number)
        token, tag = cols[0], cols[-1]
        if numbered:
            token = cols[1]
            if len(cols) == 4 and _is_tag(cols[2]) and _is_tag(cols[3]):
                tag, inner = cols[2], cols[3]
                nested += inner != "O" and (inner[0] in _STARTS or inner[2:] != previous_inner)
                previous_inner = inner[2:] if inner != "O" else None
        if not _is_tag(tag):
            raise FormatError(path, f"not an IOB2 tag: {tag!r} (expected 'O', or B-, I-, E-, S-, L- or U- "
                                    "and a type: IOB, BIOES or BILOU)", number)
        if not tokens:
            first_line = number
        tokens.append(token)
        tags.append(("O", None) if tag == "O" else (tag[0], known.get(tag[2:], tag[2:])))
    close()
    return docs


def _numbered(text: str) -> bool:
    """Every token line starts with its running number in the sentence (1, 2, 3...) and has 3+ columns."""
    position, seen = 0, 0
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.strip()
        if not line or line.startswith("-DOCSTART-"):
            position = 0
            continue
        cols = _columns(raw)
        if line.startswith("#") and not (len(cols) >= 2 and _is_tag(cols[-1])):
            continue
        position += 1
        if len(cols) < 3 or cols[0] != str(position):
            return False
        seen += 1
    return seen > 0


def _document(tokens: list[str], tags: list[tuple[str, str | None]], line: int) -> Document:
    """Tokens joined by single spaces; entities from any of the IOB schemes.

    One rule serves them all: an entity begins at B/S/U, or at I/E/L after O, after another type, or
    after a tag that closed its entity (E/S/L/U); so IOB1 and IO runs of I- become one entity each.
    """
    words, pos = [], 0
    for tok in tokens:
        words.append(Word(tok, pos, pos + len(tok)))
        pos += len(tok) + 1
    entities: list[Entity] = []
    current: list = []  # [start, end, type]
    previous = "O"
    for word, (prefix, kind) in zip(words, tags):
        continues = (current and kind == current[2] and prefix not in _STARTS and previous not in _ENDS)
        if continues:
            current[1] = word.end
        else:
            if current:
                entities.append(Entity(*current))
            current = [word.start, word.end, kind] if kind is not None else []
        previous = prefix
    if current:
        entities.append(Entity(*current))
    return Document(" ".join(tokens), entities, words=words, line=line)


def export_words(text: str) -> list[Word]:
    """The words of ``text`` as CoNLL tokens: every non-space character belongs to one.

    :func:`engine.text.split_words` leaves out a joiner at a word's edge (``ডায়াবেটিস\\u200c``) and other
    invisible characters; here each such character joins the token before it (or, after a space, the one it opens),
    so the written tokens keep all of the text but its spaces.
    """
    words = split_words(text)
    if not words:  # nothing but invisible characters: each run between spaces is a token
        return words_from_tokens(text, text.split())
    out: list[Word] = []
    for i, w in enumerate(words):
        start, end = w.start, w.end
        floor = out[-1].end if out else 0
        # invisible characters after a space (a ZWNJ opening a word) go with the word they open
        while start > floor and not text[start - 1].isspace():
            start -= 1
        limit = words[i + 1].start if i + 1 < len(words) else len(text)
        while end < limit and not text[end].isspace():
            end += 1
        out.append(Word(text[start:end], start, end))
    return out


def dumps(docs: list[Document]) -> str:
    """Tab-separated ``token<TAB>tag`` lines, types with underscores for spaces, a blank line between documents."""
    blocks = []
    for doc in docs:
        words = doc.words if doc.words is not None else export_words(doc.text)
        tags = [t.replace(" ", "_") for t in entities_to_tags(words, doc.entities)]
        lines = [f"{w.text}\t{t}" for w, t in zip(words, tags) if w.text.strip()]
        if lines:
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
