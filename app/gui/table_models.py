"""Qt item models that adapt storage records for the document and entity tables."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtWidgets import QStyledItemDelegate

from engine.review import review_status
from engine.spans import ASSERTIONS
from engine.storage import StoredDocument, StoredEntity

ROOT = QModelIndex()
# A title made from a file (``notes/ward-4.xlsx row 12``, ``discharge-0412.txt``): what tells documents apart is
# its end, the file name and the row; the start of a long folder or file name is what can go.
FILE_TITLE = re.compile(r"\.\w{2,5}( row \d+)?$")


def elide_mode(title: str) -> Qt.TextElideMode:
    """How to shorten a title too wide for its column: a file's title keeps its end (file name and row), any
    other keeps both ends."""
    return Qt.TextElideMode.ElideLeft if FILE_TITLE.search(title) else Qt.TextElideMode.ElideMiddle


class TitleDelegate(QStyledItemDelegate):
    """Draws the title column shortened by :func:`elide_mode` (the hover tip shows it whole)."""

    def initStyleOption(self, option, index) -> None:  # noqa: N802 (Qt's name)
        super().initStyleOption(option, index)
        option.textElideMode = elide_mode(option.text)


@lru_cache(maxsize=4096)  # the list draws each visible date on every repaint
def local_time(stamp: str) -> str:
    """Stored UTC ISO time -> the clinic's local day and time, e.g. '25 Nov 19:09'."""
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%d %b %H:%M")
    except ValueError:
        return stamp


class _RecordTableModel(QAbstractTableModel):
    """Rows are storage records (each with an ``id``); subclasses name columns and cells."""

    COLUMNS: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.rows: list = []

    def rowCount(self, parent=ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=ROOT) -> int:
        return len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section]
        return None

    def row_of(self, record_id: int | None) -> int | None:
        return next((i for i, r in enumerate(self.rows) if r.id == record_id), None)

    def update_rows(self, rows: list) -> bool:
        """Take ``rows`` in place when they are the same records in the same order: only the rows that differ
        are redrawn (an edit changes one document, not the list). False: the caller resets the model."""
        if [r.id for r in rows] != [r.id for r in self.rows]:
            return False
        last = self.columnCount() - 1
        for i, (old, new) in enumerate(zip(self.rows, rows)):
            if old is not new:  # unchanged records are the very objects shown (comparing 2,000 took 35 ms)
                self.rows[i] = new
                self.dataChanged.emit(self.index(i, 0), self.index(i, last))
        return True


class DocumentTableModel(_RecordTableModel):
    COLUMNS = ("Title", "Date", "Status", "Conf.", "Entities")
    SAMPLES = ((), ("30 Dec 23:59",), ("unreviewed", "reviewed"), ("0.00",), ("0000",))  # the widest cells
    SORTS = ("title", "created", "status", "confidence", "entities")  # the engine's sort key of each column
    TIPS = ("The document's title (F2 renames it); hover a row for the whole title and the start of the text",
            "When the document was added (local time)",
            "Reviewed documents are used for retraining and the JSONL / CoNLL exports",
            "The model's confidence in its least certain entity: sort by it to check doubtful documents first",
            "How many entities the document holds")

    def set_rows(self, rows: list[StoredDocument]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return self.TIPS[section]
        return super().headerData(section, orientation, role)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        d = self.rows[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{d.title}\n\n{d.text[:300]}"
        conf = "" if d.min_confidence is None else f"{d.min_confidence:.2f}"
        return (d.title, local_time(d.created), "reviewed" if d.reviewed else "unreviewed", conf,
                d.entity_count)[index.column()]


class EntityTableModel(_RecordTableModel):
    COLUMNS = ("Text", "Type", "Conf.", "Status", "Assertion", "Start–End")
    SAMPLES = ((), ("Health Condition", "Specialist"), ("0.00",), ("suggested", "accepted", "manual"), ASSERTIONS,
               ("00000–00000",))
    TIPS = ("The entity's words", "Its type (a number key changes it)", "The model's confidence (empty: made by hand)",
            "suggested: the model's, not yet checked; accepted: checked; manual: made or changed by a person",
            "Is the finding there for this patient now: present, absent, possible, past, family or hypothetical"
            " (Shift+N changes it)",
            "Character offsets in the stored text")

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return self.TIPS[section]
        return super().headerData(section, orientation, role)

    def __init__(self) -> None:
        super().__init__()
        self.text = ""

    def set_rows(self, text: str, rows: list[StoredEntity]) -> None:
        self.beginResetModel()
        self.text, self.rows = text, rows
        self.endResetModel()

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        e = self.rows[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole:  # the whole entity, when the column elides it
            return f"{self.text[e.start:e.end]} — {e.label}"
        confidence = "" if e.confidence is None else f"{e.confidence:.2f}"
        return (self.text[e.start:e.end], e.label, confidence, review_status(e), e.assertion,
                f"{e.start}–{e.end}")[index.column()]
