"""BRAT standoff: ``name.txt`` holds the text, ``name.ann`` its annotations (``T1<TAB>Type 0 5<TAB>text``).

The usual format of biomedical NER corpora. Only text-bound annotations (``T``) become entities; a
discontinuous one (``T1 Type 0 5;10 15``) keeps its first fragment; an ``Assertion`` attribute
(``A1 Assertion T1 absent``) gives the entity its assertion; other relations, events, attributes and
normalisations are counted in the notes, never dropped without a word. BRAT counts offsets in code points.

BRAT has no place for a document's title, metadata or review status, nor for a model's scores: our export
writes them to one manifest (:data:`MANIFEST`) beside the pairs, keyed by file stem, and the reader restores
them from it when it is in the pair's folder. Without it a pair is a person's annotation titled by its stem.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from engine.errors import FormatError
from engine.formats.healthner import check_json_depth
from engine.formats.regions import describe, keep_fitting, place
from engine.limits import MAX_FILE_BYTES
from engine.spans import ASSERTIONS, PRESENT, Document, Entity

ASSERTION_ATTRIBUTE = "Assertion"  # "A1<TAB>Assertion T1 absent": the one attribute read back
_FRAGMENT = re.compile(r"^(\d+) (\d+)$")
MANIFEST = "meder-documents.json"  # beside the pairs of our export: titles, metadata, review status, scores
MANIFEST_FORMAT = "bangla-meder brat documents"
STATUSES = ("annotated", "suggested", "unannotated")  # engine.spans.Document.status
CONFIG_FILES = ("annotation.conf", "visual.conf", "tools.conf", "kb_shortcuts.conf")  # brat's, beside the pairs
_KINDS = {"R": "relation", "E": "event", "A": "attribute", "M": "attribute", "N": "normalisation", "*": "equivalence"}


def pair(path: Path) -> tuple[Path, Path] | None:
    """``(text file, annotation file)`` when ``path`` is either one of a BRAT pair, else None."""
    suffix = path.suffix.lower()
    if suffix == ".ann":
        for candidate in (path.with_suffix(".txt"), path.with_suffix(".TXT")):
            if _companion(candidate):
                return candidate, path
        return None
    if suffix == ".txt":
        ann = path.with_suffix(".ann")
        return (path, ann) if _companion(ann) else None
    return None


def _companion(path: Path) -> bool:
    """A file read because it sits beside the one chosen: a real file, never a link (which could lead anywhere,
    to another patient's notes say), so only what the user chose is followed."""
    return path.is_file() and not path.is_symlink()


def parse(text: str, ann: str, path: str | Path, *, name: str = "", scores: dict[str, float] | None = None) -> Document:
    """The document of one pair: ``text`` (the .txt) and ``ann`` (the .ann file's content).

    ``scores`` (T id -> a model's confidence, from :data:`MANIFEST`) are given to those entities.
    """
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
        entity = place(text, start, end, label, stated=stated, utf16=False, path=path, line=number,
                       confidence=(scores or {}).get(parts[0]))
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


def is_manifest(path: Path) -> bool:
    return path.name == MANIFEST


def companion_note(path: Path) -> str | None:
    """What a file that sits beside BRAT pairs but is no document is (our manifest, brat's configuration)."""
    if is_manifest(path):
        return "the titles and review status of the BRAT files beside it, read with them; not a document"
    if path.name in CONFIG_FILES:
        return "brat's configuration of the BRAT files beside it (entity types, colours); not a document"
    return None


def file_stems(docs: list[Document]) -> list[str]:
    """One file stem per document, safe on every system: ``0001``, ``0002-ward_3``... (ASCII only, numbered
    so that equal titles, or titles differing only in case or in letters left out, never collide)."""
    stems = []
    for n, doc in enumerate(docs, start=1):
        slug = re.sub(r"[^A-Za-z0-9]+", "_", doc.name).strip("_")[:60].strip("_")
        stems.append(f"{n:04d}-{slug}" if slug else f"{n:04d}")
    return stems


def dumps_manifest(docs: list[Document], stems: list[str]) -> str:
    """The :data:`MANIFEST` of ``docs`` written as ``stems``: title, review status, metadata, and for a model's
    suggestions the confidence of each scored entity by its T id (ids as :func:`dumps` numbers them)."""
    entries = {}
    for stem, doc in zip(stems, docs):
        entry: dict = {"title": doc.name, "status": doc.status, "metadata": dict(doc.metadata)}
        ordered = sorted(doc.entities, key=lambda e: (e.start, e.end))
        scores = {f"T{n}": round(e.confidence, 4) for n, e in enumerate(ordered, start=1) if e.confidence is not None}
        if scores and doc.status != "annotated":  # a reviewed document's entities are a person's: no scores
            entry["scores"] = scores
        entries[stem] = entry
    return json.dumps({"format": MANIFEST_FORMAT, "version": 1, "documents": entries}, ensure_ascii=False,
                      indent=1) + "\n"


def write_zip(out: io.BufferedIOBase | Path, docs: list[Document]) -> None:
    """A zip of ``NNNN-title.txt`` / ``.ann`` pairs, an ``annotation.conf`` and the :data:`MANIFEST`: unzip into
    brat's data folder (brat ignores the manifest), or import the unzipped files back into this app.

    Type names with spaces are written with underscores (BRAT's own rule); the reader maps them back when
    they name a type of the app (see :func:`engine.formats.load_documents`).
    """
    types = sorted({e.label.replace(" ", "_") for d in docs for e in d.entities})
    stems = file_stems(docs)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("annotation.conf", "[entities]\n" + "".join(f"{t}\n" for t in types)
                    + "[relations]\n[events]\n[attributes]\n"
                    + f"{ASSERTION_ATTRIBUTE}\tArg:<ENTITY>, Value:{'|'.join(ASSERTIONS)}\n")
        for stem, doc in zip(stems, docs):
            zf.writestr(f"{stem}.txt", doc.text.encode("utf-8"))
            zf.writestr(f"{stem}.ann", dumps(doc).encode("utf-8"))
        zf.writestr(MANIFEST, dumps_manifest(docs, stems).encode("utf-8"))


def manifest_entry(text_path: Path) -> tuple[dict | None, str | None]:
    """What :data:`MANIFEST` beside ``text_path`` says of its document: ``(entry, None)``, ``(None, None)``
    when there is no manifest or it does not name this file, ``(None, why)`` when it cannot be used."""
    manifest = text_path.with_name(MANIFEST)
    try:
        stat = manifest.stat()
    except OSError:
        return None, None
    entries, problem = _read_manifest(str(manifest), stat.st_mtime_ns, stat.st_size)
    if problem is not None:
        return None, f"{MANIFEST} beside it cannot be read ({problem})"
    entry = entries.get(text_path.stem)
    if entry is None:
        return None, None
    problem = _entry_problem(entry)
    if problem is not None:
        return None, f"{MANIFEST} beside it has a damaged entry for {text_path.stem!r} ({problem})"
    return entry, None


@lru_cache(maxsize=4)
def _read_manifest(path: str, _mtime_ns: int, size: int) -> tuple[dict, str | None]:
    """The manifest's entries by stem (read once for all the pairs of a folder; the key changes with the file)."""
    if size > MAX_FILE_BYTES:
        return {}, f"it is {size / 1e6:.0f} MB"
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
        check_json_depth(text, path)
        data = json.loads(text)
    except (OSError, UnicodeError, ValueError, RecursionError, FormatError) as exc:
        return {}, f"{exc.__class__.__name__}: {str(exc)[:120]}"
    if not (isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT
            and isinstance(data.get("documents"), dict)):
        return {}, f'expected {{"format": "{MANIFEST_FORMAT}", "documents": {{...}}}}'
    return data["documents"], None


def _entry_problem(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return "not an object"
    if not isinstance(entry.get("title", ""), str):
        return "the title is not text"
    if entry.get("status", "annotated") not in STATUSES:
        return f"unknown review status {entry.get('status')!r}"
    metadata = entry.get("metadata", {})
    if not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        return "the metadata is not a set of text fields"
    scores = entry.get("scores", {})
    if not (isinstance(scores, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1
                                             for v in scores.values())):
        return "the scores are not numbers from 0 to 1"
    return None


def read_pair(text: str, ann: str, *, text_path: Path, ann_path: Path) -> Document:
    """The document of a pair, with its title, status, metadata and scores from :data:`MANIFEST` if there is one."""
    entry, problem = manifest_entry(text_path)
    entry = entry or {}
    doc = parse(text, ann, ann_path, name=entry.get("title") or text_path.stem, scores=entry.get("scores"))
    doc.status = entry.get("status", "annotated")
    doc.metadata = dict(entry.get("metadata", {}))
    if doc.status == "annotated":  # a person's: scores are a model's, so they do not apply
        doc.entities = [replace(e, confidence=None) for e in doc.entities]
    if problem is not None:
        doc.notes.append(f"{text_path.name}: {problem}; its title is the file name and it counts as reviewed")
    return doc
