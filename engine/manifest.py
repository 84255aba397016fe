"""``manifest.json``: the sha256 of every file of a model folder.

A model folder is trusted only if every file it lists is present and
unchanged and no other model file sits beside them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from engine.errors import ModelError

MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: str | Path) -> dict[str, str]:
    """Hash every file under ``folder`` (except the manifest) and write the manifest."""
    folder = Path(folder)
    files = {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    (folder / MANIFEST).write_text(json.dumps({"files": files}, indent=1) + "\n", encoding="utf-8")
    return files


def verify_manifest(folder: str | Path) -> dict[str, str]:
    """Raise :class:`ModelError` naming the first missing, changed or unlisted file."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise ModelError(f"{folder}: no {MANIFEST}; this is not a complete model folder")
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: unreadable manifest ({exc})") from None
    for name, expected in files.items():
        target = folder / name
        if not target.is_file():
            raise ModelError(f"{target}: listed in the manifest but missing")
        if sha256_file(target) != expected:
            raise ModelError(f"{target}: does not match its sha256 in the manifest (changed or corrupted); refusing to load")
    for p in folder.rglob("*"):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and p.name != MANIFEST and rel not in files:
            raise ModelError(f"{p}: not listed in the manifest; refusing to load an altered model folder")
    return files
