"""The engine stays free of Qt and torch; the trainer never imports the GUI."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(package: str) -> dict[str, set[str]]:
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_engine_imports_neither_qt_nor_torch():
    for path, names in imported_modules("engine").items():
        assert not names & {"PySide6", "torch", "transformers", "torchcrf", "app", "trainer"}, path


def test_trainer_never_imports_the_gui():
    for path, names in imported_modules("trainer").items():
        assert "PySide6" not in names and "app" not in names, path


def test_gui_never_imports_the_trainer_or_torch():
    # the trainer runs in its own process; what both ends share lives in engine.trainer_contract
    for path, names in imported_modules("app/gui").items():
        assert not names & {"trainer", "torch", "transformers", "torchcrf"}, path
