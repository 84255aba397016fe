"""Model › Versions…: every model with its date and scores; activate (roll back to) or discard any one."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.gui.table_models import local_time
from engine.errors import ModelError
from engine.model_registry import ModelRegistry
from engine.trainer_contract import comparison_text, read_report


class VersionsDialog(QDialog):
    def __init__(self, parent, registry: ModelRegistry, on_activate) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model versions")
        self.registry, self.on_activate = registry, on_activate
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Version", "Created", "F1 on reviewed documents set aside", "Data", "Active"])
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        activate = QPushButton("Activate selected")
        activate.clicked.connect(self._on_activate)
        self.delete_button = QPushButton("Delete selected…")
        self.delete_button.clicked.connect(self._on_delete)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.delete_button)
        buttons.addStretch()
        buttons.addWidget(activate)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.resize(820, 320)
        self.refresh()

    def refresh(self) -> None:
        versions = self.registry.versions()
        active = self.registry.active().version
        self.table.setRowCount(len(versions))
        for row, v in enumerate(versions):
            report = read_report(v.report)
            scores = ("see the model card" if v.bundled else comparison_text(report.held_out) if report else "")
            data = (f"{report.counts.reviewed} reviewed, {report.counts.unreviewed} unreviewed documents"
                    if report else "")
            if v.damaged:  # listed, so the other versions stay reachable; activating it says why it can't
                scores, data = "damaged: cannot be used", v.damaged
            for col, text in enumerate([v.version, local_time(v.created) if v.created else "", scores, data,
                                        "✔" if v.version == active else ""]):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def selected_version(self) -> str | None:
        row = self.table.currentRow()
        return self.table.item(row, 0).text() if row >= 0 else None

    def _on_activate(self) -> None:
        version = self.selected_version()
        if version is not None:
            try:
                self.registry.activate(version)
            except ModelError as exc:
                QMessageBox.warning(self, "Cannot activate", str(exc))
                return
            self.on_activate()
            self.refresh()

    def _on_delete(self, *, confirm: bool = True) -> None:
        """Discard a retrained version (never the bundled or the active one)."""
        version = self.selected_version()
        if version is None:
            return
        if confirm and QMessageBox.question(
                self, "Delete model version", f"Delete model version {version}? Its files are removed; your "
                "documents and corrections are not touched.") != QMessageBox.StandardButton.Yes:
            return
        try:
            self.registry.delete(version)
        except ModelError as exc:
            QMessageBox.information(self, "Cannot delete", str(exc))
            return
        self.refresh()
