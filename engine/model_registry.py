"""Model versions: the bundled one (read-only, in the install folder) and the
retrained ones (in the user data folder), and which one is active.

Layout under ``<data>/models`` (the names inside a version: :mod:`engine.model_layout`)::

    active.json             {"version": "20261125-1530"}  (absent: the bundled model)
    20261125-1530/          a retrained version
        student-int8/       what the app runs
        teacher/            what the next retraining starts from
        student/            the student's fp16 weights, which the next distillation continues
        report.json         data counts, metrics on the held-out slice, promotion decision
    .meder-tmp-<pid>-*/     work in progress; removed at a later start once its process is gone

Every switch is a single atomic file replace, so a crash at any moment leaves
either the old or the new active model, never a half-written one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from engine import atomic, model_layout
from engine.errors import ModelError
from engine.manifest import verify_manifest
from engine.model_config import ModelConfig

BUNDLED = "bundled"
ACTIVE_FILE = "active.json"
LEGACY_TEMP_PREFIX = ".tmp-"  # work folders of earlier releases, which did not name their process

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelVersion:
    version: str
    folder: Path  # holds student-int8/ (and teacher/)
    created: str
    report: dict
    bundled: bool
    damaged: str = ""  # why this version cannot be used (listed anyway, so the others stay reachable)

    @property
    def student(self) -> Path:
        return model_layout.student_int8(self.folder)

    @property
    def teacher(self) -> Path:
        return model_layout.teacher(self.folder)

    @property
    def student_weights(self) -> Path:
        """The student's fp16 torch weights, from which the next distillation continues."""
        return model_layout.student(self.folder)


class ModelRegistry:
    def __init__(self, models_dir: str | Path, bundled_dir: str | Path) -> None:
        self.dir = Path(models_dir)
        self.dir.mkdir(mode=atomic.PRIVATE_FOLDER, parents=True, exist_ok=True)  # beside patient notes: private
        self.bundled_dir = Path(bundled_dir)  # model_assets/
        # what the app should tell the user (a chosen model it could not use); see take_notices
        self.notices: list[str] = []
        self._logged: set[str] = set()

    def cleanup_leftovers(self) -> list[str]:
        """Remove half-written versions left by a crash or a killed trainer (never a running one's)."""
        removed = atomic.remove_leftovers(self.dir, prefixes=(atomic.TEMP_PREFIX, LEGACY_TEMP_PREFIX))
        return [p.name for p in removed]

    def versions(self) -> list[ModelVersion]:
        """Every version, the damaged ones included (with the reason), so one bad folder hides no other."""
        found = [self._bundled()]
        for p in sorted(self.dir.iterdir()):
            if p.is_dir() and not p.name.startswith(".") and model_layout.student_int8(p).is_dir():
                report = _read_json(p / model_layout.REPORT_FILE)
                created, damaged = "", ""
                try:
                    created = ModelConfig.load(model_layout.student_int8(p)).created
                except ModelError as exc:
                    damaged = str(exc)
                except Exception as exc:  # noqa: BLE001 - one unreadable folder must not stop the app from starting
                    damaged = f"{model_layout.student_int8(p)}: cannot be read ({exc.__class__.__name__}: {exc})"
                found.append(ModelVersion(p.name, p, created, report, False, damaged))
        return found

    def _bundled(self) -> ModelVersion:
        created = _read_json(model_layout.student_int8(self.bundled_dir) / model_layout.CONFIG_FILE).get("created", "")
        return ModelVersion(BUNDLED, self.bundled_dir, created if isinstance(created, str) else "", {}, True)

    def get(self, version: str) -> ModelVersion:
        for v in self.versions():
            if v.version == version:
                return v
        raise ModelError(f"no model version {version!r}")

    def active(self) -> ModelVersion:
        """The active version; falls back to the bundled model if the choice is gone or broken.

        A fallback is never silent: it adds a notice (see :meth:`take_notices`) and logs why.
        """
        chosen = _read_json(self.dir / ACTIVE_FILE).get("version", BUNDLED)
        if not isinstance(chosen, str):  # a hand-edited active.json; the bundled model still runs
            self._fall_back(f"The choice of model ({self.dir / ACTIVE_FILE}) cannot be read; using the bundled "
                            "model. Details in the log.", f"it names {chosen!r}")
            return self._bundled()
        try:
            version = self.get(chosen)
            if not version.bundled:
                verify_manifest(version.student)
            return version
        except ModelError as exc:
            state = "damaged" if (self.dir / chosen).is_dir() else "missing"
            self._fall_back(f"Model {chosen} is {state}; using the bundled model. Details in the log.", str(exc))
            return self._bundled()

    def _fall_back(self, notice: str, why: str) -> None:
        if notice not in self._logged:  # active() runs often: log each cause once
            self._logged.add(notice)
            log.warning("%s Why: %s", notice.removesuffix(" Details in the log."), why)
        if notice not in self.notices:
            self.notices.append(notice)

    def take_notices(self) -> list[str]:
        """The notices not yet shown, once (a later fallback adds them again)."""
        notices, self.notices = self.notices, []
        return notices

    def activate(self, version: str) -> ModelVersion:
        """Make ``version`` active (after checking its files), atomically."""
        target = self.get(version)
        if target.damaged:
            raise ModelError(f"model version {version} cannot be activated: {target.damaged}")
        if not target.bundled:
            verify_manifest(target.student)
        atomic.write_text(self.dir / ACTIVE_FILE, json.dumps({"version": target.version}, ensure_ascii=False))
        return target

    def new_temp_folder(self) -> Path:
        """A work folder for a new version; :meth:`cleanup_leftovers` spares it while its process runs."""
        return atomic.new_temp_folder(self.dir)

    def commit_version(self, temp: Path, version: str) -> ModelVersion:
        """Verify a finished temp folder and rename it into place as ``version``."""
        verify_manifest(model_layout.student_int8(temp))
        verify_manifest(model_layout.teacher(temp))
        final = self.dir / version
        if final.exists():
            raise ModelError(f"model version {version} already exists")
        atomic.replace_folder(temp, final)
        return self.get(version)

    def delete(self, version: str) -> None:
        target = self.get(version)
        if target.bundled:
            raise ModelError("the bundled model cannot be deleted")
        if self.active().version == version:
            raise ModelError("activate another model before deleting this one")
        atomic.remove_folder(target.folder)


def _read_json(path: Path) -> dict:
    """A small JSON object, or {} when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}
