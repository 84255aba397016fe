"""Model › Versions…: every model with its date and scores; activate (roll back to) or discard any one."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.table_models import local_time
from engine.errors import ModelError
from engine.model_registry import ModelRegistry
from engine.trainer_contract import comparison_text, read_report, review_effort


@dataclass(frozen=True)
class Checked:
    """One retrained version's check: it and the model before it, scored on the same set-aside documents."""

    version: str
    documents: int
    f1: float
    f1_before: float | None
    effort: float | None  # review actions per 100 entities
    effort_before: float | None


class VersionsChart(QWidget):
    """Each retrained version's held-out figures over time: strict F1 (higher is better) and review actions per
    100 entities (lower is better), a filled dot for the version and a hollow one for the model it was
    compared with on the same documents, so each step shows what that retraining bought."""

    PANELS = (("Strict F1 on its check", "f1", "f1_before"),
              ("Review actions per 100 entities", "effort", "effort_before"))

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.points: list[Checked] = []
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_points(self, points: list[Checked]) -> None:
        self.points = points
        self.setVisible(bool(points))
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width = self.width() / len(self.PANELS)
        for n, (title, now, before) in enumerate(self.PANELS):
            self._panel(painter, QRectF(n * width + 8, 4, width - 16, self.height() - 8), title, now, before)

    def _panel(self, painter: QPainter, area: QRectF, title: str, now: str, before: str) -> None:
        text = self.palette().color(self.foregroundRole())
        painter.setPen(text)
        painter.drawText(area.adjusted(0, 0, 0, -area.height() + 18), Qt.AlignmentFlag.AlignLeft, title)
        plot = area.adjusted(36, 24, -8, -20)
        values = [v for p in self.points for v in (getattr(p, now), getattr(p, before)) if v is not None]
        if not values:
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "not measured")
            return
        low, high = min(values), max(values)
        pad = (high - low) * 0.15 or abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
        painter.setPen(QPen(QColor("#9a9a9a")))
        painter.drawRect(plot)
        painter.setPen(text)
        for value, align in ((high, Qt.AlignmentFlag.AlignTop), (low, Qt.AlignmentFlag.AlignBottom)):
            label = f"{value:.2f}" if high <= 1.5 else f"{value:.0f}"
            painter.drawText(QRectF(area.left(), plot.top() - 2, 34, plot.height() + 4),
                             align | Qt.AlignmentFlag.AlignRight, label)
        step = plot.width() / max(len(self.points), 1)

        def at(i: int, value: float) -> QPointF:
            return QPointF(plot.left() + step * (i + 0.5), plot.bottom() - (value - low) / (high - low) * plot.height())

        line = [at(i, getattr(p, now)) for i, p in enumerate(self.points) if getattr(p, now) is not None]
        painter.setPen(QPen(QColor("#1f6fb2"), 2))
        for a, b in zip(line, line[1:]):
            painter.drawLine(a, b)
        for i, p in enumerate(self.points):
            if getattr(p, before) is not None:  # the model it replaced, on the same documents
                painter.setPen(QPen(QColor("#1f6fb2"), 1.5))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(at(i, getattr(p, before)), 4, 4)
            if getattr(p, now) is not None:
                painter.setBrush(QColor("#1f6fb2"))
                painter.drawEllipse(at(i, getattr(p, now)), 4, 4)
            painter.setPen(text)
            painter.drawText(QRectF(plot.left() + step * i, plot.bottom() + 2, step, 16),
                             Qt.AlignmentFlag.AlignHCenter, p.version[-6:] if len(p.version) > 8 else p.version)


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
        self.chart = VersionsChart()
        self.chart.setObjectName("versions_chart")
        self.chart_note = QLabel("Filled dot: the version, on the reviewed documents set aside for its check; hollow "
                                 "dot: the model before it, on the same documents. Each check used other "
                                 "documents, so compare a dot with its hollow partner more than with its "
                                 "neighbours.")
        self.chart_note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.chart)
        layout.addWidget(self.chart_note)
        layout.addLayout(buttons)
        self.resize(820, 480)
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
        points = []
        for v in sorted(versions, key=lambda v: v.created or ""):  # oldest first: the chart reads left to right
            report = None if v.bundled or v.damaged else read_report(v.report)
            if report is not None and report.held_out.new.ok:
                new, before = report.held_out.new, report.held_out.active
                points.append(Checked(v.version, new.documents, new.f1, before.f1 if before.ok else None,
                                      review_effort(new), review_effort(before)))
        self.chart.set_points(points)
        self.chart_note.setVisible(bool(points))

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
