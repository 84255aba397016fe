"""Model › Versions…: every model with its date and scores; activate any one."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QHBoxLayout, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout

from engine.model_registry import ModelRegistry


class VersionsDialog(QDialog):
    def __init__(self, parent, registry: ModelRegistry, on_activate) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model versions")
        self.registry, self.on_activate = registry, on_activate
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Version", "Created", "Held-out F1 (new / previous)", "Data", "Active"])
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        activate = QPushButton("Activate selected")
        activate.clicked.connect(self._on_activate)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
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
            held = v.report.get("held_out", {})
            scores = (f"{held['new'].get('strict_micro_f1', 0):.3f} / {held['active'].get('strict_micro_f1', 0):.3f}"
                      if held else "bundled (see model card)")
            counts = v.report.get("counts", {})
            data = f"{counts.get('reviewed', 0)} reviewed, {counts.get('unreviewed', 0)} unreviewed" if counts else ""
            for col, text in enumerate([v.version, v.created[:16].replace("T", " "), scores, data,
                                        "✔" if v.version == active else ""]):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def _on_activate(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            version = self.table.item(row, 0).text()
            self.registry.activate(version)
            self.on_activate()
            self.refresh()
