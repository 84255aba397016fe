"""Set up ``.venv`` for ``./run`` (running and retraining) and ``./run-tests`` (adds the build, dev and distributed extras).

Standard library only: the system ``python3`` runs it before ``.venv`` exists.

    python3 scripts/setup_env.py run|tests [--dry-run] [--cpu-index-down] [--platform NAME] [--venv DIR]

On Linux the default package index's torch is a CUDA build that pulls gigabytes of GPU libraries the app
never uses, so torch comes from PyTorch's CPU wheel index first and from the default package index only when
that fails. ``--dry-run`` prints the commands instead of running them (nothing is created), and
``--cpu-index-down`` makes the dry run take the CPU index as unreachable, so the fallback can be checked
without a network.

A stamp file in ``.venv`` per purpose records a finished install; it goes stale when ``pyproject.toml`` is
newer. ``tests`` installs everything ``run`` does, so its stamp serves ``run`` as well.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
EXTRAS = {"run": "train", "tests": "train,build,dev,distributed"}
STAMPS = {"run": ".installed-run", "tests": ".installed-tests"}
LEGACY_STAMP = ".installed"  # written by the old ./run, which installed train, build and dev together
# the stamps that show a purpose's packages are installed
ENOUGH = {"run": (STAMPS["run"], STAMPS["tests"], LEGACY_STAMP), "tests": (STAMPS["tests"], LEGACY_STAMP)}
ROOT = Path(__file__).resolve().parent.parent


def torch_requirement(pyproject_text: str) -> str:
    """The pinned torch of the ``train`` extra (its one home is pyproject.toml), e.g. ``torch==2.13.0``."""
    found = re.search(r'"(torch==[^"]+)"', pyproject_text)
    if not found:
        raise ValueError('pyproject.toml pins no torch: expected "torch==X.Y.Z" in the train extra')
    return found.group(1)


def venv_python(venv: Path, *, platform: str) -> Path:
    return venv / "Scripts" / "python.exe" if platform == "win32" else venv / "bin" / "python"


def what_to_install(purpose: str, *, venv: Path, pyproject: Path, platform: str) -> str:
    """``"nothing"``, ``"extras"`` (``run``'s packages are there; ``tests`` adds its extras) or ``"everything"``."""
    if not venv_python(venv, platform=platform).exists():
        return "everything"
    changed = pyproject.stat().st_mtime

    def fresh(stamp: str) -> bool:
        path = venv / stamp
        return path.exists() and path.stat().st_mtime >= changed

    if any(fresh(stamp) for stamp in ENOUGH[purpose]):
        return "nothing"
    if purpose == "tests" and any(fresh(stamp) for stamp in ENOUGH["run"]):
        return "extras"
    return "everything"


def pip_install(python: Path, *args: str) -> list[str]:
    return [str(python), "-m", "pip", "install", "-q", *args]


def torch_commands(python: Path, requirement: str, *, platform: str) -> list[list[str]]:
    """The commands to try in order until one installs torch.

    Linux: PyPI's wheel is the CUDA build, so PyTorch's CPU index first (quick to give up when unreachable),
    then the default package index. Elsewhere (macOS, Windows) the default index's wheel is CPU-only.
    """
    default = pip_install(python, requirement)
    if not platform.startswith("linux"):
        return [default]
    return [pip_install(python, "--index-url", CPU_INDEX, "--timeout", "10", "--retries", "0", requirement), default]


def cuda_warning(cuda: str | None) -> str | None:
    """What to tell the user when the installed torch was built with CUDA (``torch.version.cuda``)."""
    if cuda is None:
        return None
    return (f"warning: the torch in .venv is a CUDA {cuda} build: it adds about 3 GB of GPU libraries that "
            f"Bangla MedER never uses (it runs and retrains on the CPU). This happens when {CPU_INDEX} cannot be "
            f"reached; where it can, get the CPU-only build with: rm -rf .venv && ./run")


class Runner:
    """Runs the commands, or with ``dry_run`` prints them (each after ``+ ``) and pretends they worked."""

    def __init__(self, *, dry_run: bool, cpu_index_down: bool) -> None:
        self.dry_run = dry_run
        self.cpu_index_down = cpu_index_down

    def __call__(self, command: list[str]) -> int:
        print(f"+ {shlex.join(command)}", file=sys.stdout if self.dry_run else sys.stderr, flush=True)
        if not self.dry_run:
            return subprocess.run(command).returncode
        if self.cpu_index_down and CPU_INDEX in command:
            print("  (fails: the CPU index is not reachable, simulated)")
            return 1
        return 0

    def cuda_of_torch(self, python: Path) -> str | None:
        command = [str(python), "-c", 'import torch; print(torch.version.cuda or "")']
        print(f"+ {shlex.join(command)}", file=sys.stdout if self.dry_run else sys.stderr, flush=True)
        if self.dry_run:
            return None
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"torch does not import in .venv: {done.stderr.strip()}")
        return done.stdout.strip() or None


def set_up(purpose: str, *, venv: Path, project: Path, platform: str, run: Runner) -> int:
    """Install what ``purpose`` needs into ``venv`` if it is not there yet; the exit status."""
    pyproject = project / "pyproject.toml"
    todo = what_to_install(purpose, venv=venv, pyproject=pyproject, platform=platform)
    if todo == "nothing":
        return 0
    python = venv_python(venv, platform=platform)
    print("Setting up .venv for Bangla MedER (first use, or pyproject.toml changed)...", file=sys.stderr, flush=True)
    if not python.exists():
        if run([sys.executable, "-m", "venv", str(venv)]) != 0:
            print(f"error: {sys.executable} -m venv failed; on Debian/Ubuntu: sudo apt install python3-venv",
                  file=sys.stderr)
            return 1
        if run(pip_install(python, "--upgrade", "pip")) != 0:  # a venv's own pip may predate editable installs
            return _failed("upgrading pip")
    if todo == "everything":
        if not any(run(command) == 0 for command in
                   torch_commands(python, torch_requirement(pyproject.read_text(encoding="utf-8")),
                                  platform=platform)):
            return _failed("installing torch")
        try:
            warning = cuda_warning(run.cuda_of_torch(python))
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if warning:
            print(warning, file=sys.stderr)
    if run(pip_install(python, "-e", f"{project}[{EXTRAS[purpose]}]")) != 0:
        return _failed(f"installing the project with its {EXTRAS[purpose]} extras")
    if not run.dry_run:
        (venv / STAMPS[purpose]).touch()
    return 0


def _failed(what: str) -> int:
    print(f"error: setup stopped while {what} (the reason is above); run the command again to retry",
          file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    if sys.version_info < (3, 10):  # noqa: UP036 - the system python3 may be older than the project allows
        print(f"error: Bangla MedER needs Python 3.10 or newer; {sys.executable} is "
              f"{sys.version.split()[0]} (set PYTHON=python3.X to choose another)", file=sys.stderr)
        return 1
    parser = argparse.ArgumentParser(description="Set up .venv for ./run or ./run-tests.")
    parser.add_argument("purpose", choices=sorted(EXTRAS))
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    parser.add_argument("--cpu-index-down", action="store_true",
                        help="with --dry-run: take PyTorch's CPU index as unreachable")
    parser.add_argument("--platform", default=sys.platform, help="as sys.platform (default: this machine's)")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--project", type=Path, default=ROOT, help="the folder with pyproject.toml")
    args = parser.parse_args(argv)
    if args.cpu_index_down and not args.dry_run:
        parser.error("--cpu-index-down only simulates, with --dry-run")
    run = Runner(dry_run=args.dry_run, cpu_index_down=args.cpu_index_down)
    return set_up(args.purpose, venv=args.venv, project=args.project, platform=args.platform, run=run)


if __name__ == "__main__":
    sys.exit(main())
