"""Assertions through the interchange formats: Label Studio per-region choices and BRAT attributes round-trip."""

from __future__ import annotations

import io
import json
import zipfile

from engine.formats import brat, labelstudio
from engine.spans import Document, Entity

TEXT = "জ্বর নেই, মাথা ব্যথা আছে। বাবার ডায়াবেটিস।"
HEAD, DIAB = TEXT.index("মাথা ব্যথা"), TEXT.index("ডায়াবেটিস")
ENTITIES = [Entity(0, 4, "Symptom", None, "absent"), Entity(HEAD, HEAD + 10, "Symptom"),
            Entity(DIAB, DIAB + len("ডায়াবেটিস"), "Health Condition", None, "family")]


def test_label_studio_writes_per_region_choices_and_reads_them_back():
    out = labelstudio.dumps([Document(TEXT, ENTITIES, name="note")])
    (task,) = json.loads(out)
    results = task["annotations"][0]["result"]
    choices = [r for r in results if r["type"] == "choices"]
    assert [(r["from_name"], r["value"]["choices"], r["value"]["text"]) for r in choices] == [
        ("assertion", ["absent"], "জ্বর"), ("assertion", ["family"], "ডায়াবেটিস")]
    regions = {r["id"] for r in results if r["type"] == "labels"}
    assert {r["id"] for r in choices} <= regions  # same id: Label Studio ties the choice to its region
    (doc,) = labelstudio.parse(out, "tasks.json")
    assert doc.entities == ENTITIES and not doc.notes


def test_label_studio_prediction_keeps_assertion():
    suggested = [Entity(0, 4, "Symptom", 0.9, "absent")]
    out = labelstudio.dumps([Document(TEXT, suggested, status="suggested")], model_version="v1")
    (doc,) = labelstudio.parse(out, "tasks.json")
    assert [e.assertion for e in doc.entities] == ["absent"]


def test_brat_writes_attribute_lines_and_reads_them_back():
    ann = brat.dumps(Document(TEXT, ENTITIES))
    assert "A1\tAssertion T1 absent" in ann.splitlines()
    assert "A2\tAssertion T3 family" in ann.splitlines()
    doc = brat.parse(TEXT, ann, "note.ann")
    assert [(e.start, e.assertion) for e in doc.entities] == [(e.start, e.assertion) for e in ENTITIES]
    assert not doc.notes  # the Assertion attribute is read, not counted as left out


def test_brat_other_attributes_still_reported_and_conf_declares_assertion():
    ann = "T1\tSymptom 0 4\tজ্বর\nA1\tNegated T1\nA2\tAssertion T1 absent\n"
    doc = brat.parse(TEXT, ann, "note.ann")
    assert doc.entities[0].assertion == "absent"
    assert any("1 attribute(s) not imported" in n for n in doc.notes)
    buffer = io.BytesIO()
    brat.write_zip(buffer, [Document(TEXT, ENTITIES)])
    conf = zipfile.ZipFile(buffer).read("annotation.conf").decode()
    assert "Assertion\tArg:<ENTITY>, Value:present|absent|possible|past|family|hypothetical" in conf
