"""Model › Retrain…: runs ``python -m trainer retrain`` out of process and streams its progress."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from PySide6.QtCore import QProcess, QTimer, Signal
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
    QVBoxLayout,
)

from engine.backup import make_backup
from engine.errors import StorageError
from engine.model_registry import ModelRegistry
from engine.storage import Repository
from engine.trainer_contract import ERROR_PREFIX

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


def trainer_command() -> list[str]:
    """How to start the trainer: the frozen app runs itself with --trainer, else ``python -m trainer``."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--trainer"]
    return [sys.executable, "-m", "trainer"]


class RetrainDialog(QDialog):
    finished_report = Signal(dict)

    def __init__(self, parent, repo: Repository, registry: ModelRegistry, bundled: Path) -> None:
        super().__init__(parent)
        self.setWindowTitle("Retrain the model")
        self.setMinimumWidth(520)
        self.repo, self.registry, self.bundled = repo, registry, bundled
        self.process: QProcess | None = None
        self.report: dict | None = None
        active = registry.active()
        reviewed = repo.reviewed_documents()
        entities = sum(len(ents) for _, ents in reviewed)
        new = repo.reviewed_since(active.created) if active.created else len(reviewed)
        self.summary = QLabel(f"{len(reviewed)} reviewed documents with {entities} entities; {new} reviewed since "
                              f"the active model ({active.version}) was made.")
        self.summary.setWordWrap(True)
        self.preset = QComboBox()
        self.preset.addItem("Quick (about 10–20 minutes)", "quick")
        self.preset.addItem("Full (up to 90 minutes; use with base data)", "full")
        self.base = QLineEdit(placeholderText="optional: folder with Bangla-HealthNER .json files")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse)
        base_row = QHBoxLayout()
        base_row.addWidget(self.base)
        base_row.addWidget(browse)
        self.stage = QLabel("Not started")
        self.stage.setWordWrap(True)  # the decision is a sentence or two
        self.bar = QProgressBar()
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
        layout.addLayout(form)
        layout.addWidget(self.stage)
        layout.addWidget(self.bar)
        layout.addLayout(buttons)
        self.start_button.setEnabled(len(reviewed) >= 10)
        if len(reviewed) < 10:
            self.stage.setText("Review at least 10 documents before retraining.")

    def _on_browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Base data folder")
        if folder:
            self.base.setText(folder)

    def arguments(self) -> list[str]:
        args = ["retrain", "--db", str(self.repo.path), "--out", str(self.registry.dir), "--bundled",
                str(self.bundled), "--preset", self.preset.currentData(), "--json-progress"]
        if self.base.text().strip():
            args += ["--base-data", self.base.text().strip()]
        return args

    def start(self) -> None:
        try:  # a retrain reads the database for minutes: keep a copy from just before
            make_backup(self.repo.path, reason="before-retrain")
        except StorageError as exc:
            self.stage.setText(f"Not started: no backup could be made before retraining. {exc}")
            return
        command = trainer_command()
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        self.process.readyReadStandardOutput.connect(self._on_output)
        self.process.finished.connect(self._on_finished)
        self.started = time.monotonic()
        self.errors = b""
        self.process.readyReadStandardError.connect(self._on_stderr)
        self.process.start(command[0], command[1:] + self.arguments())
        self.start_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self.stage.setText("Starting the trainer…")
        self.bar.setRange(0, 0)

    def _on_stderr(self) -> None:
        self.errors = (self.errors + bytes(self.process.readAllStandardError()))[-4000:]

    def _on_output(self) -> None:
        while self.process is not None and self.process.canReadLine():
            line = bytes(self.process.readLine()).decode("utf-8", "replace").strip()
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self.show_event(event)

    def show_event(self, event: dict) -> None:
        stage = event.get("stage", "")
        if stage == "done":
            self.report = event["report"]
            return
        if "steps" in event:
            self.bar.setRange(0, event["steps"])
            self.bar.setValue(event["step"])
            eta = event.get("eta_s", 0)
            self.stage.setText(f"{stage}: epoch {event.get('epoch')}, step {event['step']}/{event['steps']}, "
                               f"loss {event.get('loss')}, about {eta // 60} min {eta % 60} s left")
        else:
            self.bar.setRange(0, 0)
            self.stage.setText({"data": "Preparing the data…", "teacher": "Fine-tuning the teacher…",
                                "distill": "Distilling the student…", "quantize": "Quantizing to INT8…",
                                "evaluate": "Comparing with the active model…"}.get(stage, stage))

    def _on_cancel(self) -> None:
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            self.stage.setText("Cancelling…")
            self.cancel_button.setEnabled(False)
            # the trainer stops at its next step and removes its files; one that doesn't answer within
            # 20 s is killed (its leftovers are removed at the next start)
            self.process.write(b"cancel\n")
            QTimer.singleShot(20000, self, self._kill_if_running)
            return
        self.reject()

    def _kill_if_running(self) -> None:
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()

    def _on_finished(self, code: int, _status) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        self.cancel_button.setText("Close")
        self.cancel_button.setEnabled(True)
        self.process = None
        if self.report is not None:
            self.stage.setText(self.report["decision"])
            self.finished_report.emit(self.report)
        elif code == 3:
            self.stage.setText("Cancelled. The active model and your corrections are unchanged.")
        else:
            message = failure_line(self.errors.decode("utf-8", "replace"))
            self.stage.setText("Retraining failed: " + (message or f"exit code {code}"))
        self.start_button.setEnabled(True)
