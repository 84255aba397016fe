"""The ConText rules for Bangla (engine/assertion.py): one test per kind of rule, the rules file, the JSONL
fourth element, and the scores on the evaluation set written before the rules (tests/data/assertion)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.assertion import RULES_FILE, assert_entities, assertions, load_rules, parse_rules, score_assertions
from engine.errors import FormatError
from engine.formats import jsonl
from engine.spans import Document, Entity

DATA = Path(__file__).parent / "data" / "assertion"
_MARK = re.compile(r"\[([^\[\]|]+)(?:\|([^\[\]|]+))?\]")


def check(marked: str, label: str = "Symptom") -> None:
    """``"[জ্বর|absent] নেই"``: the rules give each marked finding the assertion written after its bar."""
    text, entities, expected, pos = "", [], [], 0
    for m in _MARK.finditer(marked):
        text += marked[pos:m.start()]
        entities.append(Entity(len(text), len(text) + len(m.group(1)), label))
        text += m.group(1)
        expected.append(m.group(2) or "present")
        pos = m.end()
    text += marked[pos:]
    assert assertions(text, entities) == expected, text


@pytest.mark.parametrize("marked", [
    "[জ্বর|absent] নেই।",
    "[কাশি|absent] হয়নি।",
    "রোগীর [ডায়াবেটিস|absent] নাই।",
    "jor nai: [jor|absent] nai",
    "Patient denies [chest pain|absent] and [shortness of breath|absent].",
    "No [fever|absent], no [cough|absent].",
])
def test_negation_after_bangla_and_before_english(marked: str) -> None:
    check(marked)


def test_one_negation_covers_a_list_however_long() -> None:
    check("[জ্বর|absent], [কাশি|absent] বা [বমি|absent] নেই।")
    check("[জ্বর|absent], [গলাব্যথা|absent], [সর্দি|absent] কিংবা [বমি|absent] — এর কোনোটিই রোগীর এখন পর্যন্ত হয়নি।")


def test_scope_ends_at_sentence_ends_closing_words_and_clauses_with_their_own_verb() -> None:
    check("[জ্বর] আছে। [কাশি|absent] নেই।")
    check("[জ্বর|possible] আছে? [কাশি|absent] নেই।")  # an open question: possible
    check("[কাশি] আছে কিন্তু [জ্বর|absent] নেই।")
    check("[জ্বর|absent] নেই কিন্তু [কাশি] আছে।")
    check("[গলাব্যথা] আর [কাশি] আছে, [জ্বর|absent] নেই।")
    check("[জ্বর] ছাড়া আর কোনো সমস্যা নেই।")  # "nothing but fever": ছাড়া closes the negation


@pytest.mark.parametrize("marked", [
    "[জ্বর|possible] নাকি [অ্যালার্জি|possible] বোঝা যাচ্ছে না।",  # নাকি negates nothing
    "[খিঁচুনি|hypothetical] দেখা দিলে দেরি না করে আসবেন।",  # দেরি না করে: without delay
    "দুই দিন ধরে [নাকে রক্ত] পড়ছে।",  # নাক (nose) starts like না but is another word
    "[ব্যথা] কমছে না।",  # not improving: the pain is there
    "[বুকে ব্যথা] নেই তা নয়।",  # double negation
])
def test_pseudo_triggers_and_double_negation_negate_nothing(marked: str) -> None:
    check(marked)


def test_conditions_and_plans_are_hypothetical() -> None:
    check("[জ্বর|hypothetical] না কমলে আসবেন।")  # the না belongs to the condition
    check("[মাথাব্যথা|hypothetical] হলে নাপা খাবেন।")
    check("jodi [matha betha|hypothetical] hoy tahole aschen.")
    check("[আলট্রাসনোগ্রাম|hypothetical] করাবেন।", label="Medical Procedure")
    check("[কাশি] দুই সপ্তাহ ধরে, এক্স-রে করাবেন।")  # a plan is about procedures only (a type limit in the rules)


def test_possible_past_and_family() -> None:
    check("সম্ভবত [টাইফয়েড|possible]।")
    check("[নিউমোনিয়া|possible] হতে পারে।")
    check("[Typhoid|possible]? Widal test korben.")
    check("আগে [জন্ডিস|past] হয়েছিল।")
    check("h/o [TB|past] 5 bochor age.")
    check("ছয় মাস আগে [স্ট্রোক|past] হয়েছিল, এখন [মাথা ঘোরা] আছে।")
    check("বাবার [ডায়াবেটিস|family] আছে।")
    check("মা জানান, শিশুর দুই দিন ধরে [জ্বর] ও [সর্দি]।")  # the mother tells; the child has it
    check("বোনের [হাঁপানি|family] আছে, রোগীর নিজের [হাঁপানি|absent] নেই।")


def test_precedence_absent_wins_and_medicine_not_to_be_taken_is_absent() -> None:
    check("পরিবারে কারো [ক্যান্সার|absent] নেই।")  # family and absent: absent
    check("আগে কখনো [অপারেশন|absent] হয়নি।")  # past and absent: absent
    check("[নাপা|absent] খাবেন না।", label="Medicine")


def test_types_without_an_assertion_and_spelling_variants() -> None:
    text = "৫০০ মিগ্রা নেই"
    assert assertions(text, [Entity(0, 10, "Dosage")]) == ["present"]  # Dosage carries none
    decomposed = "জ্বর হয\u09bcনি"  # য় typed as য + nukta
    precomposed = "জ্বর হ\u09dfনি"
    for text in (decomposed, precomposed, "জ্বর হয়\u200cনি"):
        assert assertions(text, [Entity(0, 4, "Symptom")]) == ["absent"], ascii(text)
    assert assert_entities("জ্বর নেই", [Entity(0, 4, "Symptom", 0.9)]) == [Entity(0, 4, "Symptom", 0.9, "absent")]
    assert assertions("", []) == []


def test_a_clinic_adds_a_type_and_a_trigger_in_the_rules_file(tmp_path: Path) -> None:
    data = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    data["types"].append("Allergy")
    data["triggers"].append({"assertion": "absent", "side": "after", "phrases": ["পাওয়া যায় নাই"]})
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    rules = load_rules(path)
    text = "পেনিসিলিনে অ্যালার্জি পাওয়া যায় নাই"
    entity = Entity(0, 21, "Allergy")
    assert assertions(text, [entity], rules) == ["absent"]
    assert assertions(text, [entity]) == ["present"]  # the bundled rules don't know the type


@pytest.mark.parametrize(("change", "message"), [
    ({"precedence": ["absent", "maybe"]}, "unknown assertion"),
    ({"triggers": [{"assertion": "absent", "side": "left", "phrases": ["নেই"]}]}, "side"),
    ({"triggers": [{"assertion": "absent", "side": "after", "phrases": [" "]}]}, "empty phrase"),
    ({"types": "Symptom"}, "'types' must be a list"),
    ({"closing_words": {"later": ["তবে"]}}, "neither 'all' nor an assertion"),
])
def test_a_broken_rules_file_is_refused_saying_what_is_wrong(change: dict, message: str) -> None:
    data = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    data.update(change)
    with pytest.raises(ValueError, match=message):
        parse_rules(data)


def test_jsonl_carries_the_assertion_as_a_fourth_element(tmp_path: Path) -> None:
    line = ('{"text": "জ্বর নেই, কাশি আছে", "label": [[0, 4, "Symptom", {"assertion": "absent"}], '
            '[10, 14, "Symptom"]]}\n')
    [doc] = jsonl.parse(line, "a.jsonl")
    assert [e.assertion for e in doc.entities] == ["absent", "present"]
    written = jsonl.dumps_doccano([doc])
    assert json.loads(written)["label"] == [[0, 4, "Symptom", {"assertion": "absent"}], [10, 14, "Symptom"]]
    assert jsonl.parse(written, "b.jsonl")[0].entities == doc.entities
    with pytest.raises(FormatError, match="unknown assertion 'negated'"):
        jsonl.parse(line.replace('"absent"', '"negated"'), "c.jsonl")


def _load(name: str) -> list[Document]:
    path = DATA / name
    return jsonl.parse(path.read_text(encoding="utf-8"), path)


def test_scores_on_the_evaluation_set_meet_the_goal() -> None:
    for name in ("dev.jsonl", "test.jsonl"):
        docs = _load(name)
        score = score_assertions(docs)
        assert score.total >= 150, name
        assert score.accuracy >= 0.9, (name, score.errors)
        assert score.per_class()["absent"]["f1"] >= 0.85, name
    assert sum(score_assertions(_load(n)).total for n in ("dev.jsonl", "test.jsonl")) >= 300


def test_scoring_counts_a_wrong_assertion_against_both_classes() -> None:
    doc = Document("জ্বর নেই", [Entity(0, 4, "Symptom", assertion="present")])
    score = score_assertions([doc])
    assert (score.total, score.correct) == (1, 0)
    per_class = score.per_class()
    assert per_class["present"]["recall"] == 0.0 and per_class["absent"]["precision"] == 0.0
