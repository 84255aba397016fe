"""Run a frozen bundle as a clinic would: self-test, window, trainer, and a retraining the app starts itself.

    python scripts/check_frozen.py dist/bangla-meder [--work build/frozen-check] [--window-s 15]

scripts/build_bundle.sh runs it on Linux and .github/workflows/windows.yml on Windows, so both bundles pass
the same checks. The app runs without the build's Python environment (no virtual environment, no PYTHON*
variables), offscreen, with its data in a folder whose name has Bangla letters and a space. Each verified fact
is printed as ``ok: ...``; the first that fails stops the check with exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# the installer check's way of saying what was verified (this folder is on the path: run as a script)
from check_installer import CheckFailed, check  # noqa: E402

from engine.console import utf8_output  # noqa: E402  (after the path: run as a script)
from engine.samples import SELFTEST_SENTENCE  # noqa: E402

WINDOWS = sys.platform == "win32"
GUI_SUBSYSTEM = 2  # IMAGE_SUBSYSTEM_WINDOWS_GUI: started without a console window
NOTES = [("রোগীর জ্বর আছে, নাপা খেতে বলা হয়েছে।", [(6, 10, "Symptom"), (16, 20, "Medicine")]),
         ("মাথা ব্যথা হলে প্যারাসিটামল খাবেন।", [(0, 10, "Symptom"), (15, 27, "Medicine")])]


def clean_environment() -> dict[str, str]:
    """What a clinic's computer gives the app: none of the build's Python settings."""
    if WINDOWS:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PYTHON", "VIRTUAL_ENV"))}
    else:
        env = {"HOME": os.environ.get("HOME", "/root"), "PATH": "/usr/bin:/bin"}
    env["QT_QPA_PLATFORM"] = "offscreen"  # no display on a build machine
    return env


def pe_subsystem(exe: Path) -> int:
    """The Windows subsystem field of a PE executable's optional header."""
    data = exe.read_bytes()[:4096]
    header = int.from_bytes(data[0x3C:0x40], "little")
    if data[header:header + 4] != b"PE\0\0":
        raise CheckFailed(f"{exe} is not a Windows executable")
    return int.from_bytes(data[header + 24 + 68:header + 24 + 70], "little")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the one-folder bundle (dist/bangla-meder)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "frozen-check")
    parser.add_argument("--window-s", type=float, default=15.0, help="how long the window must keep running")
    args = parser.parse_args(argv)
    utf8_output()  # Bangla lines into the CI log, which Windows would write in cp1252
    try:
        verify(args.bundle.resolve(), args.work.resolve(), window_s=args.window_s)
    except CheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


def verify(bundle: Path, work: Path, *, window_s: float) -> None:
    started = time.monotonic()
    exe = bundle / ("bangla-meder.exe" if WINDOWS else "bangla-meder")
    check(exe.is_file(), f"the bundle has its program ({exe.name})")
    if WINDOWS:
        check(pe_subsystem(exe) == GUI_SUBSYSTEM, "a GUI-subsystem program: no console window opens behind it")
    env = clean_environment()
    shutil.rmtree(work, ignore_errors=True)
    data = work / "ক্লিনিক ডেটা"  # the data folder: Bangla letters and a space
    work.mkdir(parents=True)

    t = time.monotonic()
    done = subprocess.run([str(exe), "--selftest"], env=env, capture_output=True, timeout=300)
    out = done.stdout.decode("utf-8", "replace")
    check(done.returncode == 0 and out.splitlines()[:1] == [SELFTEST_SENTENCE] and "\tSymptom\t" in out,
          f"frozen self-test tags the Bangla sentence ({time.monotonic() - t:.1f} s, output in UTF-8)",
          f"exit {done.returncode}: {out[-500:]} {done.stderr.decode('utf-8', 'replace')[-1500:]}")
    print("\n".join("    " + line for line in out.splitlines()[1:]))

    window = subprocess.Popen([str(exe), "--data-dir", str(data)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        window.wait(timeout=window_s)
    except subprocess.TimeoutExpired:
        pass
    running = window.poll() is None
    window.kill()
    _, errors = window.communicate(timeout=60)
    check(running, f"frozen window opens and keeps running for {window_s:.0f} s (offscreen)",
          f"exit {window.returncode}: {errors.decode('utf-8', 'replace')[-1500:]}")
    check((data / "meder.sqlite3").is_file(), "the window created its database in the Bangla-named data folder")

    conll = work / "দুটি বাক্য.conll"
    conll.write_text("নাপা\tB-Medicine\nখান\tO\n\nমাথা\tB-Symptom\nব্যথা\tI-Symptom\n", encoding="utf-8")
    t = time.monotonic()
    done = subprocess.run([str(exe), "--trainer", "evaluate", "--model",
                           str(bundle / "_internal" / "model_assets" / "teacher"), "--data", str(conll)],
                          env=env, capture_output=True, timeout=600)
    try:
        scores = json.loads(done.stdout.decode("utf-8"))
    except ValueError:
        scores = None
    check(done.returncode == 0 and isinstance(scores, dict),
          f"frozen trainer (torch) evaluates the bundled teacher on a Bangla-named file ({time.monotonic() - t:.1f} s)",
          f"exit {done.returncode}: {done.stderr.decode('utf-8', 'replace')[-1500:]}")

    from engine.spans import Entity
    from engine.storage import Repository

    repo = Repository(data / "meder.sqlite3")  # the database the frozen window made
    ids = repo.add_documents([(f"নোট {i}", text, "check", [Entity(*e) for e in entities])
                              for i in range(14) for text, entities in [NOTES[i % 2]]], origin="human")
    for doc_id in ids[:12]:
        repo.set_reviewed(doc_id)
    repo.close()
    t = time.monotonic()
    done = subprocess.run([str(exe), "--data-dir", str(data), "retrain", "--preset", "quick"], env=env,
                          capture_output=True, timeout=1800)
    out = done.stdout.decode("utf-8", "replace")
    versions = [p.name for p in (data / "models").iterdir() if p.is_dir() and not p.name.startswith(".")] \
        if (data / "models").is_dir() else []
    check(done.returncode == 0 and versions and "version" in out,
          f"frozen retrain of 12 reviewed documents (quick preset), the trainer started by the app itself "
          f"({time.monotonic() - t:.0f} s; new version {', '.join(versions)})",
          f"exit {done.returncode}: {out[-800:]} {done.stderr.decode('utf-8', 'replace')[-2000:]}")
    print("\n".join("    " + line for line in out.splitlines()))
    print(f"frozen check: done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
