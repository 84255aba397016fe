"""Model versions: the bundled one (read-only, in the install folder) and the
retrained ones (in the user data folder), and which one is active.

Layout under ``<data>/models``::

    active.json             {"version": "20261125-1530"}  (absent: the bundled model)
    20261125-1530/          a retrained version
        student-int8/       what the app runs
        teacher/            what the next retraining starts from
        student/            the student's fp16 weights, which the next distillation continues
        report.json         data counts, metrics on the held-out slice, promotion decision
    .tmp-*/                 work in progress; removed at the next start if left by a crash

Every switch is a single atomic file replace, so a crash at any moment leaves
either the old or the new active model, never a half-written one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ModelError
from engine.manifest import verify_manifest
from engine.model_config import ModelConfig

BUNDLED = "bundled"
ACTIVE_FILE = "active.json"
TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class ModelVersion:
    version: str
    folder: Path  # holds student-int8/ (and teacher/)
    created: str
    report: dict
    bundled: bool

    @property
    def student(self) -> Path:
        return self.folder / "student-int8"

    @property
    def teacher(self) -> Path:
        return self.folder / "teacher"

    @property
    def student_weights(self) -> Path:
        """The student's fp16 torch weights, from which the next distillation continues."""
        return self.folder / "student"


class ModelRegistry:
    def __init__(self, models_dir: str | Path, bundled_dir: str | Path) -> None:
        self.dir = Path(models_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.bundled_dir = Path(bundled_dir)  # model_assets/

    def cleanup_leftovers(self) -> list[str]:
        """Remove half-written versions left by a crash or a killed trainer."""
        removed = []
        for p in self.dir.glob(TEMP_PREFIX + "*"):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
        return removed

    def versions(self) -> list[ModelVersion]:
        found = [self._bundled()]
        for p in sorted(self.dir.iterdir()):
            if p.is_dir() and not p.name.startswith(".") and (p / "student-int8").is_dir():
                report = _read_json(p / "report.json")
                created = ModelConfig.load(p / "student-int8").created if (p / "student-int8" / "config.json").is_file() else ""
                found.append(ModelVersion(p.name, p, created, report, False))
        return found

    def _bundled(self) -> ModelVersion:
        config = self.bundled_dir / "student-int8" / "config.json"
        created = json.loads(config.read_text(encoding="utf-8")).get("created", "") if config.is_file() else ""
        return ModelVersion(BUNDLED, self.bundled_dir, created, {}, True)

    def get(self, version: str) -> ModelVersion:
        for v in self.versions():
            if v.version == version:
                return v
        raise ModelError(f"no model version {version!r}")

    def active(self) -> ModelVersion:
        """The active version; falls back to the bundled model if the choice is gone or broken."""
        chosen = _read_json(self.dir / ACTIVE_FILE).get("version", BUNDLED)
        try:
            version = self.get(chosen)
            if not version.bundled:
                verify_manifest(version.student)
            return version
        except ModelError:
            return self._bundled()

    def activate(self, version: str) -> ModelVersion:
        """Make ``version`` active (after checking its files), atomically."""
        target = self.get(version)
        verify_manifest(target.student)
        _write_json_atomic(self.dir / ACTIVE_FILE, {"version": target.version})
        return target

    def new_temp_folder(self) -> Path:
        return Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=self.dir))

    def commit_version(self, temp: Path, version: str) -> ModelVersion:
        """Verify a finished temp folder and rename it into place as ``version``."""
        verify_manifest(temp / "student-int8")
        verify_manifest(temp / "teacher")
        final = self.dir / version
        if final.exists():
            raise ModelError(f"model version {version} already exists")
        os.replace(temp, final)
        return self.get(version)

    def delete(self, version: str) -> None:
        target = self.get(version)
        if target.bundled:
            raise ModelError("the bundled model cannot be deleted")
        if self.active().version == version:
            raise ModelError("activate another model before deleting this one")
        shutil.rmtree(target.folder)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
