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
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(path, f"this line is not JSON ({exc.msg})", number) from None
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise FormatError(path, 'expected an object with a "text" string', number)
        raw = item.get("label", item.get("labels", []))
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
        annotations = [a for a in task.get("annotations", []) if not a.get("was_cancelled")]
        for result in (annotations[-1].get("result", []) if annotations else []):
            value = result.get("value", {})
            if result.get("type") not in (None, "labels") or "start" not in value:
                continue
            for label in value.get("labels", [])[:1]:
                entities.append(_entity([value["start"], value["end"], label], body, path, line))
        docs.append(Document(body, _no_overlaps(entities, path, line), line=line))
    return docs


def _entity(span: object, text: str, path: str | Path, line: int) -> Entity:
    if not (isinstance(span, (list, tuple)) and len(span) >= 3):
        raise FormatError(path, f"a label must be [start, end, type], got {span!r}", line)
    start, end, label = span[0], span[1], span[2]
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise FormatError(path, f"span [{start}, {end}) is outside the text (length {len(text)})", line)
    if not isinstance(label, str) or not label.strip():
        raise FormatError(path, f"entity type must be a non-empty string, got {label!r}", line)
    return Entity(start, end, label)


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
