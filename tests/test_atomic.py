"""engine.atomic: a reader sees the old or the new file/folder, whatever kills the writer and when."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine.atomic import (
    TEMP_PREFIX,
    atomic_folder,
    atomic_path,
    new_temp_folder,
    recover_folder,
    remove_leftovers,
    write_text,
)

ROOT = Path(__file__).resolve().parent.parent


def run_child(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that may SIGKILL itself (``die()``) at a chosen point."""
    prelude = "import os, signal\nfrom pathlib import Path\ndef die():\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX))


def test_write_replaces_privately_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    write_text(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert target.stat().st_mode & 0o777 == 0o600
    assert leftovers(tmp_path) == []


def test_failure_inside_the_block_keeps_the_old_file(tmp_path):
    target = tmp_path / "export.xlsx"
    target.write_bytes(b"older export")
    with pytest.raises(RuntimeError), atomic_path(target) as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("the work failed midway")
    assert target.read_bytes() == b"older export"
    assert leftovers(tmp_path) == []


def test_an_unwritable_destination_is_found_before_the_work(tmp_path):
    entered = []
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "no such folder" / "x.xlsx"):
        entered.append(1)
    (tmp_path / "a folder").mkdir()
    with pytest.raises(IsADirectoryError), atomic_path(tmp_path / "a folder"):
        entered.append(1)
    assert entered == []


def test_temporary_names_are_unpredictable_and_never_follow_a_planted_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    names = set()
    for _ in range(3):
        with atomic_path(tmp_path / "out.txt") as temp:
            names.add(temp.name)
            assert not temp.is_symlink() and temp.stat().st_size == 0
            temp.write_text("x")
    assert len(names) == 3 and victim.read_text() == "keep me"


def test_killed_mid_write_keeps_the_old_file_and_its_leftover_goes_next_time(tmp_path):
    target = tmp_path / "export.jsonl"
    target.write_text("old content")
    result = run_child(f"""
        from engine.atomic import atomic_path
        with atomic_path({str(target)!r}) as temp:
            with open(temp, "w") as f:
                f.write("new content, half written")
                f.flush()
                die()
    """)
    assert result.returncode == -9
    assert target.read_text() == "old content"
    left = leftovers(tmp_path)
    assert len(left) == 1
    # its writer is gone, so it goes at once, however young
    assert [p.name for p in remove_leftovers(tmp_path)] == left
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("kill_at", [1, 2])
def test_killed_while_swapping_folders_never_leaves_none(tmp_path, kill_at):
    """Killed after the old folder went aside (1) or after the new one arrived (2): old or new is there."""
    folder = tmp_path / "student-int8"
    folder.mkdir()
    (folder / "model.onnx").write_text("old model")
    result = run_child(f"""
        import engine.atomic as atomic
        real, calls = os.replace, []
        def replace(a, b):
            real(a, b)
            calls.append(1)
            if len(calls) == {kill_at}:
                die()
        atomic.os.replace = replace
        with atomic.atomic_folder({str(folder)!r}) as staging:
            (staging / "model.onnx").write_text("new model")
    """)
    assert result.returncode == -9, result.stderr
    if kill_at == 1:
        assert not folder.exists()  # the moment atomic_folder exists to survive
        remove_leftovers(tmp_path)  # what the next start runs: puts the old folder back
        assert (folder / "model.onnx").read_text() == "old model"
    else:
        assert (folder / "model.onnx").read_text() == "new model"
        for p in tmp_path.glob(TEMP_PREFIX + "*"):  # the old folder aside, an hour later
            os.utime(p, (time.time() - 7200, time.time() - 7200))
        remove_leftovers(tmp_path)
        assert (folder / "model.onnx").read_text() == "new model"
    assert leftovers(tmp_path) == []


def test_a_failed_folder_swap_keeps_the_old_folder(tmp_path):
    folder = tmp_path / "teacher"
    folder.mkdir()
    (folder / "w").write_text("old")
    with pytest.raises(ValueError), atomic_folder(folder) as staging:
        (staging / "w").write_text("new")
        raise ValueError("did not verify")
    assert (folder / "w").read_text() == "old" and leftovers(tmp_path) == []


def test_recover_takes_back_only_its_own_folder(tmp_path):
    for name in ("v1", "v1.x"):
        aside = tmp_path / f"{TEMP_PREFIX}old-{name}.abcdefgh"
        aside.mkdir()
        (aside / "name").write_text(name)
    assert recover_folder(tmp_path / "v1")
    assert (tmp_path / "v1" / "name").read_text() == "v1"
    assert not recover_folder(tmp_path / "v1")  # it exists now
    assert not recover_folder(tmp_path / "v2")


def test_leftovers_of_a_running_process_stay_however_old(tmp_path):
    mine = new_temp_folder(tmp_path)  # this process is alive: like a retraining in another window
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    theirs = tmp_path / f"{TEMP_PREFIX}{dead_pid}-abcdefgh"
    theirs.mkdir()
    anonymous = tmp_path / f"{TEMP_PREFIX}nopid"
    anonymous.write_text("x")
    hour_ago = time.time() - 3700
    for p in (mine, anonymous):
        os.utime(p, (hour_ago, hour_ago))
    removed = remove_leftovers(tmp_path)
    assert mine.is_dir()
    assert not theirs.exists() and not anonymous.exists()
    assert sorted(p.name for p in removed) == sorted([theirs.name, anonymous.name])
    young = tmp_path / f"{TEMP_PREFIX}young"
    young.write_text("x")
    assert remove_leftovers(tmp_path) == [] and young.exists()  # no owner named: the age rule decides
