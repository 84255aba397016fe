"""Exports: Cancel is honoured while the file is written, bad destinations fail before the work, a full disk
or a kill never damages the older export, and no predictable temporary name can be hijacked."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine.atomic import TEMP_PREFIX
from engine.errors import ExportError, OperationCancelled
from engine.exporting import export
from engine.spans import Entity
from engine.storage import Repository

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo(tmp_path):
    repo = Repository(tmp_path / "meder.sqlite3")
    text = "জ্বর হলে নাপা খান। " * 40
    repo.add_documents([(f"note {i}", text, "t", [Entity(0, 4, "Symptom"), Entity(9, 13, "Medicine")])
                        for i in range(600)], origin="model", model_version="m1")
    yield repo
    repo.close()


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX) or p.name.endswith(".part")]


def test_cancel_while_the_workbook_is_written_keeps_the_older_file(repo, tmp_path):
    out = tmp_path / "exports"
    out.mkdir()
    target = out / "entities.xlsx"
    target.write_bytes(b"the older export")

    def writing() -> bool:
        """True once the workbook's bytes are going to disk: a Cancel pressed during the save itself."""
        return any(p.stat().st_size > 0 for p in out.glob(TEMP_PREFIX + "*"))

    with pytest.raises(OperationCancelled):
        export(repo, target, cancelled=writing)
    assert target.read_bytes() == b"the older export"
    assert leftovers(out) == []


def test_cancel_between_rows_stops_before_the_save(repo, tmp_path):
    calls = []

    def after_reading() -> bool:  # the reading loop asks once per document; later calls come from the rows
        calls.append(1)
        return len(calls) > 601

    with pytest.raises(OperationCancelled):
        export(repo, tmp_path / "x.xlsx", cancelled=after_reading)
    assert not (tmp_path / "x.xlsx").exists() and leftovers(tmp_path) == []


def test_a_planted_symlink_at_the_old_part_name_is_not_followed(repo, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("must stay")
    os.symlink(victim, tmp_path / ".entities.xlsx.part")
    assert export(repo, tmp_path / "entities.xlsx").documents == 600
    assert victim.read_text() == "must stay"
    assert (tmp_path / "entities.xlsx").read_bytes()[:2] == b"PK"
    assert (tmp_path / "entities.xlsx").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("where", ["missing folder", "folder"])
def test_an_unwritable_destination_fails_before_the_work(repo, tmp_path, where):
    target = tmp_path / "no such folder" / "x.xlsx" if where == "missing folder" else tmp_path / "dir.xlsx"
    if where == "folder":
        target.mkdir()
    asked = []
    started = time.monotonic()
    with pytest.raises(ExportError, match="cannot write the export.*Nothing was exported"):
        export(repo, target, cancelled=lambda: asked.append(1) or False)
    assert asked == []  # not one document was read
    assert time.monotonic() - started < 1.0


def test_leftovers_of_a_killed_export_are_removed_by_the_next_one(repo, tmp_path):
    db, target = repo.path, tmp_path / "x.jsonl"
    for n in range(1, 20):
        repo.set_reviewed(n)
    code = f"""
        import os, signal
        import engine.formats.jsonl as jsonl
        from engine.exporting import export
        from engine.storage import Repository
        def dump(docs):
            os.kill(os.getpid(), signal.SIGKILL)  # killed while the export is being written
        jsonl.dumps_doccano = dump
        export(Repository({str(db)!r}), {str(target)!r})
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, timeout=60)
    assert result.returncode == -9
    assert len(leftovers(tmp_path)) == 1
    assert export(repo, target).documents == 19
    assert leftovers(tmp_path) == []


def test_a_full_disk_is_a_clear_error_and_keeps_the_older_file(repo, tmp_path):
    target = tmp_path / "entities.xlsx"
    target.write_bytes(b"the older export")
    code = f"""
        import resource, signal
        from engine.errors import ExportError
        from engine.exporting import export
        from engine.storage import Repository
        repo = Repository({str(repo.path)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        try:
            export(repo, {str(target)!r})
        except ExportError as exc:
            print(exc)
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "the disk is full" in result.stdout and "Nothing was exported; the older file is unchanged" in result.stdout
    assert target.read_bytes() == b"the older export"
    assert leftovers(tmp_path) == []
