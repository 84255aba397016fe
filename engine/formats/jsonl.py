"""Character-span formats: doccano JSONL and Label Studio's JSON export."""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import FormatError
from engine.formats.healthner import iter_json_array
from engine.spans import Document, Entity


def parse_doccano(text: str, path: str | Path) -> list[Document]:
    """One JSON object per line: ``{"text": ..., "label": [[start, end, type], ...]}``."""
    docs = []
    # lines end at "\n" only: a text may hold U+2028, U+0085... which str.splitlines() would cut at
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(path, f"this line is not JSON ({exc.msg})", number) from None
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
        for result in results if isinstance(results, list) else []:
            value = result.get("value") if isinstance(result, dict) else None
            if not isinstance(value, dict) or result.get("type") not in (None, "labels") or "start" not in value:
                continue
            labels = value.get("labels")
            if not isinstance(labels, list):
                raise FormatError(path, f'"labels" must be a list of entity types, got {labels!r}', line)
            for label in labels[:1]:
                entities.append(_entity([value.get("start"), value.get("end"), label], body, path, line))
        docs.append(Document(body, _no_overlaps(entities, path, line), line=line))
    return docs


def _entity(span: object, text: str, path: str | Path, line: int) -> Entity:
    if not (isinstance(span, (list, tuple)) and len(span) >= 3):
        raise FormatError(path, f"a label must be [start, end, type], got {span!r}", line)
    start, end, label = span[0], span[1], span[2]
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise FormatError(path, f"span [{start}, {end}) is outside the text (length {len(text)})", line)
    if not isinstance(label, str) or not label.strip() or label == "O" or label.startswith(("B-", "I-")):
        raise FormatError(path, f"entity type must be a type name such as 'Medicine', got {label!r}", line)
    try:
        return Entity(start, end, label)
    except ValueError as exc:
        raise FormatError(path, str(exc), line) from None


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
