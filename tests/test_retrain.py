"""Retraining end to end on tiny models and a small real database."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import OperationCancelled
from engine.model_registry import BUNDLED, ModelRegistry
from engine.runtime import load_tagger
from engine.spans import Entity
from engine.storage import Repository
from engine.trainer_contract import ExitCode, Result, RetrainReport, Stage, Step, decode
from trainer.fit import Recipe
from trainer.retrain import Preset, retrain

ROOT = Path(__file__).resolve().parent.parent
TINY = Preset(Recipe(epochs=2, batch_size=8, lr_encoder=1e-3, lr_head=1e-3),
              Recipe(epochs=2, batch_size=8, lr_encoder=1e-3, lr_head=1e-3, kd_alpha=0.5), 1.0, 1)
BROKEN = Preset(Recipe(epochs=3, batch_size=8, lr_encoder=5.0, lr_head=50.0, warmup=0.0),
                Recipe(epochs=3, batch_size=8, lr_encoder=5.0, lr_head=50.0, kd_alpha=0.5, warmup=0.0), 1.0, 1)


def make_db(path: Path, reviewed: int = 30, unreviewed: int = 10) -> Path:
    repo = Repository(path)
    rows = []
    for i in range(reviewed + unreviewed):
        if i % 2:
            rows.append((f"n{i}", "জ্বর হলে নাপা খান", "t", [Entity(0, 4, "Symptom"), Entity(9, 13, "Medicine")]))
        else:
            rows.append((f"n{i}", "নাপা খেলে মাথা ব্যথা কমে", "t", [Entity(0, 4, "Medicine"), Entity(10, 20, "Symptom")]))
    ids = repo.add_documents(rows, origin="model", model_version="tiny-1")
    for doc_id in ids[:reviewed]:
        repo.set_reviewed(doc_id)
    repo.close()
    return path


def test_too_little_evidence_keeps_the_model_for_activation_by_hand(tmp_path, tiny_bundle):
    db = make_db(tmp_path / "meder.sqlite3")  # 30 reviewed: 7 set aside with 14 entities, below the bar
    events = []
    report = retrain(db, tmp_path / "models", tiny_bundle, preset_override=TINY, progress=events.append)
    stages = [e.stage for e in events if isinstance(e, Stage)]
    assert stages == ["data", "teacher", "score", "distill", "quantize", "evaluate"]
    assert any(isinstance(e, Step) and e.stage == "teacher" for e in events)
    assert isinstance(events[-1], Result) and events[-1].report == report
    assert report.counts.held_out == 7 and report.counts.unreviewed == 10
    assert report.held_out.new.documents == 7 and report.held_out.new.entities == 14
    assert set(report.held_out.new.metrics) >= {"strict_micro_f1", "strict_macro_f1", "per_class"}
    assert not report.promoted and not report.decision.judged
    assert report.decision.more_reviewed == 10  # 40 reviewed set 10 documents with 20 entities aside
    assert "About 10 more reviewed documents" in report.verdict()
    registry = ModelRegistry(tmp_path / "models", tiny_bundle)
    assert [v.version for v in registry.versions()] == [BUNDLED, report.version]
    assert registry.active().version == BUNDLED
    registry.activate(report.version)  # by hand, as Model › Versions does
    assert registry.active().version == report.version and registry.active().student.is_dir()
    registry.activate(BUNDLED)  # rollback in one call
    assert registry.active().version == BUNDLED


def test_enough_evidence_promotes_and_the_report_reads_back(tmp_path, tiny_bundle):
    db = make_db(tmp_path / "meder.sqlite3", reviewed=40)  # 10 set aside with 20 entities: just enough
    report = retrain(db, tmp_path / "models", tiny_bundle, preset_override=TINY)
    assert report.decision.judged and report.held_out.new.f1 >= report.held_out.active.f1
    assert report.promoted and "It is now active" in report.verdict()
    registry = ModelRegistry(tmp_path / "models", tiny_bundle)
    assert registry.active().version == report.version
    assert RetrainReport.from_dict(registry.active().report) == report
    # the assertion classifier is carried over (clinic reviews don't label assertions), and the app uses it
    carried = registry.active().student / "assertion.json"
    assert carried.read_bytes() == (tiny_bundle / "student-int8" / "assertion.json").read_bytes()
    tagger = load_tagger(registry.active().student)
    assert tagger.assertion_model is not None
    assert tagger.assertions("জ্বর নেই", [Entity(0, 4, "Symptom")]) == ["absent"]


def test_worse_model_is_not_promoted(tmp_path, tiny_bundle):
    db = make_db(tmp_path / "meder.sqlite3", reviewed=40)
    report = retrain(db, tmp_path / "models", tiny_bundle, preset_override=BROKEN)
    assert report.decision.judged and not report.promoted
    assert report.held_out.new.f1 < report.held_out.active.f1
    assert "The current model stays active because it did better" in report.verdict()
    registry = ModelRegistry(tmp_path / "models", tiny_bundle)
    assert registry.active().version == BUNDLED
    assert report.version in [v.version for v in registry.versions()]  # still there to activate by hand


def test_cancel_leaves_everything_as_it_was(tmp_path, tiny_bundle):
    db = make_db(tmp_path / "meder.sqlite3")
    calls = []

    def cancel_soon():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(OperationCancelled):
        retrain(db, tmp_path / "models", tiny_bundle, preset_override=TINY, cancelled=cancel_soon)
    registry = ModelRegistry(tmp_path / "models", tiny_bundle)
    assert [v.version for v in registry.versions()] == [BUNDLED]
    assert not list((tmp_path / "models").glob(".meder-tmp-*"))
    assert len(Repository(db).reviewed_documents()) == 30


def test_killed_trainer_changes_nothing(tmp_path, tiny_bundle):
    db = make_db(tmp_path / "meder.sqlite3")
    models = tmp_path / "models"
    proc = subprocess.Popen([sys.executable, "-m", "trainer", "retrain", "--db", str(db), "--out", str(models),
                             "--bundled", str(tiny_bundle), "--json-progress"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if isinstance(decode(line), Step):
            break
    proc.send_signal(signal.SIGKILL)  # no chance to clean up: like a power cut
    proc.wait(timeout=60)
    assert list(models.glob(".meder-tmp-*")), "the kill should have left a half-written folder behind"
    registry = ModelRegistry(models, tiny_bundle)
    assert registry.active().version == BUNDLED
    assert registry.cleanup_leftovers() and not list(models.glob(".meder-tmp-*"))
    assert [v.version for v in registry.versions()] == [BUNDLED]


def test_too_few_reviewed_documents_is_a_clear_error(tmp_path, tiny_bundle):
    db = make_db(tmp_path / "meder.sqlite3", reviewed=3)
    result = subprocess.run([sys.executable, "-m", "trainer", "retrain", "--db", str(db), "--out",
                             str(tmp_path / "models"), "--bundled", str(tiny_bundle)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == ExitCode.REFUSED and "at least 10 reviewed documents; there are 3" in result.stderr


def test_cancel_during_evaluate_keeps_no_version(tmp_path, tiny_bundle):
    db = make_db(tmp_path / "meder.sqlite3", reviewed=40)  # enough evidence: without the cancel it is promoted
    stage = []

    def note(event):
        if isinstance(event, Stage):
            stage.append(event.stage)

    with pytest.raises(OperationCancelled):
        retrain(db, tmp_path / "models", tiny_bundle, preset_override=TINY, progress=note,
                cancelled=lambda: stage[-1:] == ["evaluate"])
    registry = ModelRegistry(tmp_path / "models", tiny_bundle)
    assert stage[-1] == "evaluate" and [v.version for v in registry.versions()] == [BUNDLED]
    assert registry.active().version == BUNDLED and not list((tmp_path / "models").glob(".meder-tmp-*"))
