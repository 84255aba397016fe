"""The training set holds only what a person annotated: a model's suggestions and untagged texts in a data
file never become gold labels. No torch."""

from __future__ import annotations

import json

from trainer.data import load_dataset, split_dataset


def _task(text: str, **extra) -> dict:
    return {"data": {"text": text}, **extra}


def test_only_annotated_documents_reach_the_training_set(tmp_path):
    reviewed = "রোগীর জ্বর আছে"
    region = {"type": "labels", "value": {"start": 6, "end": 10, "text": "জ্বর", "labels": ["Symptom"]}}
    tasks = [_task(reviewed, annotations=[{"result": [region]}]),
             _task("মাথা ব্যথা", predictions=[{"result": [{**region, "value": {**region["value"], "start": 0,
                                                                                 "end": 4, "text": "মাথা"}}]}]),
             _task("কাশি নেই")]  # neither: text for the model to tag
    (tmp_path / "ward.json").write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    docs = load_dataset(tmp_path)
    assert [(d.text, d.status, [(d.text[e.start:e.end], e.label) for e in d.entities]) for d in docs] == [
        (reviewed, "annotated", [("জ্বর", "Symptom")])]
    split = split_dataset(docs, dev=0.0, test=0.0)
    assert [d.text for d in split.train] == [reviewed] and split.dev == split.test == []
