"""The document text with entity highlights.

Storage keeps the text byte-exact and counts Unicode code points; Qt's
document counts UTF-16 units and rewrites some characters (see
:class:`OffsetMap`). Every offset crosses that boundary through one map, so
highlights and selections land on the stored characters.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right

from PySide6.QtCore import QEvent, QMimeData, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QLabel, QTextEdit, QToolTip

from app.gui.colors import ASSERTION_STYLES, color_for
from engine.keymap import keys_for
from engine.storage import StoredEntity
from engine.text import BIDI_CONTROLS, has_bidi_controls, split_words

LOW_CONFIDENCE = 0.6

# Code points that take two UTF-16 units, and the "\r\n" pairs Qt makes one paragraph break of.
_ASTRAL_OR_CRLF = re.compile("[\U00010000-\U0010ffff]|\r\n")


def _marker(ch: str) -> str:
    """A visible BMP stand-in for a direction control, pointing its way."""
    kind = unicodedata.bidirectional(ch)
    if kind in ("L", "LRE", "LRO", "LRI"):  # LRM is class L
        return "\u21e2"  # ⇢
    if kind in ("R", "AL", "RLE", "RLO", "RLI"):  # RLM is R, ALM is AL
        return "\u21e0"  # ⇠
    if kind == "FSI":
        return "\u21c4"  # ⇄
    return "\u21e4"  # ⇤ ends an embedding or isolate (PDF, PDI)


# One marker per code point, so showing them moves no offset.
BIDI_MARKERS = {ch: _marker(ch) for ch in sorted(BIDI_CONTROLS)}
_SHOW_BIDI = str.maketrans(BIDI_MARKERS)
MARKER_COLOR = "#b00020"


class OffsetMap:
    """Stored code-point offsets <-> positions in the document ``setPlainText`` makes of the text.

    Measured with PySide6's QTextDocument: each "\\r\\n" becomes ONE paragraph
    separator (its "\\n" has no position of its own), a leading U+FEFF is
    dropped, and characters outside the BMP take two units; lone "\\r", "\\n",
    U+2028, U+2029 and every other character take one. The shift is constant
    between those places, so lookups bisect precomputed arrays: O(log n).
    """

    def __init__(self, text: str) -> None:
        self.length = len(text)
        self._keys = [0]  # stored offsets from which the shift changes
        self._shifts = [0]  # Qt position minus stored offset, from that key on
        self._qt_keys = [0]  # the Qt position of each key (non-decreasing)
        shift = 0
        changes = [(1, -1)] if text.startswith("\ufeff") else []
        changes += [(m.end(), 1 if len(m.group()) == 1 else -1) for m in _ASTRAL_OR_CRLF.finditer(text)]
        for key, change in changes:
            shift += change
            self._keys.append(key)
            self._shifts.append(shift)
            self._qt_keys.append(key + shift)

    def to_qt(self, index: int) -> int:
        index = min(max(index, 0), self.length)
        return index + self._shifts[bisect_right(self._keys, index) - 1]

    def from_qt(self, position: int) -> int:
        """The last stored offset at or before Qt ``position``.

        Inside a surrogate pair that is the start of its character; at the
        paragraph break of a "\\r\\n" it is the offset after the pair.
        """
        k = bisect_right(self._qt_keys, position) - 1
        if k < 0:
            return 0
        index = position - self._shifts[k]
        if k + 1 < len(self._keys):
            index = min(index, self._keys[k + 1] - 1)
        return min(max(index, 0), self.length)


class EntityTextView(QTextEdit):
    entity_clicked = Signal(int)  # entity id, or -1 for none

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.setMouseTracking(True)
        self.setTabChangesFocus(True)  # Tab goes on to the entity table (the focus order list → text → table)
        font = self.font()
        font.setPointSize(max(14, font.pointSize()))  # Bangla conjuncts need size to be legible
        self.setFont(font)
        self.usual_point_size = font.pointSize()  # what View › Usual text size (Ctrl+0) returns to
        self.colors: dict[str, str] = {}
        self._text = ""
        self._offsets = OffsetMap("")
        self._markers: list[int] = []  # stored offsets of the direction controls shown as markers
        self._entities: list[StoredEntity] = []
        self._starts: list[int] = []
        self._word_starts: list[int] = []  # stored offsets of the words (and punctuation) of the text
        self._word_ends: list[int] = []
        self.selected_id: int | None = None
        # the window puts this in its status bar; it stays empty unless the document holds direction controls
        self.bidi_notice = QLabel()
        self.bidi_notice.setStyleSheet(f"color: {MARKER_COLOR}")

    @property
    def text(self) -> str:
        """The stored text shown, exactly as stored."""
        return self._text

    # -- offsets ----------------------------------------------------------
    def to_qt(self, index: int) -> int:
        return self._offsets.to_qt(index)

    def from_qt(self, position: int) -> int:
        return self._offsets.from_qt(position)

    def index_at(self, point: QPoint) -> int:
        """The stored offset under a point of the viewport."""
        return self.from_qt(self.cursorForPosition(point).position())

    # -- content ----------------------------------------------------------
    def show_document(self, text: str, entities: list[StoredEntity]) -> None:
        """Show ``text`` with each direction control as a visible marker (it would reorder the display)."""
        self._text = text
        self._offsets = OffsetMap(text)
        words = split_words(text)
        self._word_starts, self._word_ends = [w.start for w in words], [w.end for w in words]
        if has_bidi_controls(text):
            self._markers = [i for i, ch in enumerate(text) if ch in BIDI_CONTROLS]
            self.setPlainText(text.translate(_SHOW_BIDI))
            shown = " ".join(dict.fromkeys(BIDI_MARKERS[text[i]] for i in self._markers))
            count = len(self._markers)
            self.bidi_notice.setText(f"{count} hidden direction mark{'s' if count > 1 else ''}, shown as {shown}")
            self.bidi_notice.setToolTip("This text holds invisible characters that change the order in which "
                                        "other programs display it (\"0.5\" can show as \"5.0\"). They are "
                                        "stored and exported unchanged; hover a mark for its name.")
        else:
            self._markers = []
            self.setPlainText(text)
            self.bidi_notice.setText("")
            self.bidi_notice.setToolTip("")
        self.selected_id = None
        self.set_entities(entities)

    def set_entities(self, entities: list[StoredEntity], *, changed_only: bool = False) -> None:
        """Show ``entities`` on the text shown. ``changed_only``: the same text as before, so only the spans of
        entities that went or came are repainted (an Accept repaints one word, not the whole note)."""
        before = set(self._entities)
        self._entities = sorted(entities, key=lambda e: e.start)
        self._starts = [e.start for e in self._entities]
        if not changed_only:
            self._paint()
            return
        after = set(self._entities)
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        for e in before - after:  # back to plain text, then whatever covers it now is painted below
            cursor.setPosition(self.to_qt(e.start))
            cursor.setPosition(self.to_qt(e.end), QTextCursor.MoveMode.KeepAnchor)
            cursor.setCharFormat(QTextCharFormat())
            self._paint_markers(cursor, e.start, e.end)
        for e in self._entities:
            if e not in before or any(e.start < g.end and g.start < e.end for g in before - after):
                self._paint_entity(cursor, e)
        cursor.endEditBlock()

    def select_entity(self, entity_id: int | None) -> None:
        previous = self.entity_by_id(self.selected_id)
        self.selected_id = entity_id
        entity = self.entity_by_id(entity_id)
        cursor = QTextCursor(self.document())
        for e in (previous, entity):  # repaint just the two spans that changed
            if e is not None:
                self._paint_entity(cursor, e)
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

    def createMimeDataFromSelection(self) -> QMimeData:
        """Copy the stored characters (CRLF, direction controls), not what the screen shows."""
        data = QMimeData()
        span = self.selection()
        data.setText(self._text[span[0]:span[1]] if span else "")
        return data

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
            self._paint_entity(cursor, e)
        self._paint_markers(cursor, 0, len(self._text))
        cursor.endEditBlock()

    def _paint_entity(self, cursor: QTextCursor, e: StoredEntity) -> None:
        cursor.setPosition(self.to_qt(e.start))
        cursor.setPosition(self.to_qt(e.end), QTextCursor.MoveMode.KeepAnchor)
        cursor.setCharFormat(self._format(e))
        self._paint_markers(cursor, e.start, e.end)

    def _paint_markers(self, cursor: QTextCursor, start: int, end: int) -> None:
        """Colour the direction markers in [start, end) on top of whatever highlight they sit in."""
        fmt = QTextCharFormat()
        fmt.setForeground(QColor(MARKER_COLOR))
        fmt.setFontWeight(700)
        for i in self._markers[bisect_right(self._markers, start - 1):bisect_right(self._markers, end - 1)]:
            cursor.setPosition(self.to_qt(i))
            cursor.setPosition(self.to_qt(i + 1), QTextCursor.MoveMode.KeepAnchor)
            cursor.mergeCharFormat(fmt)

    def _format(self, e: StoredEntity) -> QTextCharFormat:
        fmt = QTextCharFormat()
        color = QColor(color_for(e.label, self.colors))
        if e.status == "suggested":  # still to check: half the colour, dotted underline in the type's colour
            fmt.setBackground(QColor.fromRgbF(*(0.5 + 0.5 * c for c in color.getRgbF()[:3])))
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.DotLine)
            fmt.setUnderlineColor(color.darker(160))
        else:  # accepted: the full colour; made by a person: also a line above
            fmt.setBackground(color)
            fmt.setFontOverline(e.source == "human")
        if e.confidence is not None and e.confidence < LOW_CONFIDENCE and e.status == "suggested":
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.DashUnderline)
            fmt.setUnderlineColor(QColor("#b00020"))
        style = ASSERTION_STYLES.get(e.assertion)
        if style is not None:  # not simply present: absent struck through, so no one reads it as found
            fmt.setFontStrikeOut(style["strike"])
            fmt.setFontItalic(style["italic"])
            # in Bangla the strike line falls on the headline (মাত্রা) and is easy to miss: colour the letters too
            fmt.setForeground(QColor(style["color"]))
        if e.id == self.selected_id:
            fmt.setFontWeight(700)
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.SingleUnderline)
            fmt.setUnderlineColor(QColor("#000000"))
        return fmt

    def format_at(self, index: int) -> QTextCharFormat:
        """The character format the document shows at code point ``index``."""
        cursor = QTextCursor(self.document())
        # a cursor reports the character before it: the one ending where this code point ends
        # (for the "\n" of a "\r\n", the paragraph break both share)
        cursor.setPosition(self.to_qt(index + 1))
        return cursor.charFormat()

    def tooltip_at(self, index: int) -> str:
        """What hovering code point ``index`` explains: a direction marker, an entity, or nothing."""
        parts = []
        if 0 <= index < len(self._text) and self._text[index] in BIDI_CONTROLS:
            ch = self._text[index]
            parts.append(f"Hidden direction mark U+{ord(ch):04X} {unicodedata.name(ch)}, shown here as "
                         f"{BIDI_MARKERS[ch]}: it is stored in the text and can make other programs "
                         "display the text in another order")
        entity = self.entity_at(index)
        if entity is not None:
            conf = "" if entity.confidence is None else f", confidence {entity.confidence:.0%}"
            parts.append(f"{entity.label} ({entity.source}, {entity.status}{conf})")
            if entity.assertion in ASSERTION_STYLES:
                parts.append(f"Finding {ASSERTION_STYLES[entity.assertion]['meaning']} — {keys_for('cycle_assertion')[0]} cycles it")
        return "\n".join(parts)

    # -- the caret, by word -------------------------------------------------
    def word_after(self, index: int) -> int:
        """The end of the first word ending after stored offset ``index`` (the text's end if none)."""
        k = bisect_right(self._word_ends, index)
        return self._word_ends[k] if k < len(self._word_ends) else len(self._text)

    def word_before(self, index: int) -> int:
        """The start of the last word starting before stored offset ``index`` (0 if none)."""
        k = bisect_right(self._word_starts, index - 1) - 1
        return self._word_starts[k] if k >= 0 else 0

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Left / Right move the caret a whole word (Bangla letters are several code points each, and an entity
        is whole words); with Shift they extend the selection by a word, so a number key can then make it an
        entity. Up, Down, Home, End and the rest behave as usual."""
        key = event.key()
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Right) and not event.modifiers() & (
                Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier):
            cursor = self.textCursor()
            here = self.from_qt(cursor.position())
            target = self.word_after(here) if key == Qt.Key.Key_Right else self.word_before(here)
            keep = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            cursor.setPosition(self.to_qt(target),
                               QTextCursor.MoveMode.KeepAnchor if keep else QTextCursor.MoveMode.MoveAnchor)
            self.setTextCursor(cursor)
            self.ensureCursorVisible()
            event.accept()
            return
        super().keyPressEvent(event)

    # -- events -----------------------------------------------------------
    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and not self.textCursor().hasSelection():
            entity = self.entity_at(self.index_at(event.position().toPoint()))
            self.entity_clicked.emit(entity.id if entity else -1)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            tip = self.tooltip_at(self.index_at(self.viewport().mapFromGlobal(event.globalPos())))
            if tip:
                QToolTip.showText(event.globalPos(), tip, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)
