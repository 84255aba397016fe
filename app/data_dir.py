"""The user data folder: database, backups and retrained models.

Default from platformdirs (``~/.local/share/bangla-meder`` on Linux,
``%LOCALAPPDATA%\\bangla-meder`` on Windows); ``BANGLA_MEDER_DATA`` or
``--data-dir`` override it (tests, portable installs). The folder holds
patient notes, so it is private to the user (0700) on shared computers.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.atomic import PRIVATE_FOLDER
from engine.errors import StorageError

ENV = "BANGLA_MEDER_DATA"


def data_dir(override: str | Path | None = None, *, create: bool = True) -> Path:
    """The data folder; ``create=False`` for commands that only read (self-test, extract)."""
    if override:
        path = Path(override)
    elif os.environ.get(ENV):
        path = Path(os.environ[ENV])
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("bangla-meder", appauthor=False))
    if create:
        try:
            path.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"The data folder {path} cannot be created ({exc.strerror or exc}), so nothing can be saved. "
                f"Choose another folder with --data-dir or the {ENV} environment variable.") from None
        if os.name == "posix":
            try:  # also a folder made 0755 by an earlier version; the umask does not apply to chmod
                os.chmod(path, PRIVATE_FOLDER)
            except OSError:
                pass  # not ours (a shared drive): it still works
    return path


def database_path(override: str | Path | None = None, *, create: bool = True) -> Path:
    return data_dir(override, create=create) / "meder.sqlite3"
