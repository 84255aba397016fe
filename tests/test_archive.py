"""``extract -o FOLDER``: an archive in partitions, in one process or on a 2-worker Dask cluster, with the same
documents and spans, resumable after a kill (engine/archive.py, app/archive_run.py), with the shipped INT8 model
on real notes from ../shared/data."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.__main__ import main
from app.paths import bundled_model
from engine.archive import DONE_FOLDER, MANIFEST, ModelRef, make_plan, read_records, save_plan, stat_inputs

ROOT = Path(__file__).resolve().parent.parent
NOTES = ROOT.parent / "shared" / "data" / "bangla-health-text" / "health-text.jsonl"
COUNT = 240  # real notes, in two CSV files, as a records system exports them
PARTITION = 40


def notes_csv(folder: Path) -> list[Path]:
    """Two CSV files of the first ``COUNT`` real notes (id, source, text) and one file that cannot be read."""
    if not NOTES.is_file():
        pytest.skip(f"{NOTES} is not here (the shared data folder)")
    rows = [json.loads(line) for line in NOTES.read_text(encoding="utf-8").splitlines()[:COUNT]]
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, part in (("ward-a.csv", rows[:150]), ("ward-b.csv", rows[150:])):
        with open(folder / name, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["note_id", "source", "text"])
            out.writerows([f"{name}-{i}", r["source"], r["text"]] for i, r in enumerate(part))
        files.append(folder / name)
    (folder / "damaged.jsonl").write_text('{"text": "এক"}\nnot json\n', encoding="utf-8")
    return [files[0], folder / "damaged.jsonl", files[1]]


def folder_files(out: Path) -> dict[str, bytes]:
    """What a run leaves that readers see (hidden temporary names excluded)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    return notes_csv(tmp_path_factory.mktemp("notes"))


@pytest.fixture(scope="module")
def one_process(inputs, tmp_path_factory) -> Path:
    """The reference: the same command without --workers, in this process."""
    out = tmp_path_factory.mktemp("one") / "out"
    status = main(["--model", str(bundled_model()), "extract", *map(str, inputs), "-o", str(out),
                   "--partition-size", str(PARTITION)])
    assert status == 3  # the damaged file is reported, the others extracted
    return out


def test_one_process_run_reports_what_it_left_out(one_process, inputs):
    manifest = json.loads((one_process / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["documents"] == COUNT and manifest["files_not_read"] == 1
    assert [f["documents"] for f in manifest["files"]] == [150, 0, 90]
    damaged = manifest["files"][1]
    assert not damaged["read"] and damaged["error"].startswith(f"{inputs[1]}:2: this line is not JSON")
    assert [s["documents_in_file"] for s in manifest["shards"][:5]] == [[0, 40], [40, 80], [80, 120], [120, 150],
                                                                        [0, 40]]
    assert manifest["model"]["version"] and len(manifest["model"]["manifest_sha256"]) == 64
    records = read_records(one_process)
    assert [r["metadata"]["note_id"] for r in records] == \
        [f"ward-a.csv-{i}" for i in range(150)] + [f"ward-b.csv-{i}" for i in range(90)]
    assert manifest["suggestions"] == sum(len(r["entities"]) for r in records) > COUNT
    first = records[0]["entities"][0]
    assert records[0]["text"][first["start"]:first["end"]] == first["text"]


def test_the_archive_has_the_classic_extract_entities(one_process, inputs, tmp_path):
    """The classic one-process path (``extract -o file.jsonl``, all notes in one ``tag_many`` call) gives every
    note the archive's spans: tagging does not depend on what a note is batched with (issue 21)."""
    from engine.formats import jsonl

    single = tmp_path / "all.jsonl"
    assert main(["--model", str(bundled_model()), "extract", *map(str, inputs), "-o", str(single)]) == 3
    classic = [(d.name, d.text, [(e.start, e.end, e.label, e.assertion) for e in d.entities])
               for d in jsonl.parse(single.read_text(encoding="utf-8"), single)]
    archive = [(r["title"], r["text"], [(e["start"], e["end"], e["type"], e["assertion"]) for e in r["entities"]])
               for r in read_records(one_process)]
    assert classic == archive


def loaded_models() -> list[str]:
    from engine import archive

    return [folder for folder, _ in archive._TAGGERS]


def test_two_workers_give_the_one_process_output(one_process, inputs, tmp_path):
    """Document for document and span for span (confidences and assertions too), with other partitions, on a
    running 2-process cluster (``--scheduler``; the kill test below starts its own with ``--workers``)."""
    from distributed import Client, LocalCluster

    out = tmp_path / "two"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        status = main(["--model", str(bundled_model()), "extract", *map(str, inputs), "-o", str(out),
                       "--scheduler", cluster.scheduler_address, "--partition-size", "35"])
        models = client.run(loaded_models)
    assert status == 3
    assert read_records(out) == read_records(one_process)
    mine, theirs = (json.loads((o / MANIFEST).read_text(encoding="utf-8")) for o in (out, one_process))
    assert len(mine["shards"]) == 8 and len(theirs["shards"]) == 7
    for key in ("documents", "entities", "suggestions", "files", "model"):
        assert mine[key] == theirs[key]
    # both workers tagged, each with the model loaded once
    assert list(models.values()) == [[str(bundled_model().resolve())]] * 2


def test_a_killed_run_resumes_to_the_same_output(one_process, inputs, tmp_path):
    """Killed (the whole process group, workers included) after some partitions: the rerun skips those, and
    every file of the folder ends byte for byte as in an uninterrupted run: no duplicate, no lost document."""
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "app", "--model", str(bundled_model()), "extract", *map(str, inputs),
               "-o", str(out), "--workers", "2", "--partition-size", str(PARTITION)]
    child = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(list((out / DONE_FOLDER).glob("*.json"))) < 2:
        assert child.poll() is None, child.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.killpg(child.pid, signal.SIGKILL)  # this test's own process group: the client and its cluster
    child.wait()
    child.stderr.close()
    done = len(list((out / DONE_FOLDER).glob("*.json")))
    assert not (out / MANIFEST).exists() and 2 <= done < 7
    status = main(["--model", str(bundled_model()), "extract", *map(str, inputs), "-o", str(out),
                   "--partition-size", str(PARTITION)])
    assert status == 3
    assert folder_files(out) == folder_files(one_process)
    titles = [r["title"] for r in read_records(out)]
    assert len(titles) == len(set(titles)) == COUNT


def test_a_resumed_folder_must_hold_the_same_inputs(inputs, tmp_path, capsys):
    """A folder of another run, or a changed input, is refused before anything is written."""
    notes = notes_csv(tmp_path / "notes")
    folder = tmp_path / "out"
    save_plan(folder, make_plan(stat_inputs(notes), ModelRef.of(bundled_model()), partition_size=PARTITION))
    before = folder_files(folder)
    assert main(["--model", str(bundled_model()), "extract", *map(str, inputs), "-o", str(folder),
                 "--partition-size", str(PARTITION)]) == 2
    assert "was started on other input files (3: " in capsys.readouterr().err
    later = notes[2].stat().st_mtime_ns + 1_000_000_000
    os.utime(notes[2], ns=(later, later))  # the same file, touched since
    assert main(["--model", str(bundled_model()), "extract", *map(str, notes), "-o", str(folder),
                 "--partition-size", str(PARTITION)]) == 2
    assert f"{notes[2]} changed since the run there started" in capsys.readouterr().err
    assert main(["--model", str(bundled_model()), "extract", *map(str, notes), "-o", str(folder)]) == 2
    assert "--partition-size 40" in capsys.readouterr().err
    assert folder_files(folder) == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x", encoding="utf-8")
    assert main(["--model", str(bundled_model()), "extract", str(notes[0]), "-o", str(other)]) == 2
    assert "holds no earlier run" in capsys.readouterr().err
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    assert main(["--model", str(bundled_model()), "extract", str(notes[0]), "-o", str(tmp_path / "x.jsonl"),
                 "--workers", "2"]) == 2
    assert "give -o FOLDER" in capsys.readouterr().err


def test_without_dask_the_workers_option_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    """The app and its bundle carry no Dask (an optional extra): --workers then names the command to install it."""
    note = tmp_path / "note.txt"
    note.write_text("রোগীর জ্বর আছে\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an install without the extra has: no module
    assert main(["--model", str(bundled_model()), "extract", str(note), "-o", str(tmp_path / "out"),
                 "--workers", "2"]) == 2
    assert "pip install 'dask[distributed]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
