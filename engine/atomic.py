"""Replace a file or a folder so that a reader never sees a half-written one.

The one home of "write somewhere safe, then swap it in" for exports, backups,
model folders and small state files. Temporary names are unpredictable and
created exclusively (``O_EXCL``), so a planted file or symlink of a guessable
name can never be followed; data is fsynced before the rename, and the parent
folder after it, so a power cut leaves either the old or the new content.
Files are created private (0600): they may hold patient notes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
TEMP_PREFIX = ".meder-tmp-"  # what a killed write leaves behind; ``remove_leftovers`` knows it


def _fsync_folder(folder: Path) -> None:
    if os.name == "nt":  # Windows cannot open a folder for fsync; NTFS renames are journalled
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    """Flush a finished file to disk (for files written by libraries that only take a path)."""
    fd = os.open(path, os.O_RDONLY if os.name != "nt" else os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, *, mode: int = PRIVATE_FILE) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; on success it replaces ``path``.

    The temporary file exists (empty, created exclusively with ``mode``) when the
    block starts; the block writes it by name (openpyxl, sqlite3's backup...). On
    any exception, cancellation included, it is removed and ``path`` is untouched.
    """
    path = Path(path)
    fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=path.parent)
    os.close(fd)
    temp = Path(temp_name)
    try:
        os.chmod(temp, mode)
        yield temp
        if temp.is_symlink() or not temp.is_file():
            raise OSError(f"{temp}: the temporary file was replaced while writing")
        fsync_file(temp)
        os.replace(temp, path)
        _fsync_folder(path.parent)
    finally:
        if temp.is_symlink() or temp.exists():
            temp.unlink()


def write_bytes(path: str | Path, data: bytes, *, mode: int = PRIVATE_FILE) -> None:
    """Atomically replace ``path`` with ``data``."""
    with atomic_path(path, mode=mode) as temp, open(temp, "wb") as f:
        f.write(data)


def write_text(path: str | Path, text: str, *, mode: int = PRIVATE_FILE) -> None:
    """Atomically replace ``path`` with UTF-8 ``text``."""
    write_bytes(path, text.encode("utf-8"), mode=mode)


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a fresh empty folder beside ``path``; on success it takes ``path``'s place.

    There is never a moment without a folder at ``path`` once one existed: the old
    folder is first renamed aside, the new one renamed in, and only then the old
    one deleted. A crash between the two renames leaves the old folder under a
    ``.meder-tmp-`` name, which :func:`recover_folder` puts back.
    """
    path = Path(path)
    staging = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=path.parent))
    try:
        yield staging
        for child in staging.rglob("*"):
            if child.is_file() and not child.is_symlink():
                fsync_file(child)
        _fsync_folder(staging)
        old = None
        if path.exists() or path.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX + "old-", dir=path.parent))
            os.rmdir(old)
            os.replace(path, old)
        os.replace(staging, path)
        _fsync_folder(path.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def recover_folder(path: str | Path) -> bool:
    """Put back a folder left aside by a crash inside :func:`atomic_folder`; True if one was."""
    path = Path(path)
    if path.exists():
        return False
    aside = sorted(path.parent.glob(TEMP_PREFIX + "old-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    if not aside:
        return False
    os.replace(aside[0], path)
    return True


def remove_leftovers(folder: str | Path, *, older_than_s: float = 3600.0) -> list[Path]:
    """Delete temporary files and folders a killed write left in ``folder``; returns them.

    Only leftovers older than ``older_than_s`` go, so a write still running in
    another process (a second app window, the trainer) keeps its temporary files.
    """
    import time

    removed = []
    now = time.time()
    for p in Path(folder).glob(TEMP_PREFIX + "*"):
        try:
            if now - p.lstat().st_mtime < older_than_s or p.name.startswith(TEMP_PREFIX + "old-"):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except OSError:
            continue
    return removed
