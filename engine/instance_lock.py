"""One running app per data folder: an OS lock on a file in the folder.

The operating system releases the lock when the process ends, however it
ends (a crash, ``kill -9``), so a stale lock file never blocks a start. The
file holds the owner's process id, only for the message.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.atomic import PRIVATE_FILE
from engine.errors import MederError

LOCK_NAME = "bangla-meder.lock"


class AlreadyRunning(MederError):
    """Another Bangla MedER uses this data folder."""


class InstanceLock:
    """Hold with :meth:`acquire`; :meth:`release` (or the process ending) lets the next start in."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`AlreadyRunning` saying so (with the other process id when known)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        try:
            _lock(fd)
        except OSError:
            try:
                other = os.read(fd, 32).decode("ascii", "replace").strip()
            except OSError:  # only a message detail: never let it hide that another app holds the folder
                other = ""
            finally:
                os.close(fd)
            raise AlreadyRunning(
                f"Bangla MedER is already running with this data folder ({self.path.parent}"
                + (f", process {other}" if other else "") + "). Use that window; a second one would show "
                "stale documents and could disturb a retraining in progress.") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None


# Windows locks are mandatory: another process cannot even read a locked byte. The lock therefore sits on one
# byte far past the process id (locking beyond the end of a file is allowed), so a second start can still read
# whose lock it is.
LOCKED_BYTE = 1 << 20

if os.name == "nt":  # pragma: no cover - Windows only (tests/test_windows.py runs it there, simulated here)
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, LOCKED_BYTE, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        finally:
            os.lseek(fd, 0, os.SEEK_SET)

    def _unlock(fd: int) -> None:
        os.lseek(fd, LOCKED_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
