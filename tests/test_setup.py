"""A fresh machine gets what the README promises: what ./run and ./run-tests install and from where (without a
network: the setup script's dry run prints the commands it would run), and the start-up checks that turn a
missing X library or an installed wheel into one clear line instead of Qt's abort or a traceback."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.startup_checks import (
    XCB_PACKAGES,
    libraries_not_found,
    missing_libraries_message,
    missing_xcb_libraries,
    not_a_checkout,
    xcb_plugin,
    xcb_will_load,
)

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "scripts" / "setup_env.py"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def setup_commands(purpose: str, *flags: str, venv: Path, project: Path = ROOT) -> tuple[list[list[str]], str]:
    """The commands the setup script would run (its dry run), and its whole output."""
    done = subprocess.run([sys.executable, str(SETUP), purpose, "--dry-run", "--venv", str(venv),
                           "--project", str(project), *flags], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [shlex.split(line[2:]) for line in done.stdout.splitlines() if line.startswith("+ ")], done.stdout


def pinned_torch() -> str:
    tomllib = pytest.importorskip("tomllib")
    train = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    return next(req for req in train["train"] if req.startswith("torch=="))


def test_fresh_linux_gets_torch_from_the_cpu_index_then_only_what_running_needs(tmp_path):
    venv = tmp_path / ".venv"
    python = str(venv / "bin" / "python")
    commands, _ = setup_commands("run", "--platform", "linux", venv=venv)
    assert commands == [
        [sys.executable, "-m", "venv", str(venv)],
        [python, "-m", "pip", "install", "-q", "--upgrade", "pip"],
        [python, "-m", "pip", "install", "-q", "--index-url", CPU_INDEX, "--timeout", "10", "--retries", "0",
         pinned_torch()],
        [python, "-c", 'import torch; print(torch.version.cuda or "")'],  # says so when CUDA came anyway
        [python, "-m", "pip", "install", "-q", "-e", f"{ROOT}[train]"],
    ]
    assert not venv.exists()  # a dry run creates nothing


def test_unreachable_cpu_index_falls_back_to_the_default_index(tmp_path):
    venv = tmp_path / ".venv"
    commands, out = setup_commands("tests", "--platform", "linux", "--cpu-index-down", venv=venv)
    torch = [c for c in commands if pinned_torch() in c]
    assert [CPU_INDEX in c for c in torch] == [True, False]  # tried first, then the default index
    assert "fails: the CPU index is not reachable" in out
    assert commands[-1][-2:] == ["-e", f"{ROOT}[train,build,dev,distributed]"]  # the tests add their extras


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_elsewhere_the_default_index_is_already_cpu_only(tmp_path, platform):
    commands, _ = setup_commands("run", "--platform", platform, "--cpu-index-down", venv=tmp_path / ".venv")
    assert not any(CPU_INDEX in c for c in commands)
    assert sum(pinned_torch() in c for c in commands) == 1
    if platform == "win32":
        assert commands[1][0] == str(tmp_path / ".venv" / "Scripts" / "python.exe")


def existing_venv(tmp_path: Path, *stamps: str, stale: bool = False) -> Path:
    """A folder with the venv's python and the given stamps, older than pyproject.toml when ``stale``."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    for stamp in stamps:
        (venv / stamp).touch()
        if stale:
            changed = (tmp_path / "pyproject.toml").stat().st_mtime
            os.utime(venv / stamp, (changed - 60, changed - 60))
    return venv


@pytest.mark.parametrize(("stamps", "purpose", "installs"), [
    ([".installed"], "run", []),  # a venv set up by the old ./run (everything) is kept as it is
    ([".installed"], "tests", []),
    ([".installed-tests"], "run", []),  # ./run after ./run-tests
    ([".installed-run"], "run", []),
    ([".installed-run"], "tests", ["[train,build,dev,distributed]"]),  # ./run-tests after ./run: just the extras, no torch
    ([], "run", ["torch", "[train]"]),
])
def test_stamps_decide_what_is_installed(tmp_path, stamps, purpose, installs):
    venv = existing_venv(tmp_path, *stamps)
    commands, _ = setup_commands(purpose, "--platform", "linux", "--cpu-index-down", venv=venv, project=tmp_path)
    done = ["torch" if pinned_torch() in c else c[-1].removeprefix(str(tmp_path)) for c in commands
            if "-e" in c or pinned_torch() in c]
    assert list(dict.fromkeys(done)) == installs
    assert not any("venv" == c[2] for c in commands)  # the venv is there: not created again


def test_a_newer_pyproject_makes_every_stamp_stale(tmp_path):
    venv = existing_venv(tmp_path, ".installed", ".installed-run", ".installed-tests", stale=True)
    commands, _ = setup_commands("tests", "--platform", "linux", venv=venv, project=tmp_path)
    assert commands[-1][-1] == f"{tmp_path}[train,build,dev,distributed]"


def test_an_installed_venv_starts_without_running_anything(tmp_path):
    venv = existing_venv(tmp_path, ".installed-run")
    done = subprocess.run([sys.executable, str(SETUP), "run", "--venv", str(venv), "--project", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert sorted(p.name for p in venv.iterdir()) == [".installed-run", "bin"]


def test_a_cuda_torch_is_reported_with_its_size_and_the_fix():
    sys.path.insert(0, str(SETUP.parent))
    try:
        from setup_env import cuda_warning
    finally:
        sys.path.remove(str(SETUP.parent))
    assert cuda_warning(None) is None
    warning = cuda_warning("12.8")
    assert "CUDA 12.8" in warning and "3 GB" in warning and CPU_INDEX in warning and "rm -rf .venv" in warning


# --- start-up checks -------------------------------------------------------------------------------------------

LDD_ON_A_MINIMAL_UBUNTU = """\
\tlinux-vdso.so.1 (0x00007ffd3a5f2000)
\tlibQt6XcbQpa.so.6 => /opt/app/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f2c1c000000)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f2c1bf79000)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f2c1bf4f000)
\tlibxcb-icccm.so.4 => not found
"""


def test_missing_libraries_become_one_line_with_the_install_command():
    missing = libraries_not_found(LDD_ON_A_MINIMAL_UBUNTU)
    assert missing == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"]  # each once
    message = missing_libraries_message(missing)
    assert "\n" not in message
    assert message.startswith("error: the window cannot open")
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1" in message
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in message
    # a library outside the table is still named; no install command is made up for it
    assert "libweird.so.3: install the package that provides it" in missing_libraries_message(
        ["libGL.so.1", "libweird.so.3"])
    assert "apt" not in missing_libraries_message(["libweird.so.3"])
    assert libraries_not_found("\tlibxcb.so.1 => /lib/libxcb.so.1 (0x1)\n") == []


@pytest.mark.parametrize(("environ", "platform", "xcb"), [
    ({"DISPLAY": ":0"}, "linux", True),
    ({}, "linux", False),  # no display: Qt's own message says so
    ({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, "linux", False),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb:nograb", "DISPLAY": ":0"}, "linux", True),
    ({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"}, "linux", False),
    ({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux", False),
    ({"XDG_SESSION_TYPE": "x11", "DISPLAY": ":0"}, "linux", True),
    ({"DISPLAY": ":0"}, "darwin", False),
    ({"DISPLAY": ":0"}, "win32", False),
])
def test_the_check_runs_only_where_qt_will_load_its_x11_plugin(environ, platform, xcb):
    assert xcb_will_load(environ, platform=platform) is xcb


def _loads(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux") or not shutil.which("ldd"), reason="ldd on Linux")
def test_the_real_check_agrees_with_the_dynamic_loader_on_this_machine():
    plugin = xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"
    missing = missing_xcb_libraries(plugin)
    assert set(missing) <= set(XCB_PACKAGES)  # everything this machine could lack has its package
    assert set(missing) == {name for name in XCB_PACKAGES if not _loads(name)}


@pytest.mark.skipif(not sys.platform.startswith("linux") or not shutil.which("ldd"), reason="ldd on Linux")
def test_a_missing_library_stops_the_app_before_qt_with_exit_1(tmp_path):
    """A real plugin whose first X library is renamed to one no system has: the app names it and exits 1."""
    real = Path(importlib.util.find_spec("PySide6").submodule_search_locations[0])
    fake = tmp_path / "PySide6"
    (fake / "Qt" / "plugins" / "platforms").mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('the check must stop the app before Qt is imported')\n")
    (fake / "Qt" / "lib").symlink_to(real / "Qt" / "lib")  # the plugin's RUNPATH: $ORIGIN/../../lib
    plugin = (real / "Qt" / "plugins" / "platforms" / "libqxcb.so").read_bytes()
    assert plugin.count(b"libxcb-cursor.so.0\0") == 1
    (fake / "Qt" / "plugins" / "platforms" / "libqxcb.so").write_bytes(
        plugin.replace(b"libxcb-cursor.so.0\0", b"libxcb-cursor.so.9\0"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "QT_QPA_PLATFORM": "xcb", "DISPLAY": ":99"}
    done = subprocess.run([sys.executable, "-m", "app"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: the window cannot open") and done.stderr.count("\n") == 1
    assert "libxcb-cursor.so.9" in done.stderr


def test_the_readme_install_command_lists_every_package():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"sudo apt install ([a-z0-9.\- ]+)", readme)
    assert [set(c.split()) for c in commands] == [set(XCB_PACKAGES.values())]


# --- not a source checkout: an installed wheel -----------------------------------------------------------------

def test_the_source_checkout_passes():
    assert not_a_checkout() is None


def copy_without_assets(tmp_path: Path, *, fonts: bool) -> Path:
    """The app and engine packages alone, as a wheel installs them (with or without the fonts)."""
    ignore = shutil.ignore_patterns("__pycache__", *([] if fonts else ["fonts"]))
    for package in ("app", "engine"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    return tmp_path


@pytest.mark.parametrize("args", [["--selftest"], [], ["extract", "note.txt"]])
def test_without_model_and_fonts_the_app_points_to_the_readme(tmp_path, args):
    site = copy_without_assets(tmp_path, fonts=False)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-m", "app", *args], cwd=site, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"model_assets/ and app/fonts/ not found in {site}" in done.stderr
    assert "./run" in done.stderr and "bundle" in done.stderr and "README.md" in done.stderr
    version = subprocess.run([sys.executable, "-m", "app", "--version"], cwd=site, capture_output=True, text=True,
                             timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("Bangla MedER ")


def test_fonts_without_the_model_are_not_enough(tmp_path):
    problem = not_a_checkout(copy_without_assets(tmp_path, fonts=True))
    assert problem is not None and "error: model_assets/ not found in" in problem
    (tmp_path / "model_assets").symlink_to(ROOT / "model_assets")
    assert not_a_checkout(tmp_path) is None


def _setuptools_builds_spdx_licences() -> bool:
    try:
        from importlib.metadata import version

        return int(version("setuptools").split(".")[0]) >= 77
    except Exception:
        return False


@pytest.mark.skipif(not _setuptools_builds_spdx_licences(), reason="setuptools >= 77 builds the wheel offline")
def test_a_real_non_editable_install_fails_at_start_with_exit_2(tmp_path):
    """pip builds the wheel from pyproject.toml and installs it (no network: no build isolation, no deps)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for package in ("app", "engine", "trainer"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, capture_output=True,
                   timeout=300)
    assert not (target / "model_assets").exists()
    env = {**os.environ, "PYTHONPATH": str(target), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, str(target / "bin" / "bangla-meder"), "--selftest"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: model_assets/ and app/fonts/ not found in {target}")
