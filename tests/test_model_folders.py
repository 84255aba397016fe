"""Tampered or damaged model folders are refused with a ModelError, never a crash; the CRF survives any scores.

Every case starts from a real copy of the bundled ``model_assets/student-int8``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.crf import CRFDecoder
from engine.errors import ModelError, OperationCancelled
from engine.manifest import verify_manifest, write_manifest
from engine.model_registry import BUNDLED, ModelRegistry
from engine.runtime import load_tagger
from engine.text import split_words

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_INT8 = ROOT / "model_assets" / "student-int8"


@pytest.fixture
def copy(tmp_path) -> Path:
    folder = tmp_path / "student-int8"
    shutil.copytree(BUNDLED_INT8, folder)
    return folder


def edit_config(folder: Path, **changes) -> None:
    """Change config.json and re-sign the folder, so only the config's content can be refused."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    write_manifest(folder)


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("manifest, message", [
    ({"files": []}, "must list the model's files"),
    ({"files": {}}, "must list the model's files"),
    ({}, "must list the model's files"),
    ([], "must list the model's files"),
    ({"files": {"config.json": 42}}, "no valid sha256"),
])
def test_a_malformed_manifest_is_refused(copy, manifest, message):
    write_json(copy / "manifest.json", manifest)
    with pytest.raises(ModelError, match=message):
        load_tagger(copy)


def test_manifest_entries_cannot_leave_the_folder(copy, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("not a model file")
    files = json.loads((copy / "manifest.json").read_text())["files"]
    files["../secret.txt"] = hashlib.sha256(outside.read_bytes()).hexdigest()  # the right hash
    write_json(copy / "manifest.json", {"files": files})
    with pytest.raises(ModelError, match="points outside the model folder"):
        verify_manifest(copy)


def test_symbolic_links_are_refused(copy, tmp_path):
    real = tmp_path / "tokenizer.json"
    shutil.move(copy / "tokenizer.json", real)
    os.symlink(real, copy / "tokenizer.json")  # same content, same hash: still refused
    with pytest.raises(ModelError, match="symbolic link"):
        load_tagger(copy)


@pytest.mark.parametrize("changes, message", [
    ({"format_version": "2"}, "'format_version' must be a whole number"),
    ({"format_version": 2}, "newer Bangla MedER"),
    ({"format_version": 0}, "unknown model format"),
    ({"max_length": 4}, "'max_length' must be a whole number from 32 to 512"),
    ({"max_length": 4096}, "'max_length' must be a whole number from 32 to 512"),
    ({"max_length": "128"}, "'max_length' must be"),
    ({"tags": "O"}, "'tags' must be a list"),
    ({"encoder": []}, "'encoder' must be an object"),
])
def test_inconsistent_configs_are_refused(copy, changes, message):
    edit_config(copy, **changes)
    with pytest.raises(ModelError, match=message):
        load_tagger(copy)


def test_a_config_that_is_not_an_object_is_refused(copy):
    write_json(copy / "config.json", ["O", "B-Medicine"])
    write_manifest(copy)
    with pytest.raises(ModelError, match="must hold a JSON object"):
        load_tagger(copy)


def make_version(models: Path, name: str) -> Path:
    folder = models / name
    shutil.copytree(BUNDLED_INT8, folder / "student-int8")
    return folder


def test_active_json_that_is_not_an_object_falls_back_to_the_bundled_model(tmp_path):
    registry = ModelRegistry(tmp_path / "models", ROOT / "model_assets")
    make_version(registry.dir, "20260101-000000")
    for content in ("[]", '["20260101-000000"]', '{"version": ["x"]}', "not json"):
        (registry.dir / "active.json").write_text(content)
        assert registry.active().version == BUNDLED
    registry.activate("20260101-000000")
    assert registry.active().version == "20260101-000000"
    assert (registry.dir / "active.json").stat().st_mode & 0o777 == 0o600


def test_one_damaged_version_does_not_hide_the_others(tmp_path):
    registry = ModelRegistry(tmp_path / "models", ROOT / "model_assets")
    good = make_version(registry.dir, "20260101-000000")
    bad = make_version(registry.dir, "20260202-000000")
    (bad / "student-int8" / "config.json").write_text("[1, 2")  # unreadable
    versions = {v.version: v for v in registry.versions()}
    assert set(versions) == {BUNDLED, good.name, bad.name}
    assert "not valid JSON" in versions[bad.name].damaged and not versions[good.name].damaged
    with pytest.raises(ModelError, match="cannot be activated"):
        registry.activate(bad.name)
    registry.activate(good.name)
    assert registry.active().version == good.name
    registry.activate(BUNDLED)  # rollback
    assert registry.active().version == BUNDLED


def test_versions_dialog_lists_a_damaged_version_and_still_rolls_back(qtbot, tmp_path):
    from app.gui.versions_dialog import VersionsDialog

    registry = ModelRegistry(tmp_path / "models", ROOT / "model_assets")
    good = make_version(registry.dir, "20260101-000000")
    bad = make_version(registry.dir, "20260202-000000")
    write_json(bad / "student-int8" / "config.json", [])
    registry.activate(good.name)
    activated = []
    dialog = VersionsDialog(None, registry, lambda: activated.append(1))
    qtbot.addWidget(dialog)
    rows = {dialog.table.item(r, 0).text(): r for r in range(dialog.table.rowCount())}
    assert set(rows) == {BUNDLED, good.name, bad.name}
    assert "damaged" in dialog.table.item(rows[bad.name], 2).text()
    dialog.table.selectRow(rows[BUNDLED])
    dialog._on_activate()
    assert registry.active().version == BUNDLED and activated == [1]


def test_leftovers_of_a_running_retrain_survive_a_second_start(tmp_path):
    registry = ModelRegistry(tmp_path / "models", ROOT / "model_assets")
    running = registry.new_temp_folder()  # named after this (live) process
    legacy = registry.dir / ".tmp-abc"  # an earlier release's leftover, hours old
    legacy.mkdir()
    os.utime(legacy, (0, 0))
    assert registry.cleanup_leftovers() == [legacy.name]
    assert running.is_dir()


# --- the CRF under extreme and invalid scores --------------------------------------------------------

TAGS = ["O", "B-Medicine", "I-Medicine", "B-Symptom", "I-Symptom"]


def decoder() -> CRFDecoder:
    rng = np.random.default_rng(0)
    return CRFDecoder.from_scores(TAGS, rng.normal(size=5), rng.normal(size=5), rng.normal(size=(5, 5)))


@pytest.mark.parametrize("scale", [1e3, 1e6, 1e30, 1e150])
def test_extreme_logits_decode_to_valid_paths_with_probabilities(scale):
    rng = np.random.default_rng(1)
    emissions = rng.normal(size=(300, 5)) * scale
    emissions[5, TAGS.index("I-Symptom")] = scale * 50  # screams for a forbidden B-/O -> I-Symptom
    path, spans = decoder().decode(emissions)
    tags = [TAGS[i] for i in path]
    assert not tags[0].startswith("I-")
    assert all(not b.startswith("I-") or a[2:] == b[2:] for a, b in zip(tags, tags[1:]))
    assert all(0.0 <= p <= 1.0 for _, _, p in spans)


def test_scores_where_every_path_underflows_still_give_marginals():
    """Each word allows one tag only, and the next word's tag cannot follow it: the old code's 'math domain error'."""
    emissions = np.full((4, 5), -1e6)
    for t, tag in enumerate(["B-Medicine", "I-Symptom", "O", "I-Medicine"]):
        emissions[t, TAGS.index(tag)] = 1e6
    marginals = decoder().marginals(emissions)
    assert np.isfinite(marginals).all()
    np.testing.assert_allclose(marginals.sum(axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_emissions_are_a_model_error(bad):
    emissions = np.zeros((6, 5))
    emissions[3, 2] = bad
    with pytest.raises(ModelError, match="invalid scores"):
        decoder().decode(emissions)


def test_nan_in_crf_file_scores_is_refused():
    with pytest.raises(ValueError, match="finite"):
        CRFDecoder.from_scores(TAGS, np.zeros(5), np.full(5, np.nan), np.zeros((5, 5)))


# --- one long document: progress and cancel while decoding ------------------------------------------

LONG_NOTE = "জ্বর ও মাথা ব্যথা, নাপা ৫০০ মিগ্রা দিনে ৩ বার। " * 2500  # one paste of ~115,000 characters


def windows(tagger) -> int:
    return len(tagger.tokenizer.windows([w.text for w in split_words(LONG_NOTE)]))


def test_one_long_document_reports_progress_through_decoding():
    tagger = load_tagger(BUNDLED_INT8)
    calls = []
    entities = tagger.tag_many([LONG_NOTE], progress=lambda done, total: calls.append((done, total)))[0]
    assert entities
    totals = {t for _, t in calls}
    assert len(totals) == 1 and calls[-1][0] == calls[-1][1]
    dones = [d for d, _ in calls]
    assert dones == sorted(dones)
    through_the_model = windows(tagger)  # once: it tokenizes the whole note
    assert sum(d > through_the_model for d in dones) >= 5, "decoding the one document should move the bar several times"


def test_one_long_document_can_be_cancelled_while_decoding():
    tagger = load_tagger(BUNDLED_INT8)
    through_the_model = windows(tagger)
    seen = []

    def cancelled():
        return bool(seen) and seen[-1][0] > through_the_model + 2  # inside the CRF's decoding

    with pytest.raises(OperationCancelled):
        tagger.tag_many([LONG_NOTE], progress=lambda done, total: seen.append((done, total)) or None,
                        cancelled=cancelled)
    assert through_the_model < seen[-1][0] < seen[-1][1]


# --- retraining: refuse early and say why -----------------------------------------------------------

def test_retrain_with_a_mistyped_database_says_so_and_creates_nothing(tmp_path):
    import subprocess
    import sys

    typo = tmp_path / "meder.sqlite"
    result = subprocess.run([sys.executable, "-m", "trainer", "retrain", "--db", str(typo), "--out",
                             str(tmp_path / "models")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "no such database" in result.stderr.splitlines()[-1]
    assert not typo.exists()


def test_retrain_refuses_to_start_without_disk_space(tmp_path):
    from engine.errors import MederError
    from trainer.retrain import check_free_space

    free = shutil.disk_usage(tmp_path).free
    check_free_space(tmp_path, needed=1)
    with pytest.raises(MederError, match=r"retraining needs about \d+ MB free.*nothing was changed"):
        check_free_space(tmp_path, needed=free * 4)


def test_the_retrain_dialog_shows_the_real_error_not_an_onnx_runtime_warning():
    from app.gui.retrain_dialog import failure_line

    warning = ("2026-11-26 10:00:01.123 python[41:41] [W:onnxruntime:, graph.cc:4285 CleanUnusedInitializers] "
               "Removing initializer 'x'. It is not used by any node")
    assert failure_line(f"Traceback ...\nOSError: [Errno 28] No space left on device\n{warning}\n") == \
        "OSError: [Errno 28] No space left on device"
    assert failure_line(f"{warning}\nerror: retraining stopped: No space left on device\n{warning}\n") == \
        "retraining stopped: No space left on device"
    assert failure_line(warning) == ""
