"""Where the bundled model lives (source tree or frozen bundle)."""

from __future__ import annotations

import sys
from pathlib import Path


def install_root() -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) if frozen else Path(__file__).resolve().parent.parent


def bundled_model() -> Path:
    from engine.model_layout import student_int8

    return student_int8(install_root() / "model_assets")


def active_model(data_dir: str | None = None) -> Path:
    """The student folder of the active model version (the bundled one unless a retrained one was promoted)."""
    from app.data_dir import data_dir as user_data_dir
    from engine.model_registry import ModelRegistry

    models = user_data_dir(data_dir, create=False) / "models"
    if not models.is_dir():  # nothing retrained yet: read-only commands create nothing in the data folder
        return bundled_model()
    return ModelRegistry(models, install_root() / "model_assets").active().student
