"""BRAT standoff: ``name.txt`` holds the text, ``name.ann`` its annotations (``T1<TAB>Type 0 5<TAB>text``).

The usual format of biomedical NER corpora. Only text-bound annotations (``T``) become entities; a
discontinuous one (``T1 Type 0 5;10 15``) keeps its first fragment; an ``Assertion`` attribute
(``A1 Assertion T1 absent``) gives the entity its assertion; other relations, events, attributes and
normalisations are counted in the notes, never dropped without a word. BRAT counts offsets in code points.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import replace
from pathlib import Path

from engine.errors import FormatError
from engine.formats.regions import describe, keep_fitting, place
from engine.spans import ASSERTIONS, PRESENT, Document, Entity

ASSERTION_ATTRIBUTE = "Assertion"  # "A1<TAB>Assertion T1 absent": the one attribute read back
_FRAGMENT = re.compile(r"^(\d+) (\d+)$")
_KINDS = {"R": "relation", "E": "event", "A": "attribute", "M": "attribute", "N": "normalisation", "*": "equivalence"}


def pair(path: Path) -> tuple[Path, Path] | None:
    """``(text file, annotation file)`` when ``path`` is either one of a BRAT pair, else None."""
    suffix = path.suffix.lower()
    if suffix == ".ann":
        for candidate in (path.with_suffix(".txt"), path.with_suffix(".TXT")):
            if candidate.is_file():
                return candidate, path
        return None
    if suffix == ".txt":
        ann = path.with_suffix(".ann")
        return (path, ann) if ann.is_file() else None
    return None


def parse(text: str, ann: str, path: str | Path, *, name: str = "") -> Document:
    """The document of one pair: ``text`` (the .txt) and ``ann`` (the .ann file's content)."""
    entities: list[Entity] = []
    notes: list[str] = []
    other: dict[str, int] = {}
    ids: dict[str, int] = {}  # T id -> index in entities
    asserted: dict[str, str] = {}  # T id -> assertion, from "A1<TAB>Assertion T1 absent"
    for number, raw in enumerate(ann.lstrip("\ufeff").split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        kind = line[0]
        if kind == "#":
            continue  # an annotator's note
        if kind != "T":
            if kind not in _KINDS:
                raise FormatError(path, f"not a BRAT annotation line: {line[:60]!r} (expected T, R, E, A, M, N, "
                                        "* or #)", number)
            attribute = line.split("\t")[1].split() if kind in "AM" and line.count("\t") >= 1 else []
            if len(attribute) == 3 and attribute[0] == ASSERTION_ATTRIBUTE and attribute[2] in ASSERTIONS:
                asserted[attribute[1]] = attribute[2]
                continue
            other[_KINDS[kind]] = other.get(_KINDS[kind], 0) + 1
            continue
        parts = line.split("\t")
        if len(parts) < 2 or " " not in parts[1]:
            raise FormatError(path, "expected 'T1<TAB>Type start end<TAB>text'", number)
        label, _, offsets = parts[1].partition(" ")
        fragments = []
        for fragment in offsets.split(";"):
            match = _FRAGMENT.match(fragment.strip())
            if match is None:
                raise FormatError(path, f"offsets must be 'start end' (or 'start end;start end'), got {offsets!r}",
                                  number)
            fragments.append((int(match.group(1)), int(match.group(2))))
        stated = parts[2] if len(parts) > 2 else None
        start, end = fragments[0]
        if len(fragments) > 1:  # the stated text joins the fragments with spaces: check the first one only
            first_len = end - start
            stated = stated[:first_len] if stated is not None and len(stated) >= first_len else None
        entity = place(text, start, end, label, stated=stated, utf16=False, path=path, line=number)
        if len(fragments) > 1:
            notes.append(f"{Path(path).name}:{number}: {parts[0]} is discontinuous ({offsets}); only its first "
                         f"fragment {describe(text, entity)} was imported")
        ids[parts[0]] = len(entities)
        entities.append(entity)
    for tid, assertion in asserted.items():
        if tid in ids:
            entities[ids[tid]] = replace(entities[ids[tid]], assertion=assertion)
    kept, overlap_notes = keep_fitting(text, entities, where=Path(path).name)
    for kind, count in sorted(other.items()):
        notes.append(f"{Path(path).name}: {count} {kind}(s) not imported (only entities are)")
    return Document(text, kept, name=name, line=None, notes=notes + overlap_notes)


def dumps(doc: Document) -> str:
    """The .ann content for ``doc`` (its text is the .txt, written as is)."""
    lines, attributes = [], []
    for n, e in enumerate(sorted(doc.entities, key=lambda e: (e.start, e.end)), start=1):
        span = doc.text[e.start:e.end].replace("\n", " ").replace("\r", " ").replace("\t", " ")
        lines.append(f"T{n}\t{e.label.replace(' ', '_')} {e.start} {e.end}\t{span}")
        if e.assertion != PRESENT:  # present is the default: no line, as brat shows an unset attribute
            attributes.append(f"A{len(attributes) + 1}\t{ASSERTION_ATTRIBUTE} T{n} {e.assertion}")
    lines += attributes
    return "\n".join(lines) + ("\n" if lines else "")


def write_zip(out: io.BufferedIOBase | Path, docs: list[Document]) -> None:
    """A zip of ``NNNN-title.txt`` / ``.ann`` pairs and an ``annotation.conf``: unzip into brat's data folder.

    Type names with spaces are written with underscores (BRAT's own rule); the reader maps them back when
    they name a type of the app (see :func:`engine.formats.load_documents`).
    """
    types = sorted({e.label.replace(" ", "_") for d in docs for e in d.entities})
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("annotation.conf", "[entities]\n" + "".join(f"{t}\n" for t in types)
                    + "[relations]\n[events]\n[attributes]\n"
                    + f"{ASSERTION_ATTRIBUTE}\tArg:<ENTITY>, Value:{'|'.join(ASSERTIONS)}\n")
        for n, doc in enumerate(docs, start=1):
            stem = f"{n:04d}-" + re.sub(r"[^\w\-]+", "_", doc.name)[:60].strip("_") if doc.name else f"{n:04d}"
            zf.writestr(f"{stem}.txt", doc.text.encode("utf-8"))
            zf.writestr(f"{stem}.ann", dumps(doc).encode("utf-8"))
