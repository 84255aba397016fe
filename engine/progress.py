"""The one progress/cancel contract of long work in engine/ and trainer/.

Long functions take ``progress(done, total)`` and ``cancelled()`` as keyword arguments,
both optional, and call :func:`check_cancelled` between steps, so a Cancel stops them with
:class:`~engine.errors.OperationCancelled` and nothing half-done is kept. The GUI's
``run_in_background`` hands its functions ``progress(done, total, message)``: :func:`titled`
turns that into the plain shape, with the words the dialog shows.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import OperationCancelled

Progress = Callable[[int, int], None]  # (done, total): total may grow while work is found
MessageProgress = Callable[[int, int, str], None]  # (done, total, what is being done, in the users' words)
IsCancelled = Callable[[], bool]


def check_cancelled(cancelled: IsCancelled | None) -> None:
    """Raise OperationCancelled if the user asked to stop."""
    if cancelled is not None and cancelled():
        raise OperationCancelled()


def titled(progress: MessageProgress | None, message: str) -> Progress | None:
    """``progress`` with ``message`` attached to every update (None stays None)."""
    if progress is None:
        return None
    return lambda done, total: progress(done, total, message)
