"""Label Studio: its JSON export (tasks with annotations and predictions), JSON-MIN, and tasks we export.

What is imported from a task: the ``ground_truth`` annotation, else the latest one not cancelled (the
choice is noted when there were several); without annotations, the newest prediction as model suggestions
with their scores; without either, an unannotated document for the app's model to tag. Older exports call
annotations ``completions``. Offsets count UTF-16 units and are checked against each region's ``text``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from engine.errors import FormatError
from engine.formats.healthner import check_json_depth, iter_json_array, json_errors
from engine.formats.jsonl import metadata_value
from engine.formats.regions import keep_fitting, place, to_utf16
from engine.spans import ASSERTIONS, PRESENT, Document, Entity

ASSERTION_CONTROL = "assertion"  # the per-region Choices control holding a finding's assertion
_TASK_KEYS = {"id", "data", "annotations", "completions", "predictions", "meta", "created_at", "updated_at",
              "inner_id", "total_annotations", "cancelled_annotations", "total_predictions", "comment_count",
              "unresolved_comment_count", "last_comment_updated_at", "project", "updated_by", "file_upload",
              "comment_authors", "drafts", "annotators", "is_labeled", "overlap"}
_MIN_KEYS = {"id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time", "inner_id"}


def looks_like(head: str) -> bool:
    """A JSON file that is Label Studio's, from its first characters."""
    return any(key in head for key in ('"annotations"', '"completions"', '"predictions"', '"data"'))


def parse(text: str, path: str | Path) -> list[Document]:
    """A JSON array of tasks (full export or JSON-MIN), or one task object."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        check_json_depth(text, path)
        with json_errors(path, None):
            task = json.loads(stripped)
        return [_any_task(task, path, 1)]
    rows = [(task, _any_task(task, path, line)) for line, task in iter_json_array(stripped, path)]
    return _one_per_task(rows)


def _one_per_task(rows: list[tuple[object, Document]]) -> list[Document]:
    """JSON-MIN writes one row per annotation: rows of one task (same id and text) become one document, the
    latest annotation's, with a note naming the others."""
    groups: dict[tuple, list[tuple[dict, Document]]] = {}
    for task, doc in rows:
        key = _min_key(task, doc)
        if key is not None:
            groups.setdefault(key, []).append((task, doc))
    out: list[Document] = []
    for task, doc in rows:
        key = _min_key(task, doc)
        group = groups.pop(key, None) if key is not None else [(task, doc)]
        if group is None:
            continue  # a later row of a task already taken
        if len(group) > 1:
            _, (row, doc) = max(enumerate(group), key=lambda p: (
                p[1][1].status == "annotated", str(p[1][0].get("updated_at") or p[1][0].get("created_at") or ""), p[0]))
            who = [str(r.get("annotator")) for r, _ in group]
            doc.notes.append(f"line {doc.line}: task {key[0]} has {len(group)} rows, one per annotation (annotators "
                             f"{', '.join(who)}); imported the latest (by {row.get('annotator')}), not the others")
        out.append(doc)
    return out


def _min_key(task: object, doc: Document) -> tuple | None:
    if not isinstance(task, dict) or isinstance(task.get("data"), dict):
        return None
    task_id = task.get("id")
    return (task_id, doc.text) if isinstance(task_id, (int, str)) and not isinstance(task_id, bool) else None


def _any_task(task: object, path: str | Path, line: int) -> Document:
    if not isinstance(task, dict):
        raise FormatError(path, 'expected a Label Studio task: {"data": {"text": ...}, "annotations": [...]}', line)
    if isinstance(task.get("data"), dict):
        return task_document(task, path, line)
    return _min_document(task, path, line)


def _text_key(data: dict, path: str | Path, line: int) -> str:
    """The field holding the text: ``text`` if there is one, else the longest string."""
    if isinstance(data.get("text"), str):
        return "text"
    strings = [k for k, v in data.items() if isinstance(v, str) and not v.startswith(("http://", "https://", "/data/"))]
    if not strings:
        raise FormatError(path, 'expected a task whose "data" holds the text (e.g. {"text": ...})', line)
    return max(strings, key=lambda k: len(data[k]))


def task_document(task: dict, path: str | Path, line: int) -> Document:
    data = task["data"]
    key = _text_key(data, path, line)
    body = data[key]
    notes: list[str] = []
    annotations = task.get("annotations", task.get("completions")) or []
    predictions = task.get("predictions") or []
    # Label Studio's default JSON export lists predictions by id only ("predictions": [7, 8]): no regions to read
    by_id = [p for p in predictions if isinstance(p, int) and not isinstance(p, bool)] \
        if isinstance(predictions, list) else []
    if by_id:
        predictions = [p for p in predictions if not (isinstance(p, int) and not isinstance(p, bool))]
    for name, value in (("annotations", annotations), ("predictions", predictions)):
        if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
            raise FormatError(path, f'"{name}" must be a list of objects', line)
    live = [a for a in annotations if not a.get("was_cancelled")]
    metadata = {k: metadata_value(v) for k, v in data.items() if k != key}
    metadata.update({k: metadata_value(v) for k, v in task.get("meta", {}).items()}
                    if isinstance(task.get("meta"), dict) else {})
    title = metadata.pop("title", "")
    if live:
        chosen = _choose(live)
        if len(live) > 1:
            who = chosen.get("completed_by", chosen.get("id", "?"))
            why = "the ground-truth one" if chosen.get("ground_truth") else "the latest"
            notes.append(f"line {line}: {len(live)} annotations; imported {why} (by {who}), not the others")
        entities = _regions(chosen.get("result"), body, path, line, notes, score=None)
        status = "annotated"
        if not entities and not _has_spans(chosen.get("result")):  # e.g. boxes on the task's image
            status = "unannotated"
            notes.append(f"line {line}: the annotation labels no text spans; the text comes in unreviewed, "
                         "for the model to tag")
    elif predictions:
        chosen = max(enumerate(predictions), key=lambda p: (str(p[1].get("created_at", "")), p[0]))[1]
        if len(predictions) > 1:
            notes.append(f"line {line}: {len(predictions)} predictions; imported the latest "
                         f"({chosen.get('model_version', '?')}) as suggestions")
        score = chosen.get("score")
        entities = _regions(chosen.get("result"), body, path, line, notes,
                            score=score if isinstance(score, (int, float)) and not isinstance(score, bool) else None)
        status = "suggested" if entities else "unannotated"
    else:
        entities, status = [], "unannotated"
        if by_id:
            notes.append(f"line {line}: the task's {len(by_id)} prediction(s) are given by id only (Label Studio's "
                         "export leaves their regions out); the text comes in unreviewed, for the model to tag")
    if len(annotations) > len(live) and not live:
        notes.append(f"line {line}: {len(annotations)} cancelled (skipped) annotation(s) not imported")
    kept, overlap_notes = keep_fitting(body, entities, where=f"line {line}")
    return Document(body, kept, name=title if isinstance(title, str) else "", line=line, status=status,
                    metadata=metadata, notes=notes + overlap_notes)


def _has_spans(results: object) -> bool:
    """Whether an annotation's results mark text (or nothing at all: a person found no entity), rather than
    only other things (image boxes, choices): only then is it an entity annotation of the text."""
    if not isinstance(results, list) or not results:
        return True
    return any(isinstance(r, dict) and (r.get("type") in (None, "labels") or
                                        (isinstance(r.get("value"), dict) and "labels" in r["value"]))
               for r in results)


def _choose(annotations: list[dict]) -> dict:
    truth = [a for a in annotations if a.get("ground_truth")]
    if truth:
        return truth[-1]
    return max(enumerate(annotations),
               key=lambda p: (str(p[1].get("updated_at") or p[1].get("created_at") or ""), p[0]))[1]


def _regions(results: object, body: str, path: str | Path, line: int, notes: list[str], *,
             score: float | None) -> list[Entity]:
    if results is None:
        return []
    if not isinstance(results, list):
        raise FormatError(path, f'"result" must be a list of labelled regions, got {type(results).__name__}', line)
    entities: list[Entity] = []
    other: dict[str, int] = {}
    asserted = _assertions(results)
    for result in results:
        if not isinstance(result, dict):
            raise FormatError(path, f"each result must be an object, got {result!r}", line)
        kind, value = result.get("type"), result.get("value")
        if kind is None and not (isinstance(value, dict) and "start" in value):
            continue
        if kind == "choices" and result.get("from_name") == ASSERTION_CONTROL and result.get("id") in asserted:
            continue  # read with its region below
        if kind not in (None, "labels"):
            if isinstance(kind, str) and not (isinstance(value, dict) and "labels" in value):
                other[kind] = other.get(kind, 0) + 1  # choices, relations, text areas...
                continue
            raise FormatError(path, f"a labelled region of type {kind!r} cannot be imported; expected text spans "
                                    "(type 'labels')", line)
        if not isinstance(value, dict) or "start" not in value:
            raise FormatError(path, f'a "labels" region needs a value with "start", "end" and "labels", '
                                    f"got {value!r}", line)
        region_score = result.get("score", score)  # a region's own score, else its prediction's
        confidence = float(region_score) if isinstance(region_score, (int, float)) \
            and not isinstance(region_score, bool) and 0 <= region_score <= 1 else None
        found = _labels(value, body, path, line, notes, confidence)
        assertion = asserted.get(result.get("id"))
        entities.extend(replace(e, assertion=assertion) if assertion else e for e in found)
    for kind, count in sorted(other.items()):
        notes.append(f"line {line}: {count} result(s) of type {kind!r} not imported (only entity spans are)")
    return entities


def _assertions(results: list) -> dict[str, str]:
    """Region id -> assertion, from the per-region ``<Choices name="assertion" perRegion="true">`` results."""
    out = {}
    for r in results:
        if isinstance(r, dict) and r.get("type") == "choices" and r.get("from_name") == ASSERTION_CONTROL:
            choices = r.get("value", {}).get("choices") if isinstance(r.get("value"), dict) else None
            if isinstance(choices, list) and choices and choices[0] in ASSERTIONS and isinstance(r.get("id"), str):
                out[r["id"]] = choices[0]
    return out


def _labels(value: dict, body: str, path: str | Path, line: int, notes: list[str],
            confidence: float | None) -> list[Entity]:
    labels = value.get("labels")
    if not isinstance(labels, list) or not labels:
        raise FormatError(path, f'"labels" must be a list of entity types, got {labels!r}', line)
    entity = place(body, value.get("start"), value.get("end"), labels[0], stated=value.get("text"), utf16=True,
                   path=path, line=line, confidence=confidence)
    if len(labels) > 1:
        notes.append(f"line {line}: the region {body[entity.start:entity.end][:40]!r} has {len(labels)} labels "
                     f"{labels}; only the first, {labels[0]!r}, was imported")
    return [entity]


def _min_document(item: dict, path: str | Path, line: int) -> Document:
    """JSON-MIN: the task's data fields at the top level, each control's regions under its name."""
    region_keys = [k for k, v in item.items() if isinstance(v, list) and v
                   and all(isinstance(r, dict) and "start" in r for r in v)]
    fields = {k: v for k, v in item.items() if k not in region_keys and k not in _MIN_KEYS}
    known = bool(region_keys) or any(k in item for k in ("annotator", "annotation_id", "id"))
    if not known or any(isinstance(v, (list, dict)) for v in fields.values()):
        raise FormatError(path, 'expected HealthNER ({"text": ..., "labels": [tags]}), a Label Studio task '
                                '({"data": {"text": ...}, "annotations": [...]}) or a Label Studio JSON-MIN row', line)
    body_key = _text_key(fields, path, line) if fields else None
    if body_key is None:
        raise FormatError(path, 'expected a Label Studio task ({"data": {"text": ...}}) or a JSON-MIN row with '
                                "a text field", line)
    body = fields.pop(body_key)
    kept, notes = region_entities([value for key in region_keys for value in item[key]], body, path=path, line=line)
    title = fields.pop("title", "")
    metadata = {k: metadata_value(v) for k, v in fields.items()}
    # a row with an annotation (an annotator or an annotation id) but no regions was reviewed empty; a task nobody
    # annotated has both null
    annotated = item.get("annotator") is not None or item.get("annotation_id") is not None
    status = "annotated" if kept or annotated else "unannotated"
    return Document(body, kept, name=title if isinstance(title, str) else "", line=line, status=status,
                    metadata=metadata, notes=notes)


def region_entities(regions: list, body: str, *, path: str | Path, line: int) -> tuple[list[Entity], list[str]]:
    """Entities of JSON-MIN regions (``{"start", "end", "text", "labels"}``, also in Label Studio's CSV export),
    overlaps resolved, with notes on what was left out."""
    notes: list[str] = []
    entities = []
    for value in regions:
        if not isinstance(value, dict):
            raise FormatError(path, f'a region must be {{"start", "end", "labels"}}, got {value!r}', line)
        entities.extend(_labels(value, body, path, line, notes, None))
    kept, overlap_notes = keep_fitting(body, entities, where=f"line {line}")
    return kept, notes + overlap_notes


def _assertion_result(region: dict, e: Entity) -> dict:
    """The region's assertion as Label Studio stores a per-region choice: same id, same span."""
    return {"id": region["id"], "from_name": ASSERTION_CONTROL, "to_name": "text", "type": "choices",
            "value": {k: region["value"][k] for k in ("start", "end", "text")} | {"choices": [e.assertion]}}


def _results(doc: Document, ents: list[Entity], *, with_score: bool) -> list[dict]:
    out = []
    for n, e in enumerate(ents):
        out.append(_result(doc, e, n, with_score=with_score))
        if e.assertion != PRESENT:  # present is the default: a task without choices reads back the same
            out.append(_assertion_result(out[-1], e))
    return out


def _result(doc: Document, e: Entity, n: int, *, with_score: bool) -> dict:
    start, end = to_utf16(doc.text, e.start, e.end)
    out = {"id": f"e{n}", "from_name": "label", "to_name": "text", "type": "labels",
           "value": {"start": start, "end": end, "text": doc.text[e.start:e.end], "labels": [e.label]}}
    if with_score and e.confidence is not None:
        out["score"] = round(e.confidence, 4)
    return out


def dumps(docs: list[Document], *, model_version: str = "") -> str:
    """Label Studio tasks: reviewed entities as an annotation, suggestions as a prediction with scores.

    Title and metadata go in ``data`` (Label Studio shows them beside the text); the labelling config that
    reads them is ``<Labels name="label" toName="text">`` over ``<Text name="text" value="$text"/>``, with
    ``<Choices name="assertion" toName="text" perRegion="true">`` (present, absent, possible, past, family,
    hypothetical) for the assertion of a finding that is not simply present.
    """
    tasks = []
    for doc in docs:
        data = {"text": doc.text, **{k: v for k, v in doc.metadata.items() if k != "text"}}
        if doc.name:
            data["title"] = doc.name
        task: dict = {"data": data, "annotations": [], "predictions": []}
        ents = sorted(doc.entities, key=lambda e: e.start)
        if doc.status == "annotated":
            task["annotations"].append({"result": _results(doc, ents, with_score=False),
                                        "ground_truth": True, "was_cancelled": False})
        elif ents:
            scores = [e.confidence for e in ents if e.confidence is not None]
            prediction: dict = {"result": _results(doc, ents, with_score=True),
                                "model_version": model_version or "bangla-meder"}
            if scores:
                prediction["score"] = round(min(scores), 4)
            task["predictions"].append(prediction)
        tasks.append(task)
    return json.dumps(tasks, ensure_ascii=False, indent=1) + "\n"
