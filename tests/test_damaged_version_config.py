"""One malformed config.json in a retrained version folder is listed as damaged; the app starts on the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import ModelError
from engine.model_config import ModelConfig
from engine.model_registry import BUNDLED, ModelRegistry

GOOD = {"kind": "student-int8", "tags": ["O", "B-Symptom", "I-Symptom"], "encoder": {"hidden_size": 32},
        "max_length": 64}
MALFORMED = {
    "not JSON": b"{", "empty": b"", "a list": b"[]", "not UTF-8": b"\xff\xfe{}",
    "100,000 nested brackets": b"[" * 100_000 + b"]" * 100_000,
    "threshold as text": json.dumps({**GOOD, "decoder_threshold": "half"}).encode(),
    "decoder as a list": json.dumps({**GOOD, "decoder": ["mbr"]}).encode(),
    "a 5,000-digit number": b'{"max_length": ' + b"9" * 5000 + b"}",
    "tags missing": json.dumps({"kind": "student-int8", "encoder": {}}).encode(),
}


def _version(models: Path, name: str, config: bytes) -> Path:
    folder = models / name / "student-int8"
    folder.mkdir(parents=True)
    (folder / "config.json").write_bytes(config)
    return folder


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_config_is_a_damaged_version_and_a_model_error(tmp_path, case):
    models = tmp_path / "models"
    folder = _version(models, "20261201-0900", MALFORMED[case])
    with pytest.raises(ModelError, match="config.json"):
        ModelConfig.load(folder)
    registry = ModelRegistry(models, tmp_path / "bundled")
    [bundled, damaged] = registry.versions()
    assert bundled.version == BUNDLED and damaged.version == "20261201-0900" and "config.json" in damaged.damaged
    assert registry.active().version == BUNDLED and registry.take_notices() == []  # not active: nothing to say


def test_the_window_starts_and_lists_the_damaged_version(qtbot, open_window, tmp_path):
    from app.gui.versions_dialog import VersionsDialog
    from engine.storage import Repository

    _version(tmp_path / "models", "20261201-0900", MALFORMED["100,000 nested brackets"])
    repo = Repository(tmp_path / "meder.sqlite3")
    window = open_window(repo, tmp_path)
    dialog = VersionsDialog(window, window.registry, lambda: None)
    qtbot.addWidget(dialog)
    rows = [[dialog.table.item(r, c).text() for c in range(dialog.table.columnCount())]
            for r in range(dialog.table.rowCount())]
    assert [r[0] for r in rows] == [BUNDLED, "20261201-0900"]
    assert rows[1][2] == "damaged: cannot be used" and "config.json" in rows[1][3]
    repo.close()
