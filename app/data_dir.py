"""The user data folder: database and retrained models.

Default from platformdirs (``~/.local/share/bangla-meder`` on Linux,
``%LOCALAPPDATA%\\bangla-meder`` on Windows); ``BANGLA_MEDER_DATA`` or
``--data-dir`` override it (tests, portable installs).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "BANGLA_MEDER_DATA"


def data_dir(override: str | Path | None = None) -> Path:
    if override:
        path = Path(override)
    elif os.environ.get(ENV):
        path = Path(os.environ[ENV])
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("bangla-meder", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_path(override: str | Path | None = None) -> Path:
    return data_dir(override) / "meder.sqlite3"
