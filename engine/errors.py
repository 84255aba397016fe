"""Errors the engine raises for bad input; messages are shown to users as is."""

from __future__ import annotations


class MederError(Exception):
    """Base class: anything the user can act on."""


class FormatError(MederError):
    """A file could not be read; the message names the file and, if known, the line."""

    def __init__(self, path: object, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


class ModelError(MederError):
    """A model folder is missing, incomplete, tampered with or inconsistent."""


class OperationCancelled(MederError):
    """A long operation stopped because the user cancelled it."""


class StorageError(MederError):
    """A write to (or read from) the database failed: disk full, read-only, locked or damaged.

    The message says what was not saved and why, in the user's words.
    """


class ExportError(MederError):
    """An export could not be written (no such folder, not writable, disk full); older files are untouched."""
