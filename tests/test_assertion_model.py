"""The assertion classifier a model folder ships: loading under the manifest, the precision-first policy, the
one judge for suggestions and hand edits, the real-text set it is measured on, and its marks in the window."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from app.paths import install_root
from engine.assertion import mention_contexts
from engine.assertion_model import AssertionModel
from engine.assertion_set import DATA_DIR, load_assertion_set, score_mentions
from engine.errors import ModelError
from engine.runtime import load_tagger
from engine.spans import PRESENT, Entity
from engine.storage import NewDocument, Repository
from tests.conftest import tiny_assertion_classifier

SHIPPED = install_root() / "model_assets" / "student-int8"


@pytest.fixture(scope="module")
def shipped():
    return load_tagger(SHIPPED)


def test_the_shipped_folder_carries_a_classifier_under_its_manifest(tmp_path, shipped):
    assert shipped.assertion_model is not None
    # only classes it could tell reliably on dev are shown; family (1 in 1,326 dev mentions) is not
    assert "family" not in shipped.assertion_model.thresholds
    copy = tmp_path / "student-int8"
    shutil.copytree(SHIPPED, copy)
    data = json.loads((copy / "assertion.json").read_text(encoding="utf-8"))
    data["thresholds"]["family"] = 0.01  # a tampered file: would mark every finding a relative's
    (copy / "assertion.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelError, match="assertion.json: does not match its sha256"):
        load_tagger(copy)


def test_a_damaged_classifier_file_is_a_clear_error(tmp_path):
    path = tmp_path / "assertion.json"
    path.write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(ModelError, match="not an assertion classifier file"):
        AssertionModel.load(path)
    good = json.loads(tiny_assertion_classifier(tmp_path / "tiny.json").read_text(encoding="utf-8"))
    good["bias"] = good["bias"][:1]
    path.write_text(json.dumps(good), encoding="utf-8")
    with pytest.raises(ModelError, match="do not fit"):
        AssertionModel.load(path)


def test_a_class_without_a_threshold_is_never_shown(tmp_path):
    model = AssertionModel.load(tiny_assertion_classifier(tmp_path / "tiny.json"))
    text = "জ্বর নেই"
    contexts = mention_contexts(text, [Entity(0, 4, "Symptom")])
    assert model.decide(contexts) == ["absent"]
    model.thresholds = {}
    assert model.decide(contexts) == [PRESENT]
    model.thresholds = {"absent": 1.0}  # stronger evidence than any probability: present
    assert model.decide(contexts) == [PRESENT]


def test_types_without_assertion_and_spans_across_a_sentence_end_are_judged(shipped):
    text = "জ্বর । কাশি নেই , বয়স ৫ বছর"
    age = text.index("৫ বছর")
    found = shipped.assertions(text, [Entity(0, 11, "Symptom"), Entity(age, age + 5, "Age")])
    assert len(found) == 2 and found[1] == PRESENT


def test_suggestions_and_hand_edits_get_the_same_judge(tmp_path, shipped):
    text = "জ্বর নেই। সম্ভবত টাইফয়েড।"
    fever, typhoid = (0, 4), (text.index("টাইফয়েড"), text.index("টাইফয়েড") + len("টাইফয়েড"))
    suggested = shipped.tag(text)
    repo = Repository(tmp_path / "meder.sqlite3")
    try:
        [doc_id] = repo.add_documents([NewDocument("note", text)], origin="model")
        plain = repo.add_entity(doc_id, *fever, "Symptom")  # no model loaded: kept present
        assert [e.assertion for e in repo.entities(doc_id) if e.id in plain.added] == [PRESENT]
        repo.undo()
        repo.judge = shipped.assertions  # as the window does once its model has loaded
        added = repo.add_entity(doc_id, *fever, "Symptom")
        [fever_entity] = [e for e in repo.entities(doc_id) if e.id in added.added]
        expected = shipped.assertions(text, [Entity(*fever, "Symptom")])[0]
        assert fever_entity.assertion == expected == "absent"
        repo.add_entity(doc_id, *typhoid, "Health Condition")
        [stored] = [e for e in repo.entities(doc_id) if e.start == typhoid[0]]
        assert stored.assertion == shipped.assertions(text, [Entity(*fever, "Symptom"),
                                                             Entity(*typhoid, "Health Condition")])[1]
        # resizing "জ্বর" to take in the negation makes the span the complaint itself: judged again
        changed = repo.resize(fever_entity.id, 0, text.index("।"))
        [resized] = [e for e in repo.entities(doc_id) if e.id in changed.added]
        assert resized.assertion == shipped.assertions(text, [Entity(0, text.index("।"), "Symptom"),
                                                              Entity(*typhoid, "Health Condition")])[0]
        # what the model suggests for the same words is what a hand edit gets
        by_span = {(e.start, e.end): e.assertion for e in suggested}
        if fever in by_span:
            assert by_span[fever] == expected
    finally:
        repo.close()


needs_data = pytest.mark.skipif(not (DATA_DIR / "healthner-a.json").is_file(),
                                reason=f"the real-text set's texts are read from {DATA_DIR}")


@needs_data
def test_the_real_text_set_matches_its_data_and_scores_the_baseline():
    docs = load_assertion_set(split="test")
    mentions = [m for d in docs for m in d.mentions]
    assert len(mentions) == 807 and {m.split for m in mentions} == {"test"}
    rows = {json.loads(line)["id"]: json.loads(line)
            for line in (Path(__file__).parent / "data" / "assertion_real" / "mentions.jsonl").read_text(
                encoding="utf-8").splitlines()}
    for d in docs:
        for m in d.mentions:
            e = d.document.entities[m.entity]
            assert d.document.text[e.start:e.end].split() == rows[m.id]["words"].split(), m.id
    everything_present = score_mentions(docs, lambda text, entities: [PRESENT] * len(entities))
    assert everything_present.accuracy == everything_present.all_present == pytest.approx(636 / 807)


def test_each_assertion_has_its_own_mark_legend_entry_and_tooltip(open_window, qtbot, tmp_path):
    text = "সম্ভবত টাইফয়েড, জ্বর নেই, আলট্রাসনোগ্রাম করাবেন"
    typhoid, fever = text.index("টাইফয়েড"), text.index("জ্বর")
    scan = text.index("আলট্রাসনোগ্রাম")
    path = tmp_path / "meder.sqlite3"
    repo = Repository(path)
    repo.add_documents([NewDocument("note", text, entities=[
        Entity(typhoid, typhoid + 8, "Health Condition", 0.9, "possible"),
        Entity(fever, fever + 4, "Symptom", 0.9, "absent"),
        Entity(scan, scan + len("আলট্রাসনোগ্রাম"), "Medical Procedure", 0.9, "hypothetical")])], origin="model")
    repo.close()
    window = open_window(Repository(path), tmp_path)
    try:
        window.show_document(1)
        view = window.view
        assert view.format_at(typhoid).fontItalic() and not view.format_at(typhoid).fontStrikeOut()
        assert view.format_at(fever).fontStrikeOut()
        assert view.format_at(scan).fontItalic()
        colors = {view.format_at(i).foreground().color().name() for i in (typhoid, fever, scan)}
        assert len(colors) == 3  # possible, absent and hypothetical look different from each other
        assert "possible" in view.tooltip_at(typhoid) and "hypothetical" in view.tooltip_at(scan)
        for assertion in ("absent", "possible", "past", "family", "hypothetical"):
            assert window.legend.findChild(object, f"legend_assertion_{assertion}") is not None

        # a finding added by hand in the window gets the model's assertion, as a suggestion to cycle
        window.repo.delete(window.repo.entities(1)[1].id)
        window.show_document(1)
        cursor = view.textCursor()
        cursor.setPosition(view.to_qt(fever))
        cursor.setPosition(view.to_qt(fever + 4), QTextCursor.MoveMode.KeepAnchor)
        view.setTextCursor(cursor)
        number = window.types.index("Symptom") + 1
        qtbot.keyClick(view, getattr(Qt.Key, f"Key_{number}"))
        [added] = [e for e in window.repo.entities(1) if e.start == fever]
        assert added.assertion == window.tagger.assertions(
            text, [e.span() for e in window.repo.entities(1)])[[e.start for e in window.repo.entities(1)].index(fever)]
    finally:
        window.repo.close()
