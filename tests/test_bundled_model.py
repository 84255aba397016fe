"""Smoke tests of the committed INT8 student as the app runs it."""

import pytest

from app.paths import bundled_model
from engine.runtime import load_tagger


@pytest.fixture(scope="module")
def tagger():
    return load_tagger(bundled_model())


def test_finds_a_medicine_and_a_symptom(tagger):
    text = "আমার মাথা ব্যথা আর জ্বর, ডাক্তার নাপা ৫০০ মিগ্রা খেতে বলেছেন।"
    found = {(text[e.start:e.end], e.label) for e in tagger.tag(text)}
    labels = {label for _, label in found}
    assert {"Medicine", "Symptom"} <= labels, found
    assert any("নাপা" in span for span, label in found if label == "Medicine")
    assert all(0.0 <= e.confidence <= 1.0 for e in tagger.tag(text))


@pytest.mark.parametrize("text", ["", "   ", "।।, ?!", "😀🤒💊", "\u200d\u200c"])
def test_degenerate_text_gives_no_entities_and_no_error(tagger, text):
    assert tagger.tag(text) == []


def test_hundred_thousand_characters(tagger):
    note = "রোগীর জ্বর ও কাশি, নাপা ৫০০ মিগ্রা দিনে ৩ বার। "
    text = note * (100_000 // len(note))
    entities = tagger.tag(text)
    assert len(entities) >= text.count("নাপা")
    assert all(text[e.start:e.end].strip() == text[e.start:e.end] for e in entities)
    assert all(a.end <= b.start for a, b in zip(entities, entities[1:]))


def test_labels_come_from_the_model_folder(tagger):
    assert set(tagger.entity_types) == {"Symptom", "Medicine", "Health Condition", "Dosage", "Age",
                                        "Specialist", "Medical Procedure"}
