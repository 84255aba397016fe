"""Character-span formats: doccano JSONL and Label Studio's JSON export."""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import FormatError
from engine.formats.healthner import check_json_depth, iter_json_array, json_errors
from engine.spans import Document, Entity, type_name_problem


def parse_doccano(text: str, path: str | Path) -> list[Document]:
    """One JSON object per line: ``{"text": ..., "label": [[start, end, type], ...]}``."""
    docs = []
    # lines end at "\n" only: a text may hold U+2028, U+0085... which str.splitlines() would cut at
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        check_json_depth(line, path, number)
        with json_errors(path, number, what="this line is not JSON"):
            item = json.loads(line)
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise FormatError(path, 'expected an object with a "text" string', number)
        # "label" (doccano sequence labelling), "labels", or "entities" (relation projects)
        raw = item.get("label", item.get("labels", item.get("entities", [])))
        if not isinstance(raw, list):
            raise FormatError(path, '"label" must be a list of [start, end, type]', number)
        entities = []
        for span in raw:
            if isinstance(span, dict):  # doccano's newer export
                span = [span.get("start_offset"), span.get("end_offset"), span.get("label")]
            entities.append(_entity(span, item["text"], path, number))
        docs.append(Document(item["text"], _no_overlaps(entities, path, number), line=number))
    return docs


def parse_label_studio(text: str, path: str | Path) -> list[Document]:
    """Label Studio JSON export: tasks with ``data.text`` and ``annotations[].result[]``."""
    docs = []
    for line, task in iter_json_array(text, path):
        data = task.get("data") if isinstance(task, dict) else None
        body = data.get("text") if isinstance(data, dict) else None
        if not isinstance(body, str):
            raise FormatError(path, 'expected a task with "data": {"text": ...}', line)
        entities = []
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
            raise FormatError(path, '"annotations" must be a list of objects', line)
        annotations = [a for a in annotations if not a.get("was_cancelled")]
        results = annotations[-1].get("result") or [] if annotations else []
        if not isinstance(results, list):
            raise FormatError(path, f'"result" must be a list of labelled regions, got {type(results).__name__}', line)
        for result in results:
            value = _region(result, path, line)
            if value is None:
                continue
            labels = value.get("labels")
            if not isinstance(labels, list):
                raise FormatError(path, f'"labels" must be a list of entity types, got {labels!r}', line)
            for label in labels[:1]:
                entity = _entity([value.get("start"), value.get("end"), label], body, path, line)
                _check_stated_text(value.get("text"), body, entity, path, line)
                entities.append(entity)
        docs.append(Document(body, _no_overlaps(entities, path, line), line=line))
    return docs


def _region(result: object, path: str | Path, line: int) -> dict | None:
    """The ``value`` of a labelled text span, or None for results that are not entities (choices, relations...).

    A region that carries labels but is not a plain text span is refused, not skipped: skipping it would
    lose an annotation without a word.
    """
    if not isinstance(result, dict):
        raise FormatError(path, f"each result must be an object, got {result!r}", line)
    kind, value = result.get("type"), result.get("value")
    if kind is None and not (isinstance(value, dict) and "start" in value):
        return None
    if kind not in (None, "labels"):
        if isinstance(kind, str) and not (isinstance(value, dict) and "labels" in value):
            return None
        raise FormatError(path, f"a labelled region of type {kind!r} cannot be imported; expected text spans "
                                "(type 'labels')", line)
    if not isinstance(value, dict) or "start" not in value:
        raise FormatError(path, f'a "labels" region needs a value with "start", "end" and "labels", got {value!r}',
                          line)
    return value


def _entity(span: object, text: str, path: str | Path, line: int) -> Entity:
    if not (isinstance(span, (list, tuple)) and len(span) >= 3):
        raise FormatError(path, f"a label must be [start, end, type], got {span!r}", line)
    start, end, label = span[0], span[1], span[2]
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)):  # True is an int to Python
        raise FormatError(path, f"span offsets must be whole numbers, got [{start!r}, {end!r}]", line)
    if not 0 <= start < end <= len(text):
        raise FormatError(path, f"span [{start}, {end}) is outside the text (length {len(text)})", line)
    problem = type_name_problem(label)
    if problem is None and label.startswith(("B-", "I-")):
        problem = "is a tag, not a type name"
    if problem:
        raise FormatError(path, f"entity type must be a type name such as 'Medicine', got {label!r} ({problem})", line)
    try:
        return Entity(start, end, label)
    except ValueError as exc:
        raise FormatError(path, str(exc), line) from None


def _check_stated_text(stated: object, text: str, entity: Entity, path: str | Path, line: int) -> None:
    """Label Studio repeats each region's text: offsets that point elsewhere would misplace the entity."""
    if isinstance(stated, str) and stated.strip() != text[entity.start:entity.end].strip():
        raise FormatError(path, f"span [{entity.start}, {entity.end}) is {text[entity.start:entity.end]!r} in the "
                                f"text, but the file says {stated!r}", line)


def _no_overlaps(entities: list[Entity], path: str | Path, line: int) -> list[Entity]:
    entities = sorted(entities, key=lambda e: (e.start, e.end))
    for a, b in zip(entities, entities[1:]):
        if a.overlaps(b):
            raise FormatError(path, f"entities [{a.start}, {a.end}) and [{b.start}, {b.end}) overlap", line)
    return entities


def dumps_doccano(docs: list[Document]) -> str:
    lines = []
    for doc in docs:
        labels = [[e.start, e.end, e.label] for e in sorted(doc.entities, key=lambda e: e.start)]
        lines.append(json.dumps({"text": doc.text, "label": labels}, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")
