"""The one label set: entity types <-> IOB2 tags in head order."""

import pytest

from engine.errors import ModelError
from engine.labels import LabelSet
from engine.model_config import ModelConfig

ENCODER = {"max_position_embeddings": 512}


def test_types_become_tags_in_head_order_and_back():
    labels = LabelSet.from_types(["Medicine", "Health Condition", "Medicine"])
    assert labels.tags == ("O", "B-Medicine", "I-Medicine", "B-Health Condition", "I-Health Condition")
    assert labels.entity_types == ["Medicine", "Health Condition"]
    assert (labels.outside, labels.begin("Health Condition"), labels.inside("Health Condition")) == (0, 3, 4)
    assert [labels.entity_type(i) for i in range(len(labels))] == [
        None, "Medicine", "Medicine", "Health Condition", "Health Condition"]
    assert [labels.prefix(i) for i in range(len(labels))] == ["O", "B", "I", "B", "I"]


def test_types_come_from_the_tags_whatever_their_order():
    """An I- tag before its B- tag (or a type with no I- tag) still names its type once; no slicing of pairs."""
    labels = LabelSet(["I-Age", "O", "B-Dosage", "B-Age"])
    assert labels.entity_types == ["Age", "Dosage"]
    assert labels.inside("Dosage") is None
    assert labels.index("B-Age") == 3
    with pytest.raises(ValueError, match="no tag 'B-Symptom'"):
        labels.begin("Symptom")


def test_new_types_are_appended_and_old_indices_kept():
    labels = LabelSet(["O", "B-Age", "I-Age"])
    grown = labels.with_types(["Specialist", "Age", "Specialist"])
    assert grown.tags == ("O", "B-Age", "I-Age", "B-Specialist", "I-Specialist")
    assert labels.with_types([]) == labels


@pytest.mark.parametrize(("tags", "message"), [
    (["B-Age", "I-Age"], "include 'O'"),
    (["O", "B-Age", "B-Age"], "unique"),
    (["O", "X-Age"], "not an IOB2 tag: 'X-Age'"),
    (["O", "B-"], "not an IOB2 tag"),
    (["O", 3], "must be text"),
])
def test_bad_label_lists_are_refused(tags, message):
    with pytest.raises(ValueError, match=message):
        LabelSet(tags)


def test_the_head_size_is_checked_against_the_labels():
    labels = LabelSet.from_types(["Age"])
    labels.check_outputs(3)
    with pytest.raises(ValueError, match="emits 5 tags but its labels list 3"):
        labels.check_outputs(5)


def test_model_config_uses_the_label_set():
    config = ModelConfig(kind="student-int8", tags=["O", "B-Symptom", "I-Symptom", "B-Age"], encoder=ENCODER,
                         max_length=64)
    config.validate()
    assert config.entity_types == ["Symptom", "Age"]
    assert config.labels == LabelSet(config.tags)
    config.tags = ["O", "B-Symptom", "B-Symptom"]
    with pytest.raises(ModelError, match="unique and include 'O'"):
        config.validate("here")
