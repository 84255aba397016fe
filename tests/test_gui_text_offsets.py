"""The text view's offsets: stored text stays exact, the screen shows the stored characters.

Qt's document differs from the stored text ("\\r\\n" is one paragraph break,
astral characters are two units, a leading BOM is dropped); these tests read
what Qt really holds, so they also catch a Qt release that changes it.
"""

from __future__ import annotations

import random

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QGuiApplication, QHelpEvent, QTextCursor
from PySide6.QtWidgets import QApplication, QToolTip

from app.gui.text_view import BIDI_MARKERS, MARKER_COLOR, EntityTextView, OffsetMap
from engine.storage import StoredEntity

CRLF_NOTE = ("রোগী: করিম\r\nবয়স: ৪৫ বছর\r\nসমস্যা: তিন দিন ধরে জ্বর ও মাথা ব্যথা\r\n"
             "ওষুধ: নাপা ৫০০ মিগ্রা দিনে ৩ বার খাবেন\r\n")
# every way the document can differ, mixed: BOM, CRLF, lone CR, LF, CR CR LF, U+2028/9, astral, bidi, joiners
MIXED = ("\ufeffজ্বর\r\nনাপা\rকাশি\n😷 ব্যথা\u2028মাথা\u2029\r\r\n𝐀𝐁 ডায়াবেটিস\r\n"
         "\u202e0.5\u202c g র‍্যাব\u200cটা 👍🏽\r\n\r\nশেষ")


def qt_chars(view: EntityTextView) -> str:
    """What Qt's document holds, unit by unit (without its final paragraph break)."""
    doc = view.document()
    return "".join(doc.characterAt(p) for p in range(doc.characterCount() - 1))


def highlighted_runs(view: EntityTextView) -> list[tuple[int, int]]:
    """Qt ranges painted with a background, read from the document's own formats."""
    doc, runs, start = view.document(), [], None
    cursor = QTextCursor(doc)
    for p in range(doc.characterCount()):
        painted = False
        if doc.characterAt(p) != "\u2029":  # at a block start a cursor reports the next character
            cursor.setPosition(p + 1)
            painted = cursor.charFormat().background().style() != Qt.BrushStyle.NoBrush
        if painted and start is None:
            start = p
        elif not painted and start is not None:
            runs.append((start, p))
            start = None
    return runs


def on_screen(view: EntityTextView, words: str) -> QTextCursor:
    """Select ``words`` the way a user sees them: found in Qt's document, not through the view's map."""
    cursor = view.document().find(words)
    assert not cursor.isNull()
    view.setTextCursor(cursor)
    return cursor


def expected_units(text: str) -> str:
    """The document setPlainText should make of ``text`` (markers shown), stated independently of OffsetMap."""
    shown = text.translate(str.maketrans(BIDI_MARKERS))
    shown = shown[1:] if shown.startswith("\ufeff") else shown
    shown = shown.replace("\r\n", "\u2029").replace("\r", "\u2029").replace("\n", "\u2029")
    units = shown.encode("utf-16-le")
    return "".join(chr(int.from_bytes(units[i:i + 2], "little")) for i in range(0, len(units), 2))


def test_crlf_note_imported_highlights_and_corrections_land_on_the_stored_words(qtbot, window, tmp_path):
    note = tmp_path / "note.txt"
    note.write_bytes(CRLF_NOTE.encode("utf-8"))
    window.import_files([note])
    qtbot.waitUntil(lambda: window.repo.counts()["documents"] == 1, timeout=30000)
    qtbot.waitUntil(lambda: window.view.text == CRLF_NOTE, timeout=10000)
    doc = window.repo.documents()[0]
    assert doc.text == CRLF_NOTE  # stored byte-exact
    view, ents = window.view, window.repo.entities(doc.id)
    third_line = CRLF_NOTE.index("সমস্যা")
    assert any(e.start > third_line for e in ents)  # the shift grows per line: test where it is largest

    # every highlight covers exactly its stored entity's text, and nothing else is painted
    qt = qt_chars(view)
    assert sorted(qt[a:b] for a, b in highlighted_runs(view)) == sorted(CRLF_NOTE[e.start:e.end] for e in ents)
    assert [(view.from_qt(a), view.from_qt(b)) for a, b in highlighted_runs(view)] == \
        sorted((e.start, e.end) for e in ents)

    # clicking the middle of an entity on line 3 or 4 selects that entity
    far = max(ents, key=lambda e: e.start)
    middle = QTextCursor(view.document())
    middle.setPosition(view.to_qt((far.start + far.end) // 2))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.cursorRect(middle).center())
    assert view.selected_id == far.id
    assert view.tooltip_at(view.index_at(view.cursorRect(middle).center())).startswith(far.label)

    # select "নাপা" on screen and add it as Medicine: exactly those stored characters
    for e in ents:
        if e.start < CRLF_NOTE.index("নাপা") + 4 and e.end > CRLF_NOTE.index("নাপা"):
            window.repo.delete(e.id)
    window._refresh_entities()
    on_screen(view, "নাপা")
    qtbot.keyClick(window, Qt.Key.Key_1 + window.types.index("Medicine"))
    added = [e for e in window.repo.entities(doc.id) if e.source == "human"]
    assert [(CRLF_NOTE[e.start:e.end], e.label) for e in added] == [("নাপা", "Medicine")]
    assert view.format_at(added[0].start).background().style() != Qt.BrushStyle.NoBrush
    assert view.format_at(added[0].start - 1).background().style() == Qt.BrushStyle.NoBrush

    # resize it to a wider screen selection
    window._on_entity_clicked(added[0].id)
    on_screen(view, "নাপা ৫০০")
    for e in window.repo.entities(doc.id):  # make room if the model tagged the dose
        if e.id != view.selected_id and e.start >= added[0].end and e.start < added[0].end + 4:
            window.repo.delete(e.id)
    window._refresh_entities()
    on_screen(view, "নাপা ৫০০")
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    human = [CRLF_NOTE[e.start:e.end] for e in window.repo.entities(doc.id) if e.source == "human"]
    assert human == ["নাপা ৫০০"]


def test_mixed_text_maps_every_code_point_to_what_qt_shows(qtbot):
    view = EntityTextView()
    qtbot.addWidget(view)
    words = ["জ্বর", "নাপা", "কাশি", "😷 ব্যথা", "𝐀𝐁 ডায়াবেটিস", "0.5", "শেষ"]
    spans = [(MIXED.index(w), MIXED.index(w) + len(w)) for w in words]
    view.show_document(MIXED, [StoredEntity(id=n, document_id=1, start=s, end=e, label="Symptom",
                                            source="model", status="suggested", confidence=0.9, model_version=None)
                               for n, (s, e) in enumerate(spans)])
    qt = qt_chars(view)
    assert qt == expected_units(MIXED)
    dropped = {0} | {i + 1 for i in range(len(MIXED) - 1) if MIXED[i:i + 2] == "\r\n"}
    for i in range(len(MIXED) + 1):
        if i not in dropped:
            assert view.from_qt(view.to_qt(i)) == i
    for s, e in spans:  # the highlight's on-screen text is the stored entity's text
        shown = MIXED[s:e].translate(str.maketrans(BIDI_MARKERS))
        assert qt[view.to_qt(s):view.to_qt(e)] == expected_units(shown)
        assert view.entity_at(view.from_qt(view.to_qt(s))).start == s
    painted = [(view.from_qt(a), view.from_qt(b)) for a, b in highlighted_runs(view)]
    assert painted == spans
    # a position inside a surrogate pair rounds to its character; the break of a "\r\n" to after the pair
    emoji = MIXED.index("😷")
    assert view.from_qt(view.to_qt(emoji) + 1) == emoji
    crlf = MIXED.index("\r\n")
    assert view.to_qt(crlf + 1) == view.to_qt(crlf + 2) and view.from_qt(view.to_qt(crlf + 2)) == crlf + 2
    assert view.from_qt(10**6) == len(MIXED) and view.to_qt(10**6) == len(qt)


def test_offset_map_agrees_with_qt_on_random_text(qtbot):
    view = EntityTextView()
    qtbot.addWidget(view)
    alphabet = ["a", "ক", "\r", "\n", "\r\n", "\u2028", "\u2029", "😷", "\ufeff", "\u202e", "\u200c", " ", "\x00"]
    rng = random.Random(10)
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 15)))
        view.show_document(text, [])
        assert qt_chars(view) == expected_units(text), repr(text)
        offsets = OffsetMap(text)
        qt = [offsets.to_qt(i) for i in range(len(text) + 1)]
        assert qt == sorted(qt) and qt[-1] == len(qt_chars(view))
        for p in range(len(qt_chars(view)) + 1):  # the last offset at or before p
            assert offsets.from_qt(p) == max(i for i in range(len(text) + 1) if qt[i] <= p)


def test_direction_controls_are_shown_one_marker_each(qtbot):
    view = EntityTextView()
    qtbot.addWidget(view)
    text = "\u202e0.5\u202c g every \u202e12\u202c h, \u2066x\u2069 \u200fy\u200e \u2067z\u2069 \u2068w\u2069 " \
           "\u202aa\u202c \u202bb\u202c \u202dc\u202c \u061cd র‍্যাব\u200cটা"
    entity = StoredEntity(id=1, document_id=1, start=0, end=5, label="Dosage", source="model", status="suggested",
                          confidence=0.9, model_version=None)
    view.show_document(text, [entity])
    shown = view.toPlainText()
    assert shown.startswith("⇠0.5⇤ g every ⇠12⇤ h, ⇢x⇤ ⇠y⇢ ⇠z⇤ ⇄w⇤ ⇢a⇤ ⇠b⇤ ⇢c⇤ ⇠d")
    assert len(shown) == len(text) and "\u200c" in shown and "\u200d" in shown  # joiners: Bangla spelling
    assert not set(shown) & set(BIDI_MARKERS)
    marker = text.index("\u202c")  # inside the entity: red marker on the entity's background
    fmt = view.format_at(marker)
    assert fmt.foreground().color() == QColor(MARKER_COLOR)
    assert fmt.background().style() != Qt.BrushStyle.NoBrush
    assert view.format_at(text.index("\u2066")).foreground().color() == QColor(MARKER_COLOR)
    assert view.format_at(1).foreground().color() != QColor(MARKER_COLOR)
    view.select_entity(1)  # repainting the entity keeps its markers
    assert view.format_at(marker).foreground().color() == QColor(MARKER_COLOR)
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in view.tooltip_at(0) and "Dosage" in view.tooltip_at(0)
    assert view.tooltip_at(2) == "Dosage (model, suggested, confidence 90%)"
    assert view.tooltip_at(text.index("র")) == ""
    # copying gives the stored characters, not the markers
    view.selectAll()
    view.copy()
    assert QGuiApplication.clipboard().text() == text
    view.show_document(CRLF_NOTE, [])
    end = view.document().find("নাপা").selectionEnd()
    cursor = QTextCursor(view.document())
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    view.setTextCursor(cursor)
    view.copy()
    assert QGuiApplication.clipboard().text() == CRLF_NOTE[:CRLF_NOTE.index("নাপা") + 4]


def test_window_says_while_a_document_holds_direction_marks(qtbot, window):
    QGuiApplication.clipboard().setText("ডোজ \u202e0.5\u202c মিগ্রা")
    qtbot.keyClick(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    notice = window.view.bidi_notice
    qtbot.waitUntil(lambda: notice.text() == "2 hidden direction marks, shown as ⇠ ⇤", timeout=20000)
    assert notice.isVisible() and notice.parent() is window.statusBar()
    assert window.view.toPlainText() == "ডোজ ⇠0.5⇤ মিগ্রা"
    # the text shows at once; it is stored when its tagging is done
    qtbot.waitUntil(lambda: len(window.repo.documents()) == 1, timeout=20000)
    assert window.repo.documents()[0].text == "ডোজ \u202e0.5\u202c মিগ্রা"
    # hovering a marker explains it
    view = window.view
    cursor = QTextCursor(view.document())
    cursor.setPosition(view.to_qt(4))
    point = view.cursorRect(cursor).center()
    point.setX(point.x() + 2)  # just right of the boundary: over the marker
    assert view.index_at(point) == 4
    QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, point, view.viewport().mapToGlobal(point)))
    assert "RIGHT-TO-LEFT OVERRIDE" in QToolTip.text()
    QGuiApplication.clipboard().setText("ডোজ 0.5 মিগ্রা")  # a document without them clears the notice
    qtbot.keyClick(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.view.text == "ডোজ 0.5 মিগ্রা", timeout=20000)
    assert notice.text() == ""
