"""The log file: ``meder.log`` in the data folder, rotated, private, and free of note text.

What goes in: the app's start, the model it runs, notices (a damaged model), the trainer's
whole stderr (the app reads it and logs it here, so one process writes the file per app
window and the trainer needs no lock), and the traceback of any unhandled exception.
What never goes in: the text of a note. Nothing here logs text on purpose; as a last guard
every record has its Bangla-script runs masked and its lines cut at :data:`MAX_LINE_CHARS`,
so an exception message that quotes a note does not carry it into the file.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from engine.atomic import PRIVATE_FILE

LOG_FILE = "meder.log"
MAX_BYTES = 1_000_000  # per file; with BACKUPS older files, at most 4 MB
BACKUPS = 3
MAX_LINE_CHARS = 1000
OUR_LOGGERS = ("app", "engine", "trainer")  # INFO and up from these; WARNING and up from libraries
_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
# a run of Bengali script with the spaces, digits and punctuation between its words
# (the danda "।" is U+0964, in the Devanagari block)
_BANGLA = re.compile(r"[\u0980-\u09FF](?:[\u0980-\u09FF\u0964\u0965\u200c\u200d\s\d.,;:!?()/+\-]*"
                     r"[\u0980-\u09FF\u0964\u0965\u200c\u200d])?")
MASK = "<Bangla text>"
# quoted text of three words or more, in any script: an error quoting an English note ('Patient has fever...');
# a type name ('Medicine') or a path without spaces stays readable
_QUOTED = re.compile(r"""(?<!\w)(?P<q>['"])[^\s'"]+(?:[ \t]+[^\s'"]+){2,}(?P=q)(?!\w)""")
QUOTED_MASK = "<quoted text>"

log = logging.getLogger(__name__)


def mask_text(text: str) -> str:
    """``text`` with Bangla words replaced by a marker and overlong lines cut (what the log may hold)."""
    # a traceback's source lines (indented four spaces) quote the code, not a note: left readable
    lines = [line if line.startswith("    ") else _QUOTED.sub(lambda m: m["q"] + QUOTED_MASK + m["q"], line)
             for line in _BANGLA.sub(MASK, text).split("\n")]
    return "\n".join(line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " [cut]" for line in lines)


class _PrivateFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))  # the traceback too: exception messages may quote a note


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are created 0600, like every file in the data folder."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
        if os.name == "posix":
            os.chmod(self.baseFilename, PRIVATE_FILE)  # one made by an earlier version, or under another umask
        return open(fd, "a", encoding=self.encoding, errors=self.errors)

    def doRollover(self) -> None:
        try:
            super().doRollover()
        except OSError:
            # Windows refuses to rename a file another app window has open: keep writing to this one
            # (the next record tries again) rather than lose every record from now on
            if self.stream is None:
                self.stream = self._open()


_handler: _PrivateRotatingFile | None = None


def log_path(data_folder: str | Path) -> Path:
    return Path(data_folder) / LOG_FILE


def start_logging(data_folder: str | Path, *, max_bytes: int = MAX_BYTES) -> Path:
    """Send this process's log records to ``meder.log`` in ``data_folder``; returns the file's path.

    Calling it again moves the log to the new folder. Raises OSError if the file cannot be opened.
    """
    global _handler
    path = log_path(data_folder)
    handler = _PrivateRotatingFile(path, maxBytes=max_bytes, backupCount=BACKUPS, encoding="utf-8",
                                   errors="backslashreplace")
    handler.setFormatter(_PrivateFormatter(_FORMAT))
    stop_logging()
    _handler = handler
    logging.getLogger().addHandler(handler)
    for name in OUR_LOGGERS:
        if logging.getLogger(name).level in (logging.NOTSET, logging.WARNING):
            logging.getLogger(name).setLevel(logging.INFO)
    return path


def stop_logging() -> None:
    """Close the log file (at exit; tests)."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        _handler = None


def current_log() -> Path | None:
    """The file records go to now, or None when :func:`start_logging` was not called (the command line)."""
    return Path(_handler.baseFilename) if _handler is not None else None


def log_trainer_output(chunk: bytes | str) -> None:
    """Log what the trainer process wrote on its stderr (warnings, progress without --json-progress, errors)."""
    text = chunk.decode("utf-8", "replace") if isinstance(chunk, bytes) else chunk
    trainer_log = logging.getLogger("trainer.process")
    for line in text.splitlines():
        if line.strip():
            trainer_log.info("%s", line.rstrip())


def describe(exc: BaseException) -> str:
    """``"ValueError: what it said"``, masked like the log, for a message to the user."""
    said = mask_text(str(exc)).strip()
    first = said.splitlines()[0][:300] if said else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def install_excepthook(show: Callable[[BaseException], None]) -> Callable[[], None]:
    """Log every unhandled exception (main thread, other threads, Qt slots) and call ``show`` with it.

    ``show`` tells the user (a dialog in the app); it is called from the thread that failed.
    Returns a function that puts the previous hooks back.
    """
    previous_sys, previous_thread = sys.excepthook, threading.excepthook

    def report(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None, where: str) -> None:
        log.critical("unhandled exception in %s:\n%s", where,
                     "".join(traceback.format_exception(exc_type, exc, tb)).rstrip())
        try:
            show(exc)
        except Exception:  # telling the user failed too: the log still has it; never recurse
            log.exception("the message about the exception could not be shown")

    def on_exception(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):  # Ctrl+C in a terminal is not a crash
            previous_sys(exc_type, exc, tb)
            return
        report(exc_type, exc, tb, "the main thread")
        if sys.stderr is not None:  # a console, when there is one (the windowed build has none)
            traceback.print_exception(exc_type, exc, tb)

    def on_thread_exception(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        report(args.exc_type, args.exc_value, args.exc_traceback, f"thread {name}")

    sys.excepthook = on_exception
    threading.excepthook = on_thread_exception

    def restore() -> None:
        sys.excepthook, threading.excepthook = previous_sys, previous_thread

    return restore
