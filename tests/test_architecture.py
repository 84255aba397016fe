"""The layering, as import-linter contracts in pyproject.toml: the engine imports no Qt, torch, app or
trainer; the trainer no Qt or app; the app (its GUI included) no trainer or torch, except app/__main__.py,
which runs the trainer for the frozen bundle's --trainer entry."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
needs_import_linter = pytest.mark.skipif(
    LINT_IMPORTS is None, reason="import-linter is not installed: pip install -e '.[dev]' (or pip install import-linter)")


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=project, capture_output=True, text=True, timeout=120)


@needs_import_linter
def test_the_layering_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@needs_import_linter
@pytest.mark.parametrize(("planted", "contract"), [
    ({"engine/planted.py": "import PySide6.QtCore\n"}, "The engine imports no Qt"),
    ({"engine/planted.py": "from app.paths import install_root\n"}, "The engine imports no Qt"),
    ({"trainer/planted.py": "from app.gui import main_window\n"}, "The trainer imports no Qt and no app"),
    # indirectly, through a module of its own: still refused
    ({"app/gui/planted.py": "from app.gui import helper\n", "app/gui/helper.py": "import torch\n"},
     "The app, its GUI included"),
    ({"app/extract_more.py": "from trainer import retrain\n"}, "The app, its GUI included"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path, planted, contract):
    for package in ("app", "engine", "trainer"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.ttf"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for module, source in planted.items():
        (tmp_path / module).write_text(source, encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Contracts: 2 kept, 1 broken." in result.stdout
    broken = " ".join(result.stdout.partition("Broken contracts")[2].split())  # long names wrap
    assert broken.lstrip("- ").startswith(contract), result.stdout
