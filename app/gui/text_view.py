"""The document text with entity highlights.

Offsets in storage count Unicode code points; Qt counts UTF-16 units. The
view converts at its boundary so emoji and other astral characters never
shift a highlight.
"""

from __future__ import annotations

from bisect import bisect_right

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QTextEdit, QToolTip

from app.gui.colors import color_for
from engine.storage import StoredEntity

LOW_CONFIDENCE = 0.6


class EntityTextView(QTextEdit):
    entity_clicked = Signal(int)  # entity id, or -1 for none

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.setMouseTracking(True)
        font = self.font()
        font.setPointSize(max(14, font.pointSize()))  # Bangla conjuncts need size to be legible
        self.setFont(font)
        self.colors: dict[str, str] = {}
        self._entities: list[StoredEntity] = []
        self._starts: list[int] = []
        self._astral: list[int] = []  # code-point indices of characters outside the BMP
        self.selected_id: int | None = None

    # -- offsets ----------------------------------------------------------
    def to_qt(self, index: int) -> int:
        return index + bisect_right(self._astral, index - 1)

    def from_qt(self, position: int) -> int:
        index = position
        while index > 0 and self.to_qt(index) > position:
            index -= 1
        return index

    # -- content ----------------------------------------------------------
    def show_document(self, text: str, entities: list[StoredEntity]) -> None:
        self._astral = [i for i, ch in enumerate(text) if ord(ch) > 0xFFFF]
        self.setPlainText(text)
        self.selected_id = None
        self.set_entities(entities)

    def set_entities(self, entities: list[StoredEntity]) -> None:
        self._entities = sorted(entities, key=lambda e: e.start)
        self._starts = [e.start for e in self._entities]
        self._paint()

    def select_entity(self, entity_id: int | None) -> None:
        previous = self.entity_by_id(self.selected_id)
        self.selected_id = entity_id
        entity = self.entity_by_id(entity_id)
        for e in (previous, entity):  # repaint just the two spans that changed
            if e is not None:
                cursor = QTextCursor(self.document())
                cursor.setPosition(self.to_qt(e.start))
                cursor.setPosition(self.to_qt(e.end), QTextCursor.MoveMode.KeepAnchor)
                cursor.setCharFormat(self._format(e))
        if entity is not None:
            cursor = self.textCursor()
            cursor.setPosition(self.to_qt(entity.start))
            self.setTextCursor(cursor)
            self.ensureCursorVisible()

    def entity_by_id(self, entity_id: int | None) -> StoredEntity | None:
        return next((e for e in self._entities if e.id == entity_id), None)

    def entity_at(self, index: int) -> StoredEntity | None:
        k = bisect_right(self._starts, index) - 1
        if k >= 0 and self._entities[k].start <= index < self._entities[k].end:
            return self._entities[k]
        return None

    def selection(self) -> tuple[int, int] | None:
        cursor = self.textCursor()
        if not cursor.hasSelection():
            return None
        return self.from_qt(cursor.selectionStart()), self.from_qt(cursor.selectionEnd())

    def _paint(self) -> None:
        """Write highlights into the document's own character formats.

        Unlike ``ExtraSelection``s, which Qt re-walks on every paint, formats
        are laid out once, so scrolling stays smooth with hundreds of entities.
        """
        document = self.document()
        document.setUndoRedoEnabled(False)
        cursor = QTextCursor(document)
        cursor.beginEditBlock()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.setCharFormat(QTextCharFormat())
        for e in self._entities:
            cursor.setPosition(self.to_qt(e.start))
            cursor.setPosition(self.to_qt(e.end), QTextCursor.MoveMode.KeepAnchor)
            cursor.setCharFormat(self._format(e))
        cursor.endEditBlock()

    def _format(self, e: StoredEntity) -> QTextCharFormat:
        fmt = QTextCharFormat()
        color = QColor(color_for(e.label, self.colors))
        if e.status == "suggested":
            color = color.lighter(108)
        fmt.setBackground(color)
        if e.confidence is not None and e.confidence < LOW_CONFIDENCE and e.status == "suggested":
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.DashUnderline)
            fmt.setUnderlineColor(QColor("#b00020"))
        if e.id == self.selected_id:
            fmt.setFontWeight(700)
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.SingleUnderline)
            fmt.setUnderlineColor(QColor("#000000"))
        return fmt

    def format_at(self, index: int) -> QTextCharFormat:
        """The character format the document shows at code point ``index``."""
        cursor = QTextCursor(self.document())
        cursor.setPosition(self.to_qt(index) + 1)
        return cursor.charFormat()

    # -- events -----------------------------------------------------------
    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and not self.textCursor().hasSelection():
            index = self.from_qt(self.cursorForPosition(event.position().toPoint()).position())
            entity = self.entity_at(index)
            self.entity_clicked.emit(entity.id if entity else -1)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            index = self.from_qt(self.cursorForPosition(self.viewport().mapFromGlobal(event.globalPos())).position())
            entity = self.entity_at(index)
            if entity is not None:
                conf = "" if entity.confidence is None else f", confidence {entity.confidence:.0%}"
                QToolTip.showText(event.globalPos(), f"{entity.label} ({entity.source}, {entity.status}{conf})", self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)
