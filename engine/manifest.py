"""``manifest.json``: the sha256 of every file of a model folder.

A model folder is trusted only if every file it lists is present and
unchanged and no other model file sits beside them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath

from engine.errors import ModelError
from engine.model_layout import MANIFEST_FILE


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
        if p.is_file() and p.name != MANIFEST_FILE
    }
    (folder / MANIFEST_FILE).write_text(json.dumps({"files": files}, indent=1) + "\n", encoding="utf-8")
    return files


def _listed_files(path: Path) -> dict[str, str]:
    """The manifest's ``files`` mapping, refusing anything but a non-empty {relative name: sha256}."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable manifest ({exc})") from None
    files = raw.get("files") if isinstance(raw, dict) else None
    if not isinstance(files, dict) or not files:
        raise ModelError(f"{path}: the manifest must list the model's files with their sha256; refusing to load")
    for name, expected in files.items():
        if not (isinstance(expected, str) and len(expected) == 64 and all(c in "0123456789abcdef" for c in expected)):
            raise ModelError(f"{path}: {name!r} has no valid sha256 in the manifest; refusing to load")
        parts = PurePosixPath(name).parts
        if (not parts or name.startswith(("/", "\\")) or "\\" in name or ":" in name
                or any(part in ("..", ".", "") for part in parts)):
            raise ModelError(f"{path}: {name!r} points outside the model folder; refusing to load")
    return files


def verify_manifest(folder: str | Path) -> dict[str, str]:
    """Raise :class:`ModelError` naming the first missing, changed, unlisted or linked file.

    Every listed name must stay inside ``folder`` and no symbolic link may sit in it:
    a hash only proves what a file holds, not where it is.
    """
    folder = Path(folder)
    path = folder / MANIFEST_FILE
    if path.is_symlink() or not path.is_file():
        raise ModelError(f"{folder}: no {MANIFEST_FILE}; this is not a complete model folder")
    files = _listed_files(path)
    present = sorted(folder.rglob("*"))
    for p in present:
        if p.is_symlink():
            raise ModelError(f"{p}: a symbolic link inside a model folder; refusing to load")
    for name, expected in files.items():
        target = folder / name
        if not target.is_file():
            raise ModelError(f"{target}: listed in the manifest but missing")
        if sha256_file(target) != expected:
            raise ModelError(f"{target}: does not match its sha256 in the manifest (changed or corrupted); refusing to load")
    for p in present:
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and p.name != MANIFEST_FILE and rel not in files:
            raise ModelError(f"{p}: not listed in the manifest; refusing to load an altered model folder")
    return files
