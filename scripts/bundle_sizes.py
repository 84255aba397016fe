"""What takes the space in the one-folder bundle: a table by component, the biggest files, and the change
against an earlier table.

    .venv/bin/python scripts/bundle_sizes.py dist/bangla-meder [--archive dist/bangla-meder-linux-x86_64.tar.xz]
        [--save build/bundle-sizes.tsv] [--before packaging/bundle-sizes-before.tsv] [--top 10]

Sizes are apparent file sizes (``du --apparent-size``) in MiB; symbolic links count nothing (the file they
point to is counted once). Components are fixed groups in a fixed order, so two tables line up row by row.
``--save`` writes the table as tab-separated bytes, which ``--before`` reads back to print both side by side.
With PyInstaller importable, the Python packages inside the executable's archive (PYZ) are listed too.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path, PurePosixPath

# (component, path prefixes inside the bundle, "_internal/" removed); the first match wins, so specific
# prefixes come before the folders that hold them
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("models (model_assets)", ("model_assets/",)),
    ("torch libraries (torch/lib)", ("torch/lib/",)),
    ("torch Python sources, data", ("torch/", "functorch/", "torchgen/")),
    ("Qt plug-ins", ("PySide6/Qt/plugins/", "PySide6/plugins/")),
    ("Qt translations", ("PySide6/Qt/translations/", "PySide6/translations/")),
    ("Qt libraries (PySide6, shiboken6)", ("PySide6/", "shiboken6/")),
    ("onnxruntime, onnx", ("onnxruntime/", "onnx/")),
    ("transformers (sources on disk)", ("transformers/",)),
    ("tokenizers, safetensors", ("tokenizers/", "safetensors/")),
    ("numpy, OpenBLAS", ("numpy/", "numpy.libs/")),
    ("scipy, scikit-learn", ("scipy/", "scipy.libs/", "sklearn/", "scikit_learn.libs/")),
    ("Python: executable with its PYZ archive, interpreter, standard library",
     ("libpython", "python3", "base_library.zip")),
)
EXECUTABLES = ("bangla-meder", "bangla-meder.exe")  # in the Python row: most of it is the PYZ archive
OTHER = "other (system libraries, small packages, metadata)"
TOTAL = "total (unpacked)"
ARCHIVE = "compressed (.tar.xz)"
MIB = 1024 * 1024


def component(relative: str) -> str:
    """The component a bundle file belongs to; ``relative`` is its path inside the bundle folder."""
    path = relative.replace("\\", "/")
    if path in EXECUTABLES:
        return GROUPS[-1][0]
    path = path.removeprefix("_internal/")
    for name, prefixes in GROUPS:
        if path.startswith(prefixes):
            return name
    return OTHER


def measure(bundle: Path) -> tuple[Counter[str], Counter[str], list[tuple[int, str]]]:
    """Bytes and files per component, and every file's (size, path)."""
    if not bundle.is_dir():
        raise ValueError(f"expected the bundle folder (dist/bangla-meder), got {bundle}")
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    files: list[tuple[int, str]] = []
    for folder, _dirs, names in os.walk(bundle):
        for name in names:
            path = Path(folder, name)
            if path.is_symlink():
                continue
            relative = PurePosixPath(path.relative_to(bundle)).as_posix()
            size = path.stat().st_size
            sizes[component(relative)] += size
            counts[component(relative)] += 1
            files.append((size, relative))
    if not files:
        raise ValueError(f"{bundle} is empty: build the bundle first (scripts/build_bundle.sh)")
    sizes[TOTAL] = sum(size for size, _ in files)
    counts[TOTAL] = len(files)
    return sizes, counts, sorted(files, reverse=True)


def rows() -> list[str]:
    return [name for name, _ in GROUPS] + [OTHER, TOTAL, ARCHIVE]


def save(path: Path, sizes: Counter[str], counts: Counter[str]) -> None:
    lines = ["component\tbytes\tfiles"] + [f"{name}\t{sizes[name]}\t{counts[name]}" for name in rows()
                                           if name in sizes]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load(path: Path) -> Counter[str]:
    """Bytes per component from a file written by ``--save``."""
    sizes: Counter[str] = Counter()
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0] != "component\tbytes\tfiles":
        raise ValueError(f"{path}: expected a table written by bundle_sizes.py --save")
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 3 or not fields[1].isdigit():
            raise ValueError(f"{path}, line {number}: expected 'component<TAB>bytes<TAB>files', got {line!r}")
        sizes[fields[0]] = int(fields[1])
    return sizes


def _mib(size: int | None) -> str:
    return "-" if size is None else f"{size / MIB:.1f}"


def table(sizes: Counter[str], counts: Counter[str], before: Counter[str] | None = None) -> str:
    """Every component in a fixed order (0.0 where the bundle has none); the archive only where measured."""
    names = rows() + ([n for n in before if n not in rows()] if before else [])  # components since renamed
    width = max(len(n) for n in names)

    def after(name: str) -> int | None:
        return sizes.get(name) if name == ARCHIVE else sizes.get(name, 0)

    if before is None:
        out = [f"{'component':<{width}}  {'MiB':>7}  {'files':>6}"]
        out += [f"{n:<{width}}  {_mib(after(n)):>7}  {counts[n]:>6}" for n in names if after(n) is not None]
    else:
        out = [f"{'component':<{width}}  {'before':>7}  {'after':>7}  {'change':>7}   (MiB)"]
        for n in names:
            old, new = before.get(n), after(n)
            if old is None and new is None:
                continue
            change = "" if old is None or new is None else f"{(new - old) / MIB:+.1f}"
            out.append(f"{n:<{width}}  {_mib(old):>7}  {_mib(new):>7}  {change:>7}")
    return "\n".join(out)


def archive_packages(executable: Path) -> Counter[str] | None:
    """Compressed bytes per top-level package in the executable's PYZ archive (None: PyInstaller absent)."""
    try:
        from PyInstaller.archive.readers import ArchiveReadError, CArchiveReader
    except ImportError:
        return None
    try:
        pkg = CArchiveReader(str(executable))
    except ArchiveReadError:  # not built by PyInstaller
        return None
    packages: Counter[str] = Counter()
    for name, (*_, typecode) in pkg.toc.items():
        if typecode == "z":  # the PYZ: name -> (typecode, offset, compressed length)
            for module, entry in pkg.open_embedded_archive(name).toc.items():
                packages[module.split(".")[0]] += entry[-1]
    return packages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path, help="the one-folder bundle (dist/bangla-meder)")
    parser.add_argument("--archive", type=Path, help="its .tar.xz, to add the compressed size")
    parser.add_argument("--save", type=Path, help="write the table as tab-separated bytes")
    parser.add_argument("--before", type=Path, help="a table written by --save: print both with the change")
    parser.add_argument("--top", type=int, default=10, help="list the N biggest files (default 10)")
    args = parser.parse_args(argv)
    try:
        sizes, counts, files = measure(args.bundle)
        before = load(args.before) if args.before else None
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.archive:
        if not args.archive.is_file():
            print(f"error: no archive at {args.archive}", file=sys.stderr)
            return 2
        sizes[ARCHIVE], counts[ARCHIVE] = args.archive.stat().st_size, 1
    if args.save:
        save(args.save, sizes, counts)
    print(table(sizes, counts, before))
    if args.top > 0:
        print("\nbiggest files (MiB)")
        print("\n".join(f"{size / MIB:7.1f}  {path}" for size, path in files[:args.top]))
    executable = next((args.bundle / n for n in EXECUTABLES if (args.bundle / n).is_file()), None)
    packages = archive_packages(executable) if executable else None
    if packages and args.top > 0:
        print(f"\nPython packages in the executable's archive (compressed MiB, {len(packages)} packages)")
        print("\n".join(f"{size / MIB:7.1f}  {name}" for name, size in packages.most_common(args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
