"""Where the bundled model lives (source tree or frozen bundle)."""

from __future__ import annotations

import sys
from pathlib import Path


def install_root() -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) if frozen else Path(__file__).resolve().parent.parent


def bundled_model() -> Path:
    return install_root() / "model_assets" / "student-int8"
