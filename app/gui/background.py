"""Run a function off the UI thread with progress, cancel, and results back on the UI thread.

The function receives ``progress(done, total, message)`` and ``cancelled()``
callables and must not touch widgets (Anki's CollectionOp, in small).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from engine.errors import MederError, OperationCancelled

T = TypeVar("T")


class _Signals(QObject):
    progress = Signal(int, int, str)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()


class BackgroundOp(QRunnable):
    def __init__(self, fn: Callable) -> None:
        super().__init__()
        self.fn = fn
        self.signals = _Signals()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        try:
            result = self.fn(lambda d, t, m="": self.signals.progress.emit(d, t, m), self._cancel.is_set)
        except OperationCancelled:
            self.signals.cancelled.emit()
        except MederError as exc:
            self.signals.failed.emit(str(exc))
        except Exception as exc:  # a bug: report it rather than lose it in a thread
            self.signals.failed.emit(f"{exc.__class__.__name__}: {exc}\n\n{traceback.format_exc(limit=5)}")
        else:
            self.signals.succeeded.emit(result)


class _OnUiThread(QObject):
    """Runs jobs handed over from other threads on the thread it was made on (the UI thread)."""

    job = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.job.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def _run(self, job: Callable[[], None]) -> None:
        job()


def asked_on_ui_thread(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` (a question: it shows a dialog) for a background operation to call: it runs on the UI thread, and
    the operation waits for its answer. Make it on the UI thread, before the operation starts."""
    relay = _OnUiThread()

    def call(*args):
        done, out = threading.Event(), {}

        def job() -> None:
            try:
                out["value"] = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - raised again in the operation's thread
                out["error"] = exc
            finally:
                done.set()

        relay.job.emit(job)
        done.wait()
        if "error" in out:
            raise out["error"]
        return out["value"]

    call.relay = relay  # alive as long as the function is
    return call


def run_in_background(parent: QWidget, fn: Callable, *, title: str | None, on_success: Callable[[object], None],
                      on_failure: Callable[[str], None], on_cancel: Callable[[], None] | None = None) -> BackgroundOp:
    """Start ``fn`` in the thread pool; with a ``title``, show a cancellable progress dialog."""
    op = BackgroundOp(fn)
    dialog = None
    if title:
        dialog = QProgressDialog(title, "Cancel", 0, 0, parent)
        dialog.setWindowTitle(title)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        dialog.canceled.connect(op.cancel)

        def show(done: int, total: int, message: str) -> None:
            dialog.setMaximum(max(total, 0))
            dialog.setValue(min(done, total) if total else 0)
            if message:
                dialog.setLabelText(message)

        op.signals.progress.connect(show)

    def finish() -> None:
        if dialog is not None:
            dialog.reset()
            dialog.deleteLater()
        parent._background_ops.discard(op)  # done: the window keeps only what still runs

    op.signals.succeeded.connect(lambda r: (finish(), on_success(r)))
    op.signals.failed.connect(lambda m: (finish(), on_failure(m)))
    op.signals.cancelled.connect(lambda: (finish(), on_cancel() if on_cancel else None))
    if not hasattr(parent, "_background_ops"):
        parent._background_ops = set()
    parent._background_ops.add(op)  # keeps its signals alive while it runs
    op.setAutoDelete(False)
    QThreadPool.globalInstance().start(op)
    return op
