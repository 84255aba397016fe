"""Windows, tested on Linux: where the code branches on the platform, the Windows branch runs with the platform
simulated (platformdirs' Windows rules, Windows' mandatory byte-range locks, a frozen Windows executable, the
cp1252 pipes Windows gives a program). .github/workflows/windows.yml runs this file on Windows for real, where
the simulation steps aside and the access-list test runs too."""

from __future__ import annotations

import ast
import errno
import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path, PureWindowsPath
from types import SimpleNamespace

import pytest
from test_retrain import make_db

import app.data_dir
from app.data_dir import data_dir
from engine.console import utf8_output
from engine.samples import SELFTEST_SENTENCE
from engine.storage import Repository
from engine.trainer_contract import retrain_arguments, trainer_command

ROOT = Path(__file__).resolve().parent.parent
WINDOWS = sys.platform == "win32"
USER = "রহিম করিম"  # a Bangla user name with a space: the profile path carries both
MAX_PATH = 260  # Windows' path limit unless long paths are switched on machine-wide (they are not by default)


def test_the_data_folder_is_the_users_local_app_data(tmp_path, monkeypatch):
    monkeypatch.delenv("BANGLA_MEDER_DATA")
    if WINDOWS:
        expected = Path(os.environ["LOCALAPPDATA"]) / "bangla-meder"
    else:  # platformdirs' own Windows rules, reading the folder from the environment as it does without Windows' API
        import platformdirs
        import platformdirs.windows

        local = tmp_path / "Users" / USER / "AppData" / "Local"
        monkeypatch.setenv("LOCALAPPDATA", str(local))
        monkeypatch.setattr(platformdirs, "PlatformDirs", platformdirs.windows.Windows)
        monkeypatch.setattr(platformdirs.windows, "get_win_folder", platformdirs.windows.get_win_folder_from_env_vars)
        expected = local / "bangla-meder"
    assert data_dir(create=False) == expected  # %LOCALAPPDATA%\bangla-meder: not roaming, no publisher folder


def test_on_windows_the_code_sets_no_permissions_and_the_profile_keeps_the_folder_private(tmp_path, monkeypatch):
    """chmod cannot change a Windows access list, so the code makes the folder and sets nothing; the folder
    inherits its parent's list, which in the user's profile gives access to the user, SYSTEM and Administrators
    only. (On Linux and macOS the folder is made 0700.)"""
    changed = []
    if not WINDOWS:
        monkeypatch.setattr(app.data_dir, "os", SimpleNamespace(name="nt", environ=os.environ,
                                                                chmod=lambda *args: changed.append(args)))
    folder = data_dir(tmp_path / "data")  # pytest's tmp_path lies in the profile (%LOCALAPPDATA%\Temp) on Windows
    assert folder.is_dir() and changed == []
    if WINDOWS:
        acl = subprocess.run(["icacls", str(folder)], capture_output=True, text=True, check=True).stdout
        for everyone in ("Everyone", "BUILTIN\\Users", "Authenticated Users"):
            assert everyone not in acl, acl


class WindowsLocks:
    """Stand-in for ``msvcrt``'s byte-range locks with Windows' rules: a lock belongs to one handle, and it is
    mandatory: another handle can neither lock nor even read a locked byte."""

    LK_UNLCK, LK_NBLCK = 0, 2  # msvcrt's values

    def __init__(self) -> None:
        self.held: dict[tuple[int, int, int], int] = {}  # (device, inode, byte) -> the handle that locked it
        self.os_read = os.read

    def _bytes(self, fd: int, count: int) -> list[tuple[int, int, int]]:
        st, position = os.fstat(fd), os.lseek(fd, 0, os.SEEK_CUR)
        return [(st.st_dev, st.st_ino, b) for b in range(position, position + count)]

    def locking(self, fd: int, mode: int, count: int) -> None:
        keys = self._bytes(fd, count)
        if mode == self.LK_UNLCK:
            for key in keys:
                self.held.pop(key, None)
        elif any(self.held.get(key, fd) != fd for key in keys):
            raise PermissionError(errno.EACCES, "Permission denied")
        else:
            self.held.update(dict.fromkeys(keys, fd))

    def read(self, fd: int, count: int) -> bytes:
        if any(self.held.get(key, fd) != fd for key in self._bytes(fd, count)):
            raise PermissionError(errno.EACCES, "Permission denied")  # what ReadFile says on a locked byte
        return self.os_read(fd, count)


def windows_instance_lock(monkeypatch):
    """engine/instance_lock.py as Windows loads it: its msvcrt branch, over the stand-in's locks."""
    if WINDOWS:
        import engine.instance_lock

        return engine.instance_lock
    locks = WindowsLocks()
    monkeypatch.setitem(sys.modules, "msvcrt", locks)
    spec = importlib.util.spec_from_file_location("instance_lock_on_windows", ROOT / "engine" / "instance_lock.py")
    module = importlib.util.module_from_spec(spec)
    with monkeypatch.context() as simulated:
        simulated.setattr(os, "name", "nt")
        spec.loader.exec_module(module)
    monkeypatch.setattr(os, "read", locks.read)
    return module


def test_one_instance_lock_on_windows_names_the_running_process(tmp_path, monkeypatch):
    module = windows_instance_lock(monkeypatch)
    assert module._lock.__module__ == module.__name__ and "msvcrt" in module._lock.__code__.co_names
    first = module.InstanceLock(tmp_path)
    first.acquire()
    # the second start must read whose lock it is: a lock on the process id itself would make that read fail
    with pytest.raises(module.AlreadyRunning, match=f"already running .*process {os.getpid()}"):
        module.InstanceLock(tmp_path).acquire()
    first.release()
    second = module.InstanceLock(tmp_path)
    second.acquire()  # free again once the first is gone
    second.release()


def test_one_instance_lock_between_two_real_processes(tmp_path):
    from engine.instance_lock import AlreadyRunning, InstanceLock

    folder = tmp_path / "ক্লিনিক ডেটা"
    folder.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from engine.instance_lock import InstanceLock; "
         "InstanceLock(sys.argv[1]).acquire(); print('held', flush=True); sys.stdin.read()", str(folder)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning, match=f"process {holder.pid}"):
            InstanceLock(folder).acquire()
    finally:
        holder.stdin.close()  # the holder ends, and the operating system lets the lock go
        holder.wait(timeout=30)
    lock = InstanceLock(folder)
    lock.acquire()
    lock.release()


def test_a_frozen_windows_app_starts_its_trainer_as_itself(monkeypatch):
    exe = PureWindowsPath("C:/Users", USER, "AppData/Local/Programs/bangla-meder/bangla-meder.exe")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    data = PureWindowsPath("C:/Users", USER, "AppData/Local/bangla-meder")
    command = trainer_command() + retrain_arguments(db=data / "meder.sqlite3", models_dir=data / "models",
                                                    bundled=exe.parent / "_internal" / "model_assets", preset="quick")
    assert command[:3] == [str(exe), "--trainer", "retrain"]
    assert command[command.index("--db") + 1] == rf"C:\Users\{USER}\AppData\Local\bangla-meder\meder.sqlite3"
    # the command line Windows hands the child: paths with the space in the user name stay whole
    line = subprocess.list2cmdline(command)
    assert line.startswith(f'"{exe}" --trainer retrain --db "{data / "meder.sqlite3"}" --out "{data / "models"}"')


def test_the_windows_app_opens_no_console_window():
    """The spec builds the Windows executable for the GUI subsystem (``console=False``): double-clicked, no
    black window opens behind the app, and the trainer it starts opens none either."""
    tree = ast.parse((ROOT / "pyinstaller.spec").read_text(encoding="utf-8"))
    exe = next(node for node in ast.walk(tree)
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "EXE")
    console = ast.Expression(next(k.value for k in exe.keywords if k.arg == "console"))
    code = compile(console, "pyinstaller.spec", "eval")
    assert eval(code, {"sys": SimpleNamespace(platform="win32")}) is False
    assert eval(code, {"sys": SimpleNamespace(platform="linux")}) is True  # Linux keeps its terminal output


def test_output_is_utf8_where_windows_would_pick_cp1252():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp1252")  # what Windows gives a program writing to a pipe or file
    utf8_output(stream, None)  # None: a windowed app without a console has no stream
    stream.write(SELFTEST_SENTENCE)
    stream.flush()
    assert raw.getvalue().decode("utf-8") == SELFTEST_SENTENCE


def cp1252_pipes() -> dict[str, str]:
    return {**os.environ, "PYTHONIOENCODING": "cp1252", "QT_QPA_PLATFORM": "offscreen"}


def test_selftest_prints_bangla_into_a_windows_pipe():
    result = subprocess.run([sys.executable, "-m", "app", "--selftest"], cwd=ROOT, env=cp1252_pipes(),
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert result.stdout.decode("utf-8").splitlines()[0] == SELFTEST_SENTENCE


def test_retrain_without_a_window_in_a_bangla_folder_fits_windows_path_limit(tmp_path, tiny_bundle):
    """``bangla-meder retrain`` starts the trainer as Model › Retrain does (the frozen app: itself with
    --trainer), in a data folder whose name has Bangla letters and spaces, with Windows' cp1252 pipes."""
    folder = tmp_path / "ক্লিনিক ডেটা" / "bangla-meder"
    folder.mkdir(parents=True)
    make_db(folder / "meder.sqlite3", reviewed=12, unreviewed=2)
    result = subprocess.run([sys.executable, "-m", "app", "--data-dir", str(folder), "retrain",
                             "--bundled", str(tiny_bundle)], cwd=ROOT, env=cp1252_pipes(), capture_output=True,
                            timeout=600)
    out = result.stdout.decode("utf-8")
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")[-3000:]
    assert out.splitlines()[:2] == ["Reading your reviewed documents…", "Learning from your corrections…"]
    assert "It is kept as version" in out  # 12 reviewed documents: too few to judge, kept for activation by hand
    assert [p.name for p in (folder / "backups").iterdir()][0].endswith("-before-retrain.sqlite3")
    assert len(Repository(folder / "meder.sqlite3").reviewed_documents()) == 12
    # every file the app wrote, under a Windows profile whose user name is 20 characters long
    profile = PureWindowsPath("C:/Users", "x" * 20, "AppData/Local/bangla-meder")
    longest = max((p.relative_to(folder) for p in folder.rglob("*")), key=lambda p: len(str(p)))
    assert len(str(profile / longest)) < MAX_PATH - 40, f"{profile / longest}: too close to {MAX_PATH}"


def test_retrain_without_a_window_waits_for_the_window_to_close(tmp_path):
    from engine.instance_lock import InstanceLock

    make_db(tmp_path / "meder.sqlite3")
    lock = InstanceLock(tmp_path)
    lock.acquire()  # the app's window has this data folder open
    try:
        result = subprocess.run([sys.executable, "-m", "app", "--data-dir", str(tmp_path), "retrain"], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
    finally:
        lock.release()
    assert result.returncode == 2 and "already running with this data folder" in result.stderr
    assert not (tmp_path / "models").exists()


def test_retrain_without_a_window_passes_on_the_trainers_error(tmp_path):
    make_db(tmp_path / "meder.sqlite3", reviewed=3)
    result = subprocess.run([sys.executable, "-m", "app", "--data-dir", str(tmp_path), "retrain"], cwd=ROOT,
                            env=cp1252_pipes(), capture_output=True, timeout=300)
    assert result.returncode == 2  # ExitCode.REFUSED
    assert "at least 10 reviewed documents; there are 3" in result.stderr.decode("utf-8")
