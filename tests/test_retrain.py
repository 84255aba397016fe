"""Retraining end to end on tiny models and a small real database."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import OperationCancelled
from engine.model_registry import BUNDLED, ModelRegistry
from engine.spans import Entity
from engine.storage import Repository
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


def test_retrain_promotes_and_rolls_back(tmp_path, tiny_bundle):
    db = make_db(tmp_path / "meder.sqlite3")
    events = []
    report = retrain(db, tmp_path / "models", tiny_bundle, preset_override=TINY, progress=events.append)
    assert {"teacher", "distill", "quantize", "evaluate", "done"} <= {e["stage"] for e in events}
    assert report["counts"]["held_out"] == 7 and report["counts"]["unreviewed"] == 10
    assert set(report["held_out"]["new"]) >= {"strict_micro_f1", "strict_macro_f1", "per_class"}
    low, high = report["held_out"]["new"]["strict_micro_f1_ci95"]
    assert f"95 % interval on these documents: {low:.3f}–{high:.3f}" in report["decision"]
    registry = ModelRegistry(tmp_path / "models", tiny_bundle)
    assert [v.version for v in registry.versions()] == [BUNDLED, report["version"]]
    assert registry.active().version == (report["version"] if report["promoted"] else BUNDLED)
    registry.activate(BUNDLED)  # rollback in one call
    assert registry.active().version == BUNDLED
    registry.activate(report["version"])
    assert registry.active().student.is_dir()


def test_worse_model_is_not_promoted(tmp_path, tiny_bundle):
    db = make_db(tmp_path / "meder.sqlite3")
    report = retrain(db, tmp_path / "models", tiny_bundle, preset_override=BROKEN)
    assert not report["promoted"] and "not promoted" in report["decision"]
    registry = ModelRegistry(tmp_path / "models", tiny_bundle)
    assert registry.active().version == BUNDLED
    assert report["version"] in [v.version for v in registry.versions()]  # still there to activate by hand


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
        if json.loads(line).get("stage") == "teacher":
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
    assert result.returncode == 2 and "at least 10 reviewed documents; there are 3" in result.stderr
