"""Bangla MedER desktop app and extraction command line."""

from __future__ import annotations

import re
from pathlib import Path


def _version() -> str:
    """The version written once, in pyproject.toml.

    A checkout (editable install included) and the bundle (pyinstaller.spec ships pyproject.toml beside
    the app package) read that file, so a bump needs no reinstall; an installed wheel has only its metadata.
    A regex, not a TOML parser: tomllib is Python 3.11+, and this runs at every start.
    """
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        text = ""
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    found = project and re.search(r'^version\s*=\s*"([^"]+)"', project.group(1), re.MULTILINE)
    if found:
        return found.group(1)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bangla-meder")
    except PackageNotFoundError:
        return "unknown"


__version__ = _version()
