"""Before an import: which sheet and which column of each spreadsheet hold the notes, one row per file.

The layouts come from :func:`engine.importing.table_layout` (read off the UI thread); choosing another
sheet reads that sheet's layout in the background too, so a large workbook never freezes the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.gui.background import run_in_background
from engine.formats.registry import Source
from engine.formats.tables import TableLayout
from engine.importing import TableChoice, table_layout

PREVIEW_WIDTH = 360  # pixels of the first note shown; the tooltip holds more
TOOLTIP_CHARS = 400


def without_path(message: str, path: Path) -> str:
    """A reader's message without the file name in front (the dialog shows the name beside it)."""
    prefix = str(path)
    if message.startswith(prefix + ": "):
        return message[len(prefix) + 2:]
    if message.startswith(prefix + ":"):  # "path:LINE: why"
        return "line " + message[len(prefix) + 1:]
    return message


@dataclass
class FileRow:
    """One spreadsheet's widgets and the layouts read so far, per sheet."""

    path: Path
    sheet_combo: QComboBox | None = None
    column_combo: QComboBox | None = None
    preview: QLabel | None = None
    hint: QLabel | None = None
    layouts: dict[str | None, TableLayout | str] = field(default_factory=dict)  # a str: why it cannot be read
    reading: str | None = None  # the sheet whose layout is being read
    first_sheet: str | None = None  # the reader's choice (None: a .csv, or a file that cannot be read)

    @property
    def sheet(self) -> str | None:
        return self.sheet_combo.currentData() if self.sheet_combo is not None else self.first_sheet


class ImportChoicesDialog(QDialog):
    """One row per spreadsheet of an import: file, sheet, text column, the chosen column's first text.

    ``layouts`` maps each file to its layout (the reader's choice of sheet and column preselected) or to why
    it cannot be read; such a file is listed, and the import reports it. OK imports with :meth:`choices`.
    ``sources`` holds the files as read for ``layouts``: another sheet is looked at without reading a file again.
    """

    def __init__(self, parent: QWidget | None, layouts: dict[Path, TableLayout | str], *,
                 sources: dict[Path, Source] | None = None) -> None:
        super().__init__(parent)
        self.sources = sources or {}
        self.setObjectName("import_choices")
        self.setWindowTitle("Import spreadsheets")
        self.rows: list[FileRow] = []
        intro = QLabel("Each row of these spreadsheets becomes one document. Choose, for each file, the sheet and "
                       "the column that hold the notes; the other columns are kept as the document's details.")
        intro.setWordWrap(True)
        grid_widget = QWidget()
        grid = QGridLayout(grid_widget)
        grid.setColumnStretch(3, 1)
        for column, name in enumerate(("File", "Sheet", "Text column", "First text")):
            heading = QLabel(f"<b>{name}</b>")
            grid.addWidget(heading, 0, column)
        for n, (path, layout) in enumerate(layouts.items()):
            self.rows.append(self._add_row(grid, n, path, layout))
        grid.setRowStretch(len(self.rows) + 1, 1)  # rows at the top, not spread over the height
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(grid_widget)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.setObjectName("import_choices_buttons")
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Import")
        self.ok_button.setObjectName("import_choices_ok")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setObjectName("import_choices_cancel")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(scroll, 1)
        lay.addWidget(self.buttons)
        self.resize(900, min(600, 160 + 56 * len(self.rows)))

    def _add_row(self, grid: QGridLayout, n: int, path: Path, layout: TableLayout | str) -> FileRow:
        row = FileRow(path)
        line = n + 1
        name = QLabel(path.name)
        name.setObjectName(f"file_{n}")
        name.setToolTip(str(path))
        row.hint = QLabel()
        row.hint.setObjectName(f"hint_{n}")
        row.hint.setStyleSheet("color: palette(dark)")
        cell = QVBoxLayout()
        cell.setSpacing(0)
        cell.addWidget(name)
        cell.addWidget(row.hint)
        grid.addLayout(cell, line, 0)
        if isinstance(layout, str):
            problem = QLabel(f"cannot be read: {layout}")
            problem.setObjectName(f"problem_{n}")
            problem.setWordWrap(True)
            grid.addWidget(problem, line, 1, 1, 3)
            row.layouts[None] = layout
            row.hint.hide()
            return row
        row.layouts[layout.sheet] = layout
        row.first_sheet = layout.sheet
        if len(layout.sheets) > 1:  # a choice only where there is one
            row.sheet_combo = QComboBox()
            row.sheet_combo.setObjectName(f"sheet_{n}")
            for sheet in layout.sheets:
                row.sheet_combo.addItem(sheet, sheet)
            row.sheet_combo.setCurrentIndex(layout.sheets.index(layout.sheet))
            row.sheet_combo.setToolTip("Preselected: the sheet with the longest texts")
            row.sheet_combo.currentIndexChanged.connect(partial(self._on_sheet_changed, row))
            grid.addWidget(row.sheet_combo, line, 1)
        else:
            grid.addWidget(QLabel(layout.sheet or "–"), line, 1)
        row.column_combo = QComboBox()
        row.column_combo.setObjectName(f"column_{n}")
        row.column_combo.currentIndexChanged.connect(partial(self._on_column_changed, row))
        grid.addWidget(row.column_combo, line, 2)
        row.preview = QLabel()
        row.preview.setObjectName(f"preview_{n}")
        row.preview.setTextFormat(Qt.TextFormat.PlainText)
        row.preview.setMinimumWidth(PREVIEW_WIDTH // 2)
        grid.addWidget(row.preview, line, 3)
        self._show_layout(row, layout)
        return row

    # -- a row's state ------------------------------------------------------------------
    def _show_layout(self, row: FileRow, layout: TableLayout | str) -> None:
        assert row.column_combo is not None and row.preview is not None and row.hint is not None
        row.column_combo.blockSignals(True)
        row.column_combo.clear()
        if isinstance(layout, str):
            row.column_combo.setEnabled(False)
            row.preview.setText(f"cannot be read: {layout}")
            row.preview.setToolTip("")
            row.hint.hide()
        else:
            row.column_combo.addItems(layout.header)
            row.column_combo.setCurrentIndex(layout.text_column)
            row.column_combo.setEnabled(True)
            row.hint.setText("" if layout.has_header else "no header row: the first row is a note too")
            row.hint.setVisible(not layout.has_header)
        row.column_combo.blockSignals(False)
        if not isinstance(layout, str):
            self._on_column_changed(row)

    def _on_column_changed(self, row: FileRow, _index: int = 0) -> None:
        layout = row.layouts.get(row.sheet)
        if not isinstance(layout, TableLayout) or row.preview is None or row.column_combo is None:
            return
        column = row.column_combo.currentIndex()
        first = next((r[column].strip() for r in layout.preview if column < len(r) and r[column].strip()), "")
        flat = " ".join(first.split())
        metrics = row.preview.fontMetrics()
        row.preview.setText(metrics.elidedText(flat, Qt.TextElideMode.ElideRight, PREVIEW_WIDTH) if flat
                            else "(no text in the first rows)")
        row.preview.setToolTip(flat[:TOOLTIP_CHARS] + ("…" if len(flat) > TOOLTIP_CHARS else ""))

    def _on_sheet_changed(self, row: FileRow, _index: int) -> None:
        sheet = row.sheet
        if sheet in row.layouts:
            row.reading = None
            self._show_layout(row, row.layouts[sheet])
            self._update_ok()
            return
        assert row.column_combo is not None and row.preview is not None
        row.reading = sheet
        row.column_combo.setEnabled(False)
        row.preview.setText("reading the sheet…")
        self._update_ok()  # no import with a column list that belongs to another sheet
        source = self.sources.get(row.path, row.path)
        run_in_background(self, lambda progress, cancelled: table_layout(source, sheet=sheet), title=None,
                          on_success=partial(self._on_sheet_read, row, sheet),
                          on_failure=lambda message: self._on_sheet_read(row, sheet, without_path(message, row.path)))

    def _on_sheet_read(self, row: FileRow, sheet: str, layout: TableLayout | str) -> None:
        row.layouts[sheet] = layout
        if row.reading == sheet:  # else the user has chosen yet another sheet meanwhile
            row.reading = None
            self._show_layout(row, layout)
            self._update_ok()

    def _update_ok(self) -> None:
        self.ok_button.setEnabled(all(row.reading is None for row in self.rows))

    # -- the answer -----------------------------------------------------------------------
    def choices(self) -> dict[Path, TableChoice]:
        """The sheet and column (by position: header names may repeat) of each file; a file that cannot be read
        is left to the import, which reports it."""
        out = {}
        for row in self.rows:
            layout = row.layouts.get(row.sheet)
            if isinstance(layout, TableLayout) and row.column_combo is not None:
                out[row.path] = TableChoice(column=row.column_combo.currentIndex(), sheet=layout.sheet)
            elif row.sheet is not None:  # a sheet that cannot be read: the import says why, never reads another
                out[row.path] = TableChoice(sheet=row.sheet)
        return out
