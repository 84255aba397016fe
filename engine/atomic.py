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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
TEMP_PREFIX = ".meder-tmp-"  # what a killed write leaves behind; ``remove_leftovers`` knows it
_OWNER_MAX_AGE_S = 2 * 86400.0  # no write, not even a full retraining, runs this long
_ASIDE = TEMP_PREFIX + "old-"  # an old folder renamed aside by ``atomic_folder``: ``.meder-tmp-old-<name>.<random>``


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
    if path.is_dir():  # found now, not after the work: os.replace would refuse at the very end
        raise IsADirectoryError(f"{path} is a folder, not a file name")
    fd, temp_name = tempfile.mkstemp(prefix=_owned_prefix(), suffix=".part", dir=path.parent)
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
def atomic_folder(path: str | Path, *, mode: int = PRIVATE_FOLDER) -> Iterator[Path]:
    """Yield a fresh empty folder beside ``path``; on success it takes ``path``'s place.

    On any exception, cancellation included, the new folder is removed and
    ``path`` is untouched. See :func:`replace_folder` for the swap itself.
    ``mode``: 0o755 for what an install shares (the bundled models), private otherwise.
    """
    path = Path(path)
    staging = new_temp_folder(path.parent)
    os.chmod(staging, mode)
    try:
        yield staging
        replace_folder(staging, path)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def replace_folder(staging: str | Path, path: str | Path) -> None:
    """Put the finished folder ``staging`` (beside ``path``) in ``path``'s place.

    There is never a moment without a folder at ``path`` once one existed: the old
    folder is first renamed aside, the new one renamed in, and only then the old
    one deleted. A crash between the two renames leaves the old folder under a
    ``.meder-tmp-old-<name>.`` name, which :func:`recover_folder` (and
    :func:`remove_leftovers`) puts back.
    """
    staging, path = Path(staging), Path(path)
    for child in staging.rglob("*"):
        if child.is_file() and not child.is_symlink():
            fsync_file(child)
    _fsync_folder(staging)
    old = None
    if path.exists() or path.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f"{_ASIDE}{path.name}.", dir=path.parent))
        os.rmdir(old)  # only its unpredictable name is wanted; the rename below takes it
        os.replace(path, old)
    os.replace(staging, path)
    _fsync_folder(path.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove_folder(path: str | Path) -> None:
    """Delete a folder so that a crash midway leaves a leftover, never a half-deleted folder at ``path``."""
    path = Path(path)
    doomed = Path(tempfile.mkdtemp(prefix=_owned_prefix(), dir=path.parent))
    os.rmdir(doomed)
    os.replace(path, doomed)
    _fsync_folder(path.parent)
    shutil.rmtree(doomed, ignore_errors=True)


def _owned_prefix() -> str:
    """Temporary names carry the writer's pid (``.meder-tmp-<pid>-<random>``), so leftovers know their owner."""
    return f"{TEMP_PREFIX}{os.getpid()}-"


def new_temp_folder(parent: str | Path) -> Path:
    """A fresh private folder in ``parent`` for work in progress, named after this process.

    :func:`remove_leftovers` leaves it alone while this process runs, however long
    the work takes (a retraining can run for hours without touching the folder itself).
    """
    return Path(tempfile.mkdtemp(prefix=_owned_prefix(), dir=parent))


def _aside_of(path: Path) -> list[Path]:
    """Old folders ``atomic_folder`` renamed aside for ``path`` (never another folder's)."""
    stem = f"{_ASIDE}{path.name}."
    # mkdtemp adds 8 random characters, so "v1" never claims "v1.x"'s folders
    return [p for p in path.parent.glob(stem + "*") if len(p.name) == len(stem) + 8]


def recover_folder(path: str | Path) -> bool:
    """Put back a folder left aside by a crash inside :func:`atomic_folder`; True if one was."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        return False
    aside = sorted(_aside_of(path), key=lambda p: p.lstat().st_mtime, reverse=True)
    if not aside:
        return False
    os.replace(aside[0], path)
    _fsync_folder(path.parent)
    return True


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x100000, False, pid)  # SYNCHRONIZE
        if not handle:
            return False
        try:
            return kernel32.WaitForSingleObject(handle, 0) == 0x102  # WAIT_TIMEOUT: still running
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _owner_alive(leftover: Path) -> bool | None:
    """True/False if ``leftover``'s name gives an owner process that is / is not running; None if none."""
    pid = leftover.name[len(TEMP_PREFIX):].partition("-")[0]
    return _pid_alive(int(pid)) if pid.isdigit() else None


def remove_leftovers(folder: str | Path, *, older_than_s: float = 3600.0,
                     prefixes: tuple[str, ...] = (TEMP_PREFIX,)) -> list[Path]:
    """Delete temporary files and folders a killed write left in ``folder``; returns them.

    A leftover named after its owner process (all of this module's) goes once that
    process is gone, never while it runs; anything else only once it is older than
    ``older_than_s``, so a write still running in another process (a second app
    window, the trainer) keeps its temporary files. An old folder set aside by
    :func:`atomic_folder` is put back if its replacement never arrived.
    """
    folder = Path(folder)
    removed = []
    now = time.time()
    for p in sorted({p for prefix in prefixes for p in folder.glob(prefix + "*")}):
        try:
            if p.name.startswith(_ASIDE):
                original = folder / p.name[len(_ASIDE):-9]
                if not original.exists() and recover_folder(original):
                    continue
            owner, age = _owner_alive(p), now - p.lstat().st_mtime
            # a live owner keeps its work, unless the pid is plainly a newer process's (days later)
            if (owner and age < _OWNER_MAX_AGE_S) or (owner is None and age < older_than_s):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except OSError:
            continue
    return removed
