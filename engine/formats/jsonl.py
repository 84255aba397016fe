"""JSON Lines with character spans: doccano (old and new keys) and Prodigy / spaCy span files.

Each line is read by what it holds: ``"spans"`` or ``"answer"`` make it a Prodigy example, a ``"data"``
object with ``"annotations"`` a Label Studio task, anything else with a ``"text"`` (or doccano 1.x's
``"data"`` string) a doccano record. Other fields of a record are kept as the document's metadata.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from engine.errors import FormatError
from engine.formats.healthner import check_json_depth, json_errors
from engine.formats.regions import has_astral, keep_fitting, place, to_utf16, utf16_offsets
from engine.formats.registry import text_lines
from engine.progress import IsCancelled, Progress, check_cancelled
from engine.spans import ASSERTIONS, PRESENT, Document, Entity
from engine.text import split_words

# doccano's own bookkeeping, not the clinic's metadata
_DOCCANO_KEYS = {"text", "data", "label", "labels", "entities", "annotations", "id", "title", "reviewed", "meta",
                 "Comments", "comments", "annotation_approver", "relations", "cats", "offset_unit"}
# what "offset_unit" says (our export writes it where the two differ: texts with characters past U+FFFF)
UTF16, CODE_POINTS = "utf-16", "code points"
_PRODIGY_KEYS = {"text", "spans", "tokens", "answer", "meta", "relations", "options", "accept", "html", "label"}
# the fields our Prodigy export puts in "meta" for itself
_PRODIGY_OWN_META = {"title", "scores", "reviewed"}


def metadata_value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class LineNumbers:
    """Lines of one kind that a note names: how many, and the first ten (not a million numbers)."""

    def __init__(self) -> None:
        self.count = 0
        self.first: list[int] = []

    def append(self, number: int) -> None:
        self.count += 1
        if len(self.first) < 10:
            self.first.append(number)

    def __len__(self) -> int:
        return self.count

    def shown(self) -> str:
        return ", ".join(map(str, self.first)) + (" …" if self.count > 10 else "")


def parse(text: str, path: str | Path, *, notes: list[str] | None = None, progress: Progress | None = None,
          cancelled: IsCancelled | None = None) -> list[Document]:
    """Documents of a JSONL file (doccano, Prodigy or Label Studio tasks, line by line): :func:`iter_parse`, whole."""
    return list(iter_parse(text, path, notes=notes, progress=progress, cancelled=cancelled))


def iter_parse(text: str, path: str | Path, *, notes: list[str] | None = None, progress: Progress | None = None,
               cancelled: IsCancelled | None = None) -> Iterator[Document]:
    """Documents of a JSONL file's text as its lines are read (see :func:`iter_lines`)."""
    return iter_lines(text_lines(text), len(text), path, notes=notes, progress=progress, cancelled=cancelled)


def iter_lines(lines: Iterable[tuple[str, int]], total: int, path: str | Path, *, notes: list[str] | None = None,
               progress: Progress | None = None, cancelled: IsCancelled | None = None) -> Iterator[Document]:
    """Documents of a JSONL file's ``lines`` (each with how far the read is, out of ``total``: characters, or
    bytes of a file read line by line) as they come; ``progress`` hears how far every few hundred lines, and
    ``cancelled`` is asked as often. File-level notes go to ``notes`` at the end."""
    from engine.formats import labelstudio

    rejected: dict[str, LineNumbers] = {}
    units: dict[str, LineNumbers] = {}  # how doccano offsets were read where the text could not say: unit -> lines
    binary = LineNumbers()  # lines of Prodigy's binary (ner.teach) answers
    binary_docs: dict[str, Document] = {}
    # from the first binary answer on, documents wait for the end of the file: a later answer on the same text
    # adds its span to an earlier document (files of such answers are small; others stream)
    held: list[Document] | None = None
    unlabelled = LineNumbers()  # doccano records with an empty label list
    for number, (line, done) in enumerate(lines, start=1):
        if number == 1:
            line = line.lstrip("\ufeff")
        if number % 500 == 0:  # a 50 MB file moves the bar within the first second, and Cancel stops it
            check_cancelled(cancelled)
            if progress is not None:
                progress(min(done, total), total)
        if not line.strip():
            continue
        check_json_depth(line, path, number)
        with json_errors(path, number, what="this line is not JSON"):
            item = json.loads(line)
        if not isinstance(item, dict):
            raise FormatError(path, 'expected an object with a "text" string (doccano or Prodigy JSONL)', number)
        if "spans" in item or "answer" in item:
            answer = item.get("answer")
            if answer in ("reject", "ignore"):
                rejected.setdefault(answer, LineNumbers()).append(number)
                continue
            doc = prodigy_document(item, path, number)
            if item.get("_view_id") == "ner":  # ner.teach: a yes/no on one suggested span, not a whole annotation
                binary.append(number)
                same = binary_docs.get(doc.text)
                if same is not None:  # more answers on one text: one document with every accepted span
                    same.entities, overlaps = keep_fitting(doc.text, same.entities + doc.entities,
                                                           where=f"line {number}")
                    same.notes.extend(overlaps)
                    same.status = "suggested" if same.entities else "unannotated"
                    continue
                binary_docs[doc.text] = doc
                held = [] if held is None else held
        elif isinstance(item.get("data"), dict):
            doc = labelstudio.task_document(item, path, number)
        else:
            doc = doccano_document(item, path, number, units=units)
            if doc.status == "unannotated" and item.get("reviewed") is not False:
                unlabelled.append(number)
        if held is None:
            yield doc
        else:
            held.append(doc)
    yield from held or ()
    if notes is not None:
        if unlabelled:
            notes.append(f"{len(unlabelled)} record(s) with no labels came in as texts for the model to tag, not as "
                         f"reviewed documents (line {unlabelled.shown()})")
        if binary:
            notes.append(f"{len(binary)} binary answer(s) of Prodigy's ner.teach (accept/reject on one suggested span) "
                         f"on {len(binary_docs)} text(s): the accepted spans come in as suggestions to review, not as "
                         "complete annotations")
        for unit, lines in units.items():
            notes.append(_UNIT_NOTES[unit].format(count=len(lines), lines=lines.shown()))
        for answer, lines in rejected.items():
            notes.append(f"{len(lines)} example(s) answered {answer!r} in Prodigy not imported (line {lines.shown()})")


def parse_doccano(text: str, path: str | Path) -> list[Document]:
    """Kept for callers that know the file is doccano's: same as :func:`parse`."""
    return parse(text, path)


_UNIT_NOTES = {
    CODE_POINTS: "offsets of {count} document(s) with characters such as emoji read as code points (as Python "
                 "tools write them), not UTF-16 units as doccano counts: only so do they fall on word boundaries "
                 "(line {lines})",
    "unsure": "offsets of {count} document(s) with characters such as emoji fit word boundaries counted either way; "
              "read as UTF-16 units, as doccano counts: check them (line {lines})"}


def _offset_unit(item: dict, body: str, raw: list) -> str:
    """How this record counts offsets: what it says (``offset_unit``), else whichever of UTF-16 units (doccano's
    screen) and code points (Python tools) puts more spans on word boundaries; "unsure" for a tie that matters."""
    stated = item.get("offset_unit")
    if stated in (UTF16, CODE_POINTS):
        return stated
    if not has_astral(body):
        return UTF16  # the same numbers either way
    pairs = [(span[0], span[1]) if isinstance(span, (list, tuple)) and len(span) >= 2 else
             (span.get("start_offset", span.get("start")), span.get("end_offset", span.get("end")))
             if isinstance(span, dict) else (None, None) for span in raw]
    pairs = [(s, e) for s, e in pairs if isinstance(s, int) and isinstance(e, int)]
    words = split_words(body)
    starts, ends = {w.start for w in words}, {w.end for w in words}
    table = utf16_offsets(body)
    index = {offset: i for i, offset in enumerate(table)}
    as_utf16 = [(index.get(s), index.get(e)) for s, e in pairs]
    if as_utf16 == pairs:
        return UTF16
    fit_utf16 = sum(s in starts and e in ends for s, e in as_utf16)
    fit_points = sum(s in starts and e in ends for s, e in pairs)
    if fit_points > fit_utf16:
        return CODE_POINTS
    return UTF16 if fit_utf16 > fit_points else "unsure"


def doccano_document(item: dict, path: str | Path, number: int, *,
                     units: dict[str, LineNumbers] | None = None) -> Document:
    """``{"text", "label": [[start, end, type], ...]}``; doccano 1.x: ``"data"`` for the text, dict spans.

    Offsets are UTF-16 units (doccano counts as browsers do) unless the record says otherwise or only code
    points put its spans on word boundaries (:func:`_offset_unit`); ``units`` collects the lines read so."""
    body = item.get("text", item.get("data"))
    if not isinstance(body, str):
        raise FormatError(path, 'expected an object with a "text" string (doccano JSONL: {"text": ..., '
                                '"label": [[start, end, type], ...]})', number)
    # "label" (doccano sequence labelling), "labels" (1.x), "entities" (relation projects), or "annotations"
    # (1.x exports: [{"label": 2, "label_name": "ORG", "start_offset": 0, "end_offset": 2, "user": 1}])
    raw = item.get("label", item.get("labels", item.get("entities", item.get("annotations", []))))
    if not isinstance(raw, list):
        raise FormatError(path, '"label" must be a list of [start, end, type]', number)
    if raw and all(isinstance(x, str) for x in raw):
        raise FormatError(path, "the labels are whole-document categories (a doccano text-classification "
                                "project); this app imports entity spans [start, end, type]", number)
    unit = _offset_unit(item, body, raw)
    if units is not None and unit != UTF16 and "offset_unit" not in item:
        units.setdefault(unit, LineNumbers()).append(number)
    entities = []
    for span in raw:
        if isinstance(span, dict):  # doccano's newer export
            label = span.get("label_name", span.get("label"))
            if isinstance(label, int) and not isinstance(label, bool):
                raise FormatError(path, f"the labels are doccano's label numbers ({label}), not their names; export "
                                        "the project again from doccano (JSONL) so that each label has its name",
                                  number)
            span = [span.get("start_offset", span.get("start")), span.get("end_offset", span.get("end")),
                    label, {"assertion": span["assertion"]} if "assertion" in span else None]
        if not (isinstance(span, (list, tuple)) and len(span) >= 3):
            raise FormatError(path, f"a label must be [start, end, type], got {span!r}", number)
        entity = place(body, span[0], span[1], span[2], utf16=unit != CODE_POINTS, path=path, line=number)
        # a fourth element carries attributes: [start, end, type, {"assertion": "absent"}]
        attributes = span[3] if len(span) > 3 and isinstance(span[3], dict) else {}
        if "assertion" in attributes:
            entity = replace(entity, assertion=_assertion(attributes["assertion"], path, number))
        entities.append(entity)
    kept, notes = keep_fitting(body, entities, where=f"line {number}")
    if item.get("relations"):
        notes.append(f"line {number}: {len(item['relations'])} relation(s) between entities not imported")
    metadata = {k: metadata_value(v) for k, v in item.items() if k not in _DOCCANO_KEYS}
    if isinstance(item.get("meta"), dict):
        metadata.update({k: metadata_value(v) for k, v in item["meta"].items()})
    title = item.get("title") if isinstance(item.get("title"), str) else ""
    status = "annotated"
    if item.get("reviewed") is False:  # our own export of unreviewed documents
        status = "suggested" if kept else "unannotated"
    elif not raw and item.get("reviewed") is not True and not item.get("annotation_approver"):
        # doccano exports every example, labelled or not: an empty list is "not labelled yet", not "nothing here"
        # (retraining would learn that from it); our export and doccano's approval say when it was checked
        status = "unannotated"
    return Document(body, kept, name=title, line=number, status=status, metadata=metadata, notes=notes)


def _assertion(value: object, path: str | Path, number: int) -> str:
    if value not in ASSERTIONS:
        raise FormatError(path, f"unknown assertion {value!r}; expected one of {', '.join(ASSERTIONS)}", number)
    return value


def labels_with_attributes(text: str, entities: list[Entity]) -> list[list]:
    """doccano labels ``[start, end, type]`` (UTF-16 offsets), with ``{"assertion": ...}`` when not present."""
    return [[*to_utf16(text, e.start, e.end), e.label, *([{"assertion": e.assertion}] if e.assertion != PRESENT else [])]
            for e in sorted(entities, key=lambda e: e.start)]


def prodigy_document(item: dict, path: str | Path, number: int) -> Document:
    """``{"text", "spans": [{"start", "end", "label"}], "answer": "accept", "meta": {...}}``.

    An example without an answer has not been reviewed in Prodigy: its spans come in as suggestions,
    with the scores that ``meta.scores`` (our export) or each span's ``"score"`` gives.
    """
    body = item.get("text")
    if not isinstance(body, str):
        raise FormatError(path, 'expected a Prodigy example with a "text" string', number)
    spans = item.get("spans") or []
    if not isinstance(spans, list):
        raise FormatError(path, '"spans" must be a list of {"start", "end", "label"}', number)
    meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
    scores = meta.get("scores") if isinstance(meta.get("scores"), list) else []
    if "answer" in item and item["answer"] != "accept":
        raise FormatError(path, f"unknown answer {item['answer']!r}; expected 'accept', 'reject' or 'ignore'", number)
    # an accepted binary answer (ner.teach) says only that its one span is right: the text is not reviewed
    reviewed = item.get("answer") == "accept" and item.get("_view_id") != "ner"
    entities = []
    for i, span in enumerate(spans):
        if not isinstance(span, dict):
            raise FormatError(path, f'each span must be {{"start", "end", "label"}}, got {span!r}', number)
        score = span.get("score", scores[i] if i < len(scores) else None)
        confidence = None
        if not reviewed and isinstance(score, (int, float)) and not isinstance(score, bool) and 0 <= score <= 1:
            confidence = float(score)
        entities.append(place(body, span.get("start"), span.get("end"), span.get("label"), stated=span.get("text"),
                              utf16=False, path=path, line=number, confidence=confidence))
    kept, notes = keep_fitting(body, entities, where=f"line {number}")
    metadata = {k: metadata_value(v) for k, v in meta.items() if k not in _PRODIGY_OWN_META}
    metadata.update({k: metadata_value(v) for k, v in item.items() if k not in _PRODIGY_KEYS and not k.startswith("_")})
    title = meta.get("title") if isinstance(meta.get("title"), str) else ""
    status = "annotated" if reviewed else ("suggested" if kept else "unannotated")
    return Document(body, kept, name=title, line=number, status=status, metadata=metadata, notes=notes)


def dumps_doccano(docs: list[Document]) -> str:
    """doccano JSONL (offsets in UTF-16 units, as doccano counts, and ``"offset_unit": "utf-16"`` on records where
    that differs from code points); title, metadata and review status ride along as extra fields, which doccano
    keeps as the example's metadata."""
    lines = []
    for doc in docs:
        record: dict = {"text": doc.text, "label": labels_with_attributes(doc.text, doc.entities)}
        if has_astral(doc.text):  # where UTF-16 units and code points differ, say which the offsets count
            record["offset_unit"] = UTF16
        if doc.name:
            record["title"] = doc.name
        record.update({k: v for k, v in doc.metadata.items() if k not in _DOCCANO_KEYS})
        if doc.status != "annotated":
            record["reviewed"] = False
        elif not doc.entities:  # reviewed, nothing found: without this, an empty list reads as "not labelled yet"
            record["reviewed"] = True
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def dumps_prodigy(docs: list[Document], *, suggestions: bool = True) -> str:
    """Prodigy JSONL: reviewed documents as accepted examples; unreviewed ones (if ``suggestions``) without an
    answer, their spans' scores in ``meta.scores``. Title and metadata go in ``meta``."""
    lines = []
    for doc in docs:
        reviewed = doc.status == "annotated"
        if not reviewed and not suggestions:
            continue
        ents = sorted(doc.entities, key=lambda e: e.start)
        meta: dict = {k: v for k, v in doc.metadata.items() if k not in _PRODIGY_OWN_META}
        if doc.name:
            meta["title"] = doc.name
        if not reviewed and any(e.confidence is not None for e in ents):
            meta["scores"] = [None if e.confidence is None else round(e.confidence, 4) for e in ents]
        record: dict = {"text": doc.text,
                        "spans": [{"start": e.start, "end": e.end, "label": e.label} for e in ents],
                        "meta": meta}
        if reviewed:
            record["answer"] = "accept"
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


__all__ = ["iter_lines", "iter_parse", "parse", "parse_doccano", "doccano_document", "prodigy_document", "dumps_doccano", "dumps_prodigy",
           "Entity"]
