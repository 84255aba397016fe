"""Model › Retrain…: runs ``python -m trainer retrain`` out of process and streams its progress.

What the dialog and the trainer say to each other is :mod:`engine.trainer_contract`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
)

from engine.backup import make_backup
from engine.errors import StorageError
from engine.logs import log_trainer_output
from engine.model_registry import ModelRegistry
from engine.storage import Repository
from engine.trainer_contract import (
    CANCEL_LINE,
    ERROR_PREFIX,
    MIN_REVIEWED,
    Event,
    ExitCode,
    Heartbeat,
    Result,
    RetrainReport,
    Stage,
    Step,
    TimeLeft,
    decode,
    exit_words,
    retrain_arguments,
    stage_words,
    time_left_words,
    trainer_command,
)

log = logging.getLogger(__name__)
# Cancel is a line on the trainer's stdin, read between steps; a trainer still running this long after it is
# killed, so a cancel always ends within 5 s (its unfinished files are removed at the next start)
CANCEL_GRACE_MS = 4000
_ORT_LOG = re.compile(r"\[[WIV]:onnxruntime")  # "2026-11-25 15:01:10 [W:onnxruntime:, ...] ..."


def failure_line(stderr: str) -> str:
    """The line that says why the trainer failed: its own ``error:`` line, else the last line that is not
    an ONNX Runtime warning or informational line (those are printed on the way and explain nothing)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    marked = [line for line in lines if line.startswith(ERROR_PREFIX)]
    if marked:
        return marked[-1][len(ERROR_PREFIX):]
    plain = [line for line in lines if not _ORT_LOG.search(line)]
    return plain[-1] if plain else ""


class RetrainDialog(QDialog):
    finished_report = Signal(object)  # the RetrainReport of a finished run

    def __init__(self, parent, repo: Repository, registry: ModelRegistry, bundled: Path, *,
                 command: list[str] | None = None) -> None:
        """``command``: what starts the trainer (default :func:`trainer_command`); it must speak the contract."""
        super().__init__(parent)
        self.setWindowTitle("Retrain the model")
        self.setMinimumWidth(520)
        self.setSizeGripEnabled(True)
        self.repo, self.registry, self.bundled = repo, registry, bundled
        self.command = command or trainer_command()
        self.process: QProcess | None = None
        self.report: RetrainReport | None = None
        self.errors = b""
        self.estimate = TimeLeft()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.warning = QLabel()  # reviewed documents that hold no entity teach the model nothing
        self.warning.setObjectName("retrain_warning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #8a4b00")
        self.warning.hide()
        reviewed = self._refresh_summary()
        self.preset = QComboBox()
        self.preset.addItem("Quick (minutes; at most 20 for 200 reviewed documents)", "quick")
        self.preset.addItem("Full (up to 90 minutes; use with base data)", "full")
        self.base = QLineEdit(placeholderText="optional: folder with Bangla-HealthNER .json files")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse)
        base_row = QHBoxLayout()
        base_row.addWidget(self.base)
        base_row.addWidget(browse)
        self.stage = QLabel("Not started")
        self.stage.setWordWrap(True)
        self.time_left = QLabel()
        self.bar = QProgressBar()
        # the verdict is a short paragraph: shown whole, wrapped, and scrolled rather than cut off
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.verdict_area = QScrollArea()
        self.verdict_area.setWidgetResizable(True)
        self.verdict_area.setWidget(self.verdict)
        self.verdict_area.setMinimumHeight(140)
        self.verdict_area.hide()
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.clicked.connect(self._on_cancel)
        form = QFormLayout()
        form.addRow("Preset", self.preset)
        form.addRow("Base data", base_row)
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.warning)
        layout.addLayout(form)
        layout.addWidget(self.stage)
        layout.addWidget(self.time_left)
        layout.addWidget(self.bar)
        layout.addWidget(self.verdict_area, 1)
        layout.addLayout(buttons)
        self.resize(640, 300)
        self.start_button.setEnabled(reviewed >= MIN_REVIEWED)
        if reviewed < MIN_REVIEWED:
            self.stage.setText(f"Review at least {MIN_REVIEWED} documents before retraining.")

    def _refresh_summary(self) -> int:
        """Say what a retraining would learn from, relative to the model active now; returns the reviewed count."""
        active = self.registry.active()
        reviewed = self.repo.reviewed_documents()
        entities = sum(len(ents) for _, ents in reviewed)
        new = self.repo.reviewed_since(active.created) if active.created else len(reviewed)
        self.summary.setText(f"{len(reviewed)} reviewed documents with {entities} entities; {new} reviewed since "
                             f"the active model ({active.version}) was made.")
        empty = sum(not ents for _, ents in reviewed)
        if reviewed and entities == 0:
            self.warning.setText(f"Warning: your {len(reviewed)} reviewed documents hold no entities, so a retrained "
                                 "model learns nothing from them and cannot be checked. Mark entities before "
                                 "reviewing (or Start anyway).")
        elif reviewed and empty * 2 > len(reviewed):
            self.warning.setText(f"Note: {empty} of your {len(reviewed)} reviewed documents hold no entities.")
        self.warning.setVisible(bool(reviewed) and (entities == 0 or empty * 2 > len(reviewed)))
        return len(reviewed)

    def _on_browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Base data folder")
        if folder:
            self.base.setText(folder)

    def arguments(self) -> list[str]:
        return retrain_arguments(db=self.repo.path, models_dir=self.registry.dir, bundled=self.bundled,
                                 preset=self.preset.currentData(), base_data=self.base.text().strip() or None)

    def start(self) -> None:
        try:  # a retrain reads the database for minutes: keep a copy from just before
            make_backup(self.repo.path, reason="before-retrain")
        except StorageError as exc:
            self.stage.setText(f"Not started: no backup could be made before retraining. {exc}")
            return
        self.new_run()
        # each run's signals and timers are bound to its own process: nothing of a cancelled run (its
        # late output, its kill timer) can reach the next one
        process = self.process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        process.readyReadStandardOutput.connect(lambda: self._on_output(process))
        process.readyReadStandardError.connect(lambda: self._on_stderr(process))
        process.finished.connect(lambda code, status: self._on_finished(process, code, status))
        process.errorOccurred.connect(lambda error: self._on_process_error(process, error))
        process.start(self.command[0], self.command[1:] + self.arguments())

    def new_run(self) -> None:
        """A fresh state for a run: nothing of the previous run's verdict, errors or estimate remains."""
        self.report, self.errors, self.estimate = None, b"", TimeLeft()
        self.cancelling = False
        self.verdict.clear()
        self.verdict_area.hide()
        self.time_left.clear()
        self.start_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self.cancel_button.setEnabled(True)
        self.stage.setText("Starting the trainer…")
        self.bar.setRange(0, 0)

    def _on_stderr(self, process: QProcess) -> None:
        chunk = bytes(process.readAllStandardError())
        log_trainer_output(chunk)  # the whole of it goes to the log; the dialog keeps the end for its message
        if process is self.process:
            self.errors = (self.errors + chunk)[-4000:]

    def _on_output(self, process: QProcess) -> None:
        while process is self.process and process.canReadLine():
            self.handle_line(bytes(process.readLine()).decode("utf-8", "replace"))

    def handle_line(self, line: str) -> None:
        """One line of the trainer's stdout (lines that are no event are ignored)."""
        event = decode(line.strip())
        if event is not None:
            self.show_event(event)

    def show_event(self, event: Event) -> None:
        left = self.estimate.update(event)
        if isinstance(event, Result):
            self.report = event.report
            return
        if isinstance(event, Step) and event.steps:
            self.bar.setRange(0, event.steps)
            self.bar.setValue(event.step)
            self.stage.setText(f"{stage_words(event.stage)}… (step {event.step} of {event.steps})")
        elif isinstance(event, Stage):
            self.bar.setRange(0, 0)
            self.stage.setText(f"{stage_words(event.stage)}…")
        if isinstance(event, (Step, Stage, Heartbeat)) and event.stage != "data":
            self.time_left.setText(time_left_words(left).capitalize())

    def _on_cancel(self) -> None:
        process = self.process
        if process is not None and process.state() != QProcess.ProcessState.NotRunning:
            self.stage.setText("Cancelling…")
            self.cancel_button.setEnabled(False)
            self.cancelling = True
            # the trainer stops at its next step and removes its files; one still running after the grace is
            # killed. The timer holds this run's process, not "the current one": it can never hit a later run.
            process.write(CANCEL_LINE.encode() + b"\n")
            QTimer.singleShot(CANCEL_GRACE_MS, self, lambda: self._kill(process))
            return
        self.reject()

    @staticmethod
    def _kill(process: QProcess) -> None:
        if process.state() != QProcess.ProcessState.NotRunning:
            log.info("the trainer did not stop within %.0f s of Cancel: killed", CANCEL_GRACE_MS / 1000)
            process.kill()

    def _on_finished(self, process: QProcess, code: int, status) -> None:
        # the process object stays (a child of the dialog, one per run): its kill timer may still be pending
        if process is self.process:
            self._on_output(process)  # the last lines (the result) may still be waiting
            self.finish(code, crashed=status == QProcess.ExitStatus.CrashExit)

    def _on_process_error(self, process: QProcess, error) -> None:
        if error == QProcess.ProcessError.FailedToStart and process is self.process:  # no "finished" follows
            self.errors = f"error: the trainer could not be started ({process.errorString()})".encode()
            self.finish(ExitCode.FAILED)

    def finish(self, code: int, *, crashed: bool = False) -> None:
        """The trainer has exited with ``code`` (``crashed``: ended by that signal): show the verdict,
        "Cancelled" or why it failed, and log the exit in words."""
        words = exit_words(code, crashed=crashed)
        cancelled = code == ExitCode.CANCELLED and not crashed or self.cancelling and crashed
        log.log(logging.INFO if code == ExitCode.OK and not crashed or cancelled else logging.WARNING,
                "trainer exit status %s%s: %s", code, " (signal)" if crashed else "",
                "killed after Cancel, as asked" if cancelled and crashed else words)
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        self.time_left.clear()
        self.cancel_button.setText("Close")
        self.cancel_button.setEnabled(True)
        self.process = None
        if self.report is not None and code == ExitCode.OK and not crashed:
            self.stage.setText("Done: the model is active." if self.report.promoted else
                               "Done: the new model is kept as a version; the active model is unchanged.")
            self.verdict.setText(self.report.verdict())
            self.verdict_area.show()
            self._refresh_summary()  # "since the active model (...)" names the one active now
            self.finished_report.emit(self.report)
        elif cancelled:
            self.stage.setText("Cancelled. The active model and your corrections are unchanged.")
        else:
            message = failure_line(self.errors.decode("utf-8", "replace")) if not crashed else ""
            self.stage.setText("Retraining failed: " + (message or words[0].upper() + words[1:] + "."))
        self.start_button.setEnabled(True)
