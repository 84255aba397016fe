"""What must be true before the app starts, checked early enough to say so in one line.

- The model and fonts lie beside the ``app`` package (a source checkout or the bundle). A wheel has neither,
  so a non-editable install stops with a pointer to the README instead of a traceback.
- Qt's X11 (xcb) platform plugin finds its system libraries. When it does not, Qt aborts the process while
  creating the ``QApplication``, which no ``except`` can catch, so ``ldd`` asks the dynamic loader first
  (about 10 ms) and the app names the missing libraries and the command that installs them.

No Qt import here: a missing library would make importing PySide6's GUI modules fail before the check ran.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from app.paths import install_root

EXIT_MISSING_LIBRARIES = 1
EXIT_NOT_A_CHECKOUT = 2

# Every system library Qt's xcb plugin loads (ldd of PySide6's libqxcb.so, which brings in QtGui's own) that a
# minimal desktop Linux may lack, with its Debian/Ubuntu package. The README's install command lists them all.
XCB_PACKAGES = {
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
}


def not_a_checkout(root: Path | None = None) -> str | None:
    """Why the app cannot run from ``root`` (default: where the ``app`` package lies), or None when it can."""
    root = install_root() if root is None else root
    missing = [name for name, found in (("model_assets/", (root / "model_assets").is_dir()),
                                        ("app/fonts/", any((root / "app" / "fonts").glob("*.ttf"))))
               if not found]
    if not missing:
        return None
    return (f"error: {' and '.join(missing)} not found in {root}: this looks like an installed wheel, which "
            f"cannot run (wheels are not published). Run Bangla MedER from a source checkout with ./run, or "
            f"install the bundle; see README.md, 'Set up, run, test'.")


def xcb_will_load(environ: Mapping[str, str], *, platform: str) -> bool:
    """Whether Qt will load its xcb plugin first (not: another platform asked for, Wayland, or no display)."""
    if not platform.startswith("linux"):
        return False
    asked = environ.get("QT_QPA_PLATFORM", "")
    if asked:  # "xcb", "xcb:option", or a fallback list like "wayland;xcb" whose first entry is tried first
        return re.split(r"[;:]", asked, maxsplit=1)[0] == "xcb"
    if environ.get("XDG_SESSION_TYPE") == "wayland" and environ.get("WAYLAND_DISPLAY"):
        return False  # Qt 6 prefers its Wayland plugin in a Wayland session
    return bool(environ.get("DISPLAY"))


def libraries_not_found(ldd_output: str) -> list[str]:
    """The libraries that ``ldd`` reports as ``not found``, once each, in its order."""
    return list(dict.fromkeys(re.findall(r"^\s*(\S+) => not found", ldd_output, re.MULTILINE)))


def missing_libraries_message(missing: list[str]) -> str:
    """One line: the libraries the window needs and lacks, and the command that installs them."""
    packages = list(dict.fromkeys(XCB_PACKAGES[name] for name in missing if name in XCB_PACKAGES))
    unknown = [name for name in missing if name not in XCB_PACKAGES]
    install = f"; on Debian/Ubuntu install them with: sudo apt install {' '.join(packages)}" if packages else ""
    other = f" ({', '.join(unknown)}: install the package that provides it)" if packages and unknown else ""
    return (f"error: the window cannot open: Qt's X11 plugin needs libraries this system lacks: "
            f"{', '.join(missing)}{install}{other}. (--selftest and extract work without a window.)")


def xcb_plugin() -> Path | None:
    """PySide6's ``libqxcb.so`` (in a checkout's venv or in the bundle), found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(list(spec.submodule_search_locations)[0]) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def missing_xcb_libraries(plugin: Path) -> list[str]:
    """The libraries the dynamic loader cannot find for ``plugin`` (empty when ``ldd`` is not there)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    env = dict(os.environ)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:  # the libraries PyInstaller shipped lie at the bundle's top; the app finds them there too
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [bundle, env.get("LD_LIBRARY_PATH")]))
    try:
        done = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, env=env, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []  # no answer: let Qt try
    return libraries_not_found(done.stdout)


def window_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """The one-line reason the window cannot open, or None (also when it cannot be known before Qt tries)."""
    if not xcb_will_load(os.environ if environ is None else environ, platform=sys.platform):
        return None
    plugin = xcb_plugin()
    missing = missing_xcb_libraries(plugin) if plugin else []
    return missing_libraries_message(missing) if missing else None
