"""Review effort: the app's actions per correction, counted as engine/review_effort.py documents them."""

from __future__ import annotations

import random

import pytest

from engine import keymap
from engine.review_effort import ADD, DELETE, NUDGES, RELABEL, RESIZE, review_effort, total_effort
from engine.spans import Entity
from trainer.metrics import error_breakdown, score


def E(start: int, end: int, label: str = "Symptom") -> Entity:
    return Entity(start, end, label)


@pytest.mark.parametrize(("gold", "predicted", "kind", "actions"), [
    ([E(0, 2)], [E(0, 2)], "exact", 0),
    ([E(0, 2)], [], "missed", 2),  # drag over the words, number key
    ([], [E(0, 2)], "spurious", 2),  # click, Delete
    ([E(0, 2)], [E(0, 2, "Medicine")], "wrong_type", 2),  # click, number key
    ([E(0, 2)], [E(0, 3)], "boundary", 2),  # click, Alt+Shift+Left
    ([E(1, 3)], [E(0, 4)], "boundary", 3),  # click, two nudges (= click, drag, Ctrl+R)
    ([E(0, 6)], [E(2, 3)], "boundary", 3),  # five words off: click, drag, Ctrl+R
    ([E(0, 2)], [E(0, 3, "Medicine")], "wrong_type", 3),  # click, number key, one nudge
])
def test_each_kind_costs_what_the_module_says(gold, predicted, kind, actions):
    effort = review_effort(gold, predicted)
    assert effort.actions[kind] == effort.total == actions
    assert effort.entities[kind] == 1


def test_two_suggestions_on_one_entity_fix_one_and_delete_the_other():
    effort = review_effort([E(0, 4)], [E(0, 2), E(2, 4)])
    assert effort.actions == {**dict.fromkeys(effort.actions, 0), "boundary": 1 + 2 + 2}  # click + 2 nudges, click + Delete


def test_one_suggestion_over_two_entities_is_fixed_into_one_and_the_other_added():
    effort = review_effort([E(0, 2), E(2, 4)], [E(0, 4)])
    assert effort.total == 1 + 2 + len(ADD)  # click + shrink by two, then add the second


def test_actions_are_the_key_maps():
    named = {*RELABEL, *DELETE, *ADD, *RESIZE, *NUDGES} - {"click", "drag"}
    assert named <= {k.action for k in keymap.KEYS}


def test_kinds_agree_with_the_error_breakdown_and_effort_is_in_the_evaluation():
    rng = random.Random(3)
    labels = ["Symptom", "Medicine"]

    def tags(n: int) -> list[str]:
        out, inside = [], None
        for _ in range(n):
            r = rng.random()
            if r < 0.25:
                inside = rng.choice(labels)
                out.append(f"B-{inside}")
            elif r < 0.5 and inside:
                out.append(f"I-{inside}")
            else:
                inside = None
                out.append("O")
        return out

    gold = [tags(20) for _ in range(60)]
    predicted = [tags(20) for _ in range(60)]
    result = score(gold, predicted)
    errors = error_breakdown(gold, predicted)["errors"]
    from trainer.metrics import word_entities

    effort = total_effort((word_entities(g), word_entities(p)) for g, p in zip(gold, predicted))
    for kind in effort.entities:
        assert effort.entities[kind] == sum(row[kind] for row in errors.values()), kind
    assert result["review_effort_per_100"] == effort.per_100() > 0
    assert set(result["review_actions_per_100"]) == set(effort.actions)
    assert result["missed_share"] == round(effort.entities["missed"] / effort.gold, 4)
