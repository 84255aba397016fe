"""The main window: document list, highlighted text, entity table, legend, menus.

Widgets hold no domain state: every edit goes to the :class:`Repository`
(which records it for undo) and the window re-reads what it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from html import escape
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QItemSelectionModel, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.gui import help as help_pages
from app.gui import keymap
from app.gui.background import asked_on_ui_thread, run_in_background
from app.gui.colors import ASSERTION_STYLES, color_for, type_colors
from app.gui.flow_layout import FlowLayout
from app.gui.import_dialog import ImportChoicesDialog, without_path
from app.gui.suggestions import SuggestionLevels
from app.gui.table_models import DocumentTableModel, EntityTableModel, TitleDelegate, local_time
from app.gui.text_view import EntityTextView
from engine.errors import MederError, StorageError
from engine.exporting import export
from engine.formats import registry as file_formats
from engine.formats.registry import Source
from engine.formats.tables import TableLayout
from engine.import_store import ImportLog, OnExisting, import_and_store
from engine.importing import (
    MAX_DOCUMENT_CHARS,
    PendingDocument,
    TableChoice,
    is_annotated_file,
    is_table,
    table_layout,
)
from engine.model_registry import ModelRegistry
from engine.progress import check_cancelled
from engine.review import LEAST_CONFIDENT_FIRST, ListView, keeps_place, neighbour, visible
from engine.storage import Change, NewDocument, Repository, StoredDocument, StoredEntity
from engine.tagger import Tagger

# The pane with the keyboard focus is framed in the highlight colour (the same width either way: nothing moves).
FOCUS_FRAME = ("PANE { border: 2px solid palette(midlight); } "
               "PANE:focus { border: 2px solid palette(highlight); }")


class MainWindow(QMainWindow):
    visible_tagged = Signal(int, object)  # (paste number, entities of its visible part): see add_texts
    _pastes = 0  # pastes so far; a newer one makes an older one's preview stale

    def __init__(self, repo: Repository, registry: ModelRegistry, *, model_dir: Path | None = None) -> None:
        super().__init__()
        self.repo = repo
        self.registry = registry
        self.fixed_model = model_dir  # --model: use this folder, ignore the active version
        self.model_dir = model_dir or registry.active().student
        self.tagger: Tagger | None = None
        self.types: list[str] = []
        self.legend_others: list[str] = []  # the open document's types the model doesn't know, in the legend
        self.current_id: int | None = None
        self.list_view = self._remembered_sort()  # sort and filters of the document list: what the review keys follow
        self._stored: dict[int, StoredDocument] = {}  # the documents the search matches, as last read
        # pasted, tagged documents the database refused (full disk, locked...): kept for File › Retry saving, with
        # their model version
        self.unsaved: list[tuple[list[PendingDocument], str]] = []
        # single edits the database refused, in the order made: File › Retry saving replays them on what is stored
        self.unsaved_edits: list[tuple[str, Callable[[], Change | None]]] = []
        self.import_choices_dialog: ImportChoicesDialog | None = None
        self.setWindowTitle("Bangla MedER")
        self.resize(1280, 760)
        self._build_widgets()
        self._restore_columns()
        self._build_menus()
        self.least_confident.setChecked(self.list_view == LEAST_CONFIDENT_FIRST)
        self._apply_font_size(int(self.repo.setting("font_size", "0") or 0))
        self.refresh_documents()
        last = self.repo.setting("last_document")
        if last and last.isdigit() and self.repo.exists(int(last)):  # reopen what was being worked on
            self.show_document(int(last))
            self.refresh_documents()  # selects its row
        elif self.documents.rows:  # else the top of the list
            self.show_document(self.documents.rows[0].id)
            self.refresh_documents()
        self._load_model()
        # start with focus away from the filter box, so a first Ctrl+V pastes a new document
        # instead of filtering the (empty) list
        self.document_table.setFocus()
        self._show_notices()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        """The filter box lets Undo and Redo through to the window: a line edit would take Ctrl+Z for its own
        typing and bring back an old filter, where the user meant to undo the last edit."""
        if watched is self.filter and event.type() == QEvent.Type.ShortcutOverride:
            pressed = event.keyCombination().toCombined()
            if any(QKeySequence(k).matches(QKeySequence(pressed)) == QKeySequence.SequenceMatch.ExactMatch
                   for k in (*keymap.keys_for("undo"), *keymap.keys_for("redo"))):
                event.ignore()  # not the line edit's: the window's shortcut runs
                return True
        return super().eventFilter(watched, event)

    def _show_notices(self) -> None:
        """What opening the database changed (a migration, a missing backup): said once, without blocking."""
        if not self.repo.notices:
            return
        box = QMessageBox(QMessageBox.Icon.Information, "Bangla MedER", "\n\n".join(self.repo.notices), parent=self)
        box.setObjectName("storage_notices")
        self.repo.notices = []
        box.open()

    # -- construction -----------------------------------------------------
    def _build_widgets(self) -> None:
        self.filter = QLineEdit(placeholderText="Filter documents…")
        self.filter.textChanged.connect(lambda _: self.refresh_documents())
        self.filter.installEventFilter(self)  # Ctrl+Z there undoes the last edit, as everywhere in the window
        self.documents = DocumentTableModel()
        self.document_table = self._table(self.documents)
        self.document_table.selectionModel().currentRowChanged.connect(self._on_document_row)
        self.document_table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # titles keep both ends
        self.document_table.setItemDelegateForColumn(0, TitleDelegate(self.document_table))  # files: name and row
        header = self.document_table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.sectionClicked.connect(self._on_sort_clicked)
        self.document_table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.document_table.customContextMenuRequested.connect(self._on_document_menu)
        self.status_filter = QComboBox()
        self.status_filter.addItems(["All documents", "Unreviewed", "Reviewed"])
        self.status_filter.setToolTip("Show only unreviewed or reviewed documents")
        self.status_filter.currentIndexChanged.connect(self._on_list_filter)
        self.type_filter = QComboBox()
        self.type_filter.addItem("Any entity type")
        self.type_filter.setToolTip("Show only documents holding an entity of this type")
        self.type_filter.currentIndexChanged.connect(self._on_list_filter)
        filters = QHBoxLayout()
        filters.addWidget(self.status_filter)
        filters.addWidget(self.type_filter)
        self.details = QLabel()
        self.details.setObjectName("document_details")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.filter)
        lay.addLayout(filters)
        lay.addWidget(self.document_table)
        lay.addWidget(self.details)

        self.legend = QWidget()  # one label per entity type (each with its key in a tooltip), then the key to dashes
        self.legend.setObjectName("legend")
        FlowLayout(self.legend)  # wraps: many types never make the text panel wider than the window
        self.view = EntityTextView()
        self.view.entity_clicked.connect(self._on_entity_clicked)
        self.visible_tagged.connect(self._on_visible_tagged)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._on_context_menu)
        self.placeholder = QLabel("Paste Bangla clinical text (Ctrl+V) or import files (Ctrl+O) to begin.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        reading = QWidget()
        lay = QVBoxLayout(reading)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.legend, 0, Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.placeholder, 1)
        lay.addWidget(self.view, 1)

        self.entities = EntityTableModel()
        self.entity_table = self._table(self.entities)
        self.entity_table.selectionModel().currentRowChanged.connect(self._on_entity_row)

        # the entity table under the text, as wide as it: at 1280×760 every column shows and its Text column
        # has room (beside the text it had 440 px for six columns, and the Text column collapsed)
        center = QSplitter(Qt.Orientation.Vertical)
        center.addWidget(reading)
        center.addWidget(self.entity_table)
        center.setStretchFactor(0, 3)
        center.setStretchFactor(1, 2)
        center.setSizes([420, 260])
        splitter = QSplitter()
        for widget, stretch in ((left, 1), (center, 2)):
            splitter.addWidget(widget)
            splitter.setStretchFactor(splitter.count() - 1, stretch)
        splitter.setSizes([500, 780])
        self.splitters = (splitter, center)
        self.setCentralWidget(splitter)
        # the focus order: filter box, status and type filters, document list, text, entity table (Tab / Shift+Tab);
        # each of the three panes shows a frame in the highlight colour while it has the focus
        chain = (self.filter, self.status_filter, self.type_filter, self.document_table, self.view, self.entity_table)
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)
        for pane, kind in ((self.document_table, "QTableView"), (self.view, "QTextEdit"),
                           (self.entity_table, "QTableView")):
            pane.setStyleSheet(FOCUS_FRAME.replace("PANE", kind))
        self.model_label = QLabel("loading model…")
        self.counts_label = QLabel()
        self.statusBar().addPermanentWidget(self.counts_label)
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.view.bidi_notice)

    def _table(self, model) -> QTableView:
        table = QTableView()
        table.setModel(model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setTabKeyNavigation(False)  # Tab leaves the table (to the next pane) instead of walking its cells
        table.setWordWrap(False)  # one line a row, shortened as the delegate says (wrapped, a title lost its end)
        table.verticalHeader().hide()
        header = table.horizontalHeader()
        # the short columns are as wide as their widest possible cell (their values are few: dates, statuses,
        # types), measured once, not on every refresh (that was a third of paste-to-highlight, and most of
        # an edit's time with 2,000 documents); the user may resize them, and the widths are remembered
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        metrics = table.fontMetrics()
        for column, samples in enumerate(model.SAMPLES):
            if samples:
                widest = max(metrics.horizontalAdvance(t) for t in (*samples, model.COLUMNS[column]))
                header.resizeSection(column, widest + 24)  # the cell's margins and the sort arrow
        # the first column (title, entity text) takes the spare width and is elided, so the short
        # columns (status, type, confidence) stay visible without a horizontal scroll bar
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        return table

    def _restore_columns(self) -> None:
        """The column widths the user left (remembered in the data folder at quit)."""
        for table, key in ((self.document_table, "document_columns"), (self.entity_table, "entity_columns")):
            saved = self.repo.setting(key)
            if saved:
                table.horizontalHeader().restoreState(QByteArray.fromBase64(saved.encode("ascii")))

    def _remember_columns(self) -> None:
        if self.repo.read_only:
            return
        try:
            for table, key in ((self.document_table, "document_columns"), (self.entity_table, "entity_columns")):
                state = table.horizontalHeader().saveState().toBase64().data().decode("ascii")
                self.repo.set_setting(key, state)
        except StorageError:
            pass  # widths are a convenience

    def _remembered_sort(self) -> ListView:
        """The list's sort as the user last chose it (``"title:ascending"``), else the newest first."""
        sort, _, order = (self.repo.setting("list_sort") or "").partition(":")
        try:
            return ListView(sort, order == "descending") if sort else ListView()
        except ValueError:  # a sort this release no longer has
            return ListView()

    def _action(self, menu: QMenu, text: str, slot, shortcut: str | QKeySequence | None = None, *,
                key: str | None = None) -> QAction:
        """A menu action; ``key`` names its keys in :mod:`app.gui.keymap` (the one list of shortcuts)."""
        action = QAction(text, self)
        if key is not None:
            action.setShortcuts([QKeySequence(k) for k in keymap.keys_for(key)])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setObjectName(key)
        elif shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "New from clipboard", self.new_from_clipboard, key="paste")
        self._action(file, "Import…", self.import_dialog, key="import")
        self.retry_action = self._action(file, "Retry saving", self.retry_unsaved)
        self.retry_action.setVisible(False)
        file.addSeparator()
        for fmt in file_formats.writers():  # one entry per format the registry can write
            self._action(file, fmt.menu or f"Export {fmt.title}…", partial(self.export_dialog, fmt.name),
                         key=fmt.menu_key)
        file.addSeparator()
        self._action(file, "Rename document…", self.rename_document, key="rename_document")
        self._action(file, "Delete document", self.delete_document, key="delete_document")
        file.addSeparator()
        self._action(file, "Quit", self.close, key="quit")
        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "Undo", self.undo, key="undo")
        self.redo_action = self._action(edit, "Redo", self.redo, key="redo")
        edit.addSeparator()
        self._action(edit, "Next entity", partial(self.step_entity, 1), key="next_entity")
        self._action(edit, "Previous entity", partial(self.step_entity, -1), key="previous_entity")
        self._action(edit, "Accept suggestion", self.accept_selected, key="accept")
        self._action(edit, "Reject / delete entity", self.delete_selected, key="delete")
        self._action(edit, "Accept all in document", self.accept_all, key="accept_all")
        self._action(edit, "Resize entity to selection", self.resize_selected, key="resize")
        self._action(edit, "Mark all occurrences", self.mark_all, key="mark_all")
        self._action(edit, "Next assertion (present, absent…)", self.cycle_assertion, key="cycle_assertion")
        bounds = edit.addMenu("Move a boundary")
        for which in ("start_left", "start_right", "end_left", "end_right"):
            self._action(bounds, keymap.title_for(which), partial(self.nudge_selected, which), key=which)
        self.types_menu = edit.addMenu("Add selection as")
        view = bar.addMenu("&View")
        self._action(view, "Larger text", partial(self.zoom, 1), key="zoom_in")
        self._action(view, "Smaller text", partial(self.zoom, -1), key="zoom_out")
        self._action(view, "Usual text size", partial(self.zoom, 0), key="zoom_reset")
        review = bar.addMenu("&Review")
        self._action(review, "Mark reviewed and go to next", self.mark_reviewed, key="mark_reviewed")
        self._action(review, "Mark unreviewed", self.mark_unreviewed)
        self._action(review, "Next unreviewed", partial(self.goto_unreviewed, False), key="next_unreviewed")
        self._action(review, "Previous unreviewed", partial(self.goto_unreviewed, True), key="previous_unreviewed")
        self._action(review, "Filter the list", self._focus_filter, key="focus_filter")
        self._action(review, "Go to the text", self.focus_text, key="focus_text")
        self._action(review, "Back to the document list", self.focus_list, key="focus_list")
        self.least_confident = self._action(review, "Least confident first", self._on_least_confident)
        self.least_confident.setCheckable(True)
        model = bar.addMenu("&Model")
        self._action(model, "Retrain…", self.retrain_dialog)
        self._action(model, "Versions…", self.versions_dialog)
        self._action(model, "Re-tag unreviewed documents", self.retag_unreviewed)
        self.suggestions = SuggestionLevels(self, model.addMenu("Suggestions"))
        helpmenu = bar.addMenu("&Help")
        self._action(helpmenu, "Keyboard shortcuts", partial(self._show_help, "keys"), key="help_keys")
        self._action(helpmenu, "How to review", partial(self._show_help, "review"))
        self._action(helpmenu, "About Bangla MedER", partial(self._show_help, "about"))

    # -- model ------------------------------------------------------------
    def _load_model(self) -> None:
        from engine.runtime import load_tagger

        active = self.registry.active()
        self.model_dir = self.fixed_model or active.student
        # the status bar names the model as Model › Versions does ("bundled", not its build date)
        self.model_name = "" if self.fixed_model else active.version
        self._show_model_notices()
        run_in_background(self, lambda progress, cancelled: load_tagger(self.model_dir), title=None,
                          on_success=self._on_model_loaded, on_failure=self._on_model_failed)

    def _show_model_notices(self) -> None:
        """The chosen model could not be used (damaged, missing) and another one runs: say which, without blocking."""
        notices = self.registry.take_notices()
        if notices:
            box = QMessageBox(QMessageBox.Icon.Warning, "Bangla MedER", "\n\n".join(notices), parent=self)
            box.setObjectName("model_notices")
            box.open()

    def _on_model_loaded(self, tagger: Tagger) -> None:
        self.tagger = tagger
        self.repo.judge = tagger.assertions  # entities added, resized or relabelled by hand get their assertion
        self.suggestions.apply(tagger, self.model_dir)  # the remembered "suggest more / balanced / fewer"
        self.types = tagger.entity_types
        self.view.colors = type_colors(self.types)
        self.model_label.setText(f"model {self.model_name or tagger.version}")
        self._refresh_legend(self.legend_others)
        self.types_menu.clear()
        for key, label in zip(keymap.keys_for("label"), self.types):
            self._action(self.types_menu, label, partial(self.label_key, label), key)
        self.show_document(self.current_id)

    def _on_model_failed(self, message: str) -> None:
        self.model_label.setText("no model")
        QMessageBox.critical(self, "Model not loaded", f"The entity model could not be loaded:\n\n{message}\n\n"
                             "You can still review and export stored documents.")

    def _refresh_legend(self, others: list[str] = ()) -> None:
        """One label per type, numbered by its key from the key map, with a tooltip saying what the key does;
        then ``others``, the open document's types that the model doesn't know (from another tool's file)."""
        layout = self.legend.layout()
        while layout.count():
            item = layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        known = type_colors(self.types)
        keys = keymap.keys_for("label")
        for n, t in enumerate(self.types):
            key = keys[n] if n < len(keys) else ""
            label = QLabel(f'<span style="background:{color_for(t, known)}">&nbsp;{escape(key)}&nbsp;{escape(t)}'
                           "&nbsp;</span>")
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setObjectName(f"legend_{t}")
            label.setToolTip(f"{t} — press {key} to mark the selection as {t}, or to change the selected entity's type"
                             if key else f"{t} (no number key: use Edit › Add selection as)")
            layout.addWidget(label)
        for t in others:
            label = QLabel(f'<span style="background:{color_for(t, known)}">&nbsp;{escape(t)}&nbsp;</span>')
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setObjectName(f"legend_other_{t}")
            label.setToolTip(f"{t}: a type from the imported file that the model does not know "
                             "(kept as it is; select the entity and press a number key to change it to one of the model's types)")
            layout.addWidget(label)
        dashed = QLabel('<span style="text-decoration: underline dashed">dashed</span> = low confidence')
        dashed.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(dashed)
        for assertion, style in ASSERTION_STYLES.items():  # how a finding that is not simply present shows
            css = (f"color:{style['color']};" + ("text-decoration:line-through;" if style["strike"] else "")
                   + ("font-style:italic;" if style["italic"] else ""))
            mark = QLabel(f'<span style="{css}">{escape(assertion)}</span>')
            mark.setTextFormat(Qt.TextFormat.RichText)
            mark.setObjectName(f"legend_assertion_{assertion}")
            mark.setToolTip(f"A finding {style['meaning']}; select it and press "
                            f"{keymap.keys_for('cycle_assertion')[0]} to change it")
            layout.addWidget(mark)

    # -- showing ----------------------------------------------------------
    def refresh_documents(self) -> None:
        """Re-read the list as the user sees it (search, filters, sort): the review keys follow these rows."""
        self._stored = {d.id: d for d in self.repo.documents(search=self.filter.text().strip())}
        self._show_list()

    def _refresh_changed(self, change: Change) -> None:
        """Refresh the list from what an edit changed: its documents are read again, not all of them (one
        Accept with 2,000 documents stored re-read them all for about 40 ms)."""
        touched = set(change.documents) | {change.document_id}
        if self.filter.text().strip() or len(touched) > 50:  # a rename may change what the search matches
            self.refresh_documents()
            return
        in_place = True  # every edited document keeps its place: no new sort, no new type list
        for doc_id in touched:
            before = self._stored.get(doc_id)
            after = self.repo.document(doc_id) if self.repo.exists(doc_id) else None
            if after is None:  # deleted (an undone deletion brings one back below)
                self._stored.pop(doc_id, None)
            else:
                self._stored[doc_id] = after
            in_place = in_place and before is not None and after is not None and before.labels == after.labels \
                and keeps_place(before, after, self.list_view)
        if in_place:
            self._show_list([self._stored[r.id] for r in self.documents.rows])
        else:
            self._show_list()

    def _show_list(self, rows: list[StoredDocument] | None = None) -> None:
        """Show ``rows`` (by default the stored documents, filtered and sorted as the user chose)."""
        if rows is None:
            stored = list(self._stored.values())
            self._refresh_type_filter(stored)
            rows = visible(stored, self.list_view)
        if not self.documents.update_rows(rows):  # the same rows in the same order: redraw only those changed
            self.documents.set_rows(rows)
        column = self.documents.SORTS.index(self.list_view.sort)
        order = Qt.SortOrder.DescendingOrder if self.list_view.descending else Qt.SortOrder.AscendingOrder
        header = self.document_table.horizontalHeader()
        if (header.sortIndicatorSection(), header.sortIndicatorOrder()) != (column, order):
            header.setSortIndicator(column, order)
        if self.filter.text().strip():
            counts = self.repo.counts()
        else:  # the list holds every document: count them there (2,000 take well under a millisecond)
            stored = self._stored.values()
            counts = {"documents": len(stored), "reviewed": sum(d.reviewed for d in stored),
                      "entities": sum(d.entity_count for d in stored)}
        words = f"{counts['documents']} documents, {counts['reviewed']} reviewed, {counts['entities']} entities"
        if words != self.counts_label.text():
            self.counts_label.setText(words)
        row = self.documents.row_of(self.current_id) if self.current_id is not None else None
        selection = self.document_table.selectionModel()
        if row is not None and not (selection.currentIndex().row() == row and selection.isRowSelected(row)):
            selection.setCurrentIndex(
                self.documents.index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)

    def _refresh_type_filter(self, stored) -> None:
        """The type filter offers every entity type the stored documents hold (the model's order first), and
        keeps the chosen one: a filter the app never fills filters nothing."""
        held = set().union(*(d.labels for d in stored)) if stored else set()
        if self.list_view.label:  # the chosen type stays offered, even when no listed document holds it now
            held.add(self.list_view.label)
        wanted = [t for t in self.types if t in held] + sorted(held - set(self.types))
        shown = [self.type_filter.itemText(i) for i in range(1, self.type_filter.count())]
        if wanted == shown:
            return
        self.type_filter.blockSignals(True)  # rebuilding is no choice of the user's
        self.type_filter.clear()
        self.type_filter.addItem("Any entity type")
        self.type_filter.addItems(wanted)
        self.type_filter.setCurrentIndex(wanted.index(self.list_view.label) + 1 if self.list_view.label else 0)
        self.type_filter.blockSignals(False)

    def show_document(self, document_id: int | None) -> None:
        self.current_id = document_id
        has = document_id is not None
        self.placeholder.setVisible(not has)
        self.view.setVisible(has)
        if not has:
            self.entities.set_rows("", [])
            self.details.setText("")
            self.setWindowTitle("Bangla MedER")
            return
        doc = self.repo.document(document_id)
        ents = self.repo.entities(document_id)
        self.view.show_document(doc.text, ents)
        self.entities.set_rows(doc.text, ents)
        others = sorted({e.label for e in ents} - set(self.types))
        if others != self.legend_others:
            self.legend_others = others
            self._refresh_legend(others)
        self._refresh_title(doc)
        self._refresh_undo()
        if not self.repo.read_only:
            try:  # reopened at the next start
                self.repo.set_setting("last_document", str(document_id))
            except StorageError:
                pass  # remembering the place is a convenience; the edits themselves report failures

    def _refresh_title(self, doc=None) -> None:
        """The window title and details pane, from what is stored now (after an edit, an undo...)."""
        if self.current_id is None or not self.repo.exists(self.current_id):
            self.setWindowTitle("Bangla MedER")
            self.details.setText("")
            return
        doc = doc or self.repo.document(self.current_id)
        state = "reviewed" if doc.reviewed else "unreviewed"
        self.setWindowTitle(f"{doc.title} ({state}) — Bangla MedER")
        lines = [f"<b>{escape(doc.title)}</b>", f"from {escape(doc.source or 'unknown')}, "
                 f"added {escape(local_time(doc.created))}, model {escape(doc.model_version or '–')}"]
        lines += [f"{escape(str(k))}: {escape(str(v))}" for k, v in list(doc.metadata.items())[:12]]
        details = "<br>".join(lines)
        if details != self.details.text():  # a new text re-lays the window out: an Accept needs none
            self.details.setText(details)

    def _refresh_entities(self) -> None:
        if self.current_id is None:
            return
        doc = self.repo.document(self.current_id)
        ents = self.repo.entities(self.current_id)
        self.view.set_entities(ents, changed_only=doc.text == self.view.text)
        self.entities.set_rows(doc.text, ents)

    def _refresh_undo(self) -> None:
        undo, redo = self.repo.undo_status()
        self.undo_action.setEnabled(undo is not None)
        self.undo_action.setText(f"Undo {undo}" if undo else "Undo")
        self.redo_action.setEnabled(redo is not None)
        self.redo_action.setText(f"Redo {redo}" if redo else "Redo")

    # -- slots ------------------------------------------------------------
    def _on_document_row(self, current, _previous) -> None:
        if current.isValid():
            doc = self.documents.rows[current.row()]
            if doc.id != self.current_id:
                self.show_document(doc.id)

    def _on_entity_clicked(self, entity_id: int) -> None:
        self.view.select_entity(entity_id if entity_id >= 0 else None)
        row = self.entities.row_of(entity_id)
        if row is None:
            self.entity_table.clearSelection()
        else:
            self.entity_table.selectRow(row)

    def _on_entity_row(self, current, _previous) -> None:
        if current.isValid() and current.row() < len(self.entities.rows):
            entity = self.entities.rows[current.row()]
            if entity.id != self.view.selected_id:
                self.view.select_entity(entity.id)

    def _on_context_menu(self, pos) -> None:
        menu = QMenu(self)
        index = self.view.index_at(pos)
        entity = self.view.entity_at(index)
        if self.view.selection():
            add = menu.addMenu("Add as")
            for label in self.types:
                add.addAction(label, partial(self.add_selection, label))
        if entity is not None:
            self.view.select_entity(entity.id)
            change = menu.addMenu("Change type to")
            for label in self.types:
                change.addAction(label, partial(self._edit, partial(self.repo.relabel, entity.id, label)))
            if entity.status == "suggested":
                menu.addAction("Accept", partial(self._edit, partial(self.repo.accept, entity.id)))
            menu.addAction("Delete" if entity.source == "human" else "Reject",
                           partial(self._edit, partial(self.repo.delete, entity.id)))
            menu.addAction("Mark all occurrences", partial(self._edit, partial(self.repo.mark_all_occurrences, entity.id)))
            if self.view.selection():
                menu.addAction("Resize to selection", self.resize_selected)
        if not menu.isEmpty():
            menu.exec(self.view.mapToGlobal(pos))

    # -- edits ------------------------------------------------------------
    def _edit(self, operation: Callable[[], Change | None], *, keep: bool = True) -> Change | None:
        """Run one repository edit; a refused edit becomes a status-bar message, a failed write a dialog and (with
        ``keep``; not for Undo/Redo, whose target moves) an edit kept for File › Retry saving."""
        try:
            change = operation()
        except StorageError as exc:  # not saved: the user must know, and the view must show what is stored
            message = str(exc)
            if keep:
                self.unsaved_edits.append((message.split(" was not saved", 1)[0], operation))
                self._update_retry()
                message += (f"\n\nThe edit is kept until you quit: File › {self.retry_action.text()} saves it once "
                            "the problem is solved.")
            QMessageBox.warning(self, "Not saved", message)
            self._reload_after_failure()
            return None
        except MederError as exc:
            self.statusBar().showMessage(str(exc), 6000)
            return None
        if change is None:
            self.statusBar().showMessage("Nothing to change", 3000)
        elif change.removed or (self.current_id is not None and not self.repo.exists(self.current_id)):
            self.statusBar().showMessage(change.description.capitalize() + " (Ctrl+Z brings it back)", 6000)
            target = neighbour(self.documents.rows, change.document_id, unreviewed_only=False)  # the old list
            self.refresh_documents()
            self.show_document(target if target is not None and self.repo.exists(target) else None)
            self.refresh_documents()
        else:
            self.statusBar().showMessage(change.description.capitalize(), 3000)
            if change.documents and self.current_id in change.documents:
                self.show_document(self.current_id)
                self._refresh_changed(change)
            elif change.document_id != self.current_id and not change.documents:
                self.current_id = change.document_id
                self._refresh_changed(change)
                self.show_document(change.document_id)
            else:
                self._refresh_entities()
                self._refresh_changed(change)
            if self.view.selected_id is not None and self.entities.row_of(self.view.selected_id) is None:
                # the selected entity was replaced (relabel, resize, accept make a new row): follow it
                self._on_entity_clicked(change.added[0] if len(change.added) == 1 else -1)
            self._refresh_title()
        self._refresh_undo()
        return change

    def label_key(self, label: str) -> None:
        """A type's hotkey: add the selection as that type, or relabel the selected entity."""
        if self.current_id is None:  # pasted text still being tagged (its highlights are a preview)
            return
        if self.view.selection():
            self.add_selection(label)
        elif self.view.selected_id is not None:
            self._edit(partial(self.repo.relabel, self.view.selected_id, label))

    def add_selection(self, label: str) -> None:
        if self.current_id is None:  # pasted text still being tagged: nothing stored to edit yet
            return
        span = self.view.selection()
        if span is None:
            self.statusBar().showMessage("Select some text first", 4000)
            return
        change = self._edit(partial(self.repo.add_entity, self.current_id, span[0], span[1], label))
        if change is not None and len(change.added) == 1:
            # the new entity is now the selection, so a second number key relabels it
            cursor = self.view.textCursor()
            cursor.clearSelection()
            self.view.setTextCursor(cursor)
            self._on_entity_clicked(change.added[0])

    def step_entity(self, step: int) -> None:
        """Select the next (+1) or previous (-1) entity in the text, wrapping around."""
        rows = self.entities.rows
        if not rows:
            self.statusBar().showMessage("This document has no entities", 3000)
            return
        here = self.entities.row_of(self.view.selected_id)
        row = (0 if step > 0 else len(rows) - 1) if here is None else (here + step) % len(rows)
        self._on_entity_clicked(rows[row].id)

    def nudge_selected(self, which: str) -> None:
        if self.view.selected_id is None:
            self.statusBar().showMessage("Select an entity first (click it, or N / P)", 4000)
            return
        self._edit(partial(self.repo.nudge, self.view.selected_id, which))

    # -- documents as a whole -------------------------------------------------
    def rename_document(self) -> None:
        if self.current_id is None:
            return
        doc = self.repo.document(self.current_id)
        title, ok = QInputDialog.getText(self, "Rename document", "Title:", QLineEdit.EchoMode.Normal, doc.title)
        if ok:
            self._edit(partial(self.repo.rename_document, self.current_id, title))

    def delete_document(self) -> None:
        """Delete without asking: Ctrl+Z brings the document back whole (the status bar says so)."""
        if self.current_id is not None:
            self._edit(partial(self.repo.delete_document, self.current_id))

    def _on_document_menu(self, pos) -> None:
        index = self.document_table.indexAt(pos)
        if not index.isValid():
            return
        self.show_document(self.documents.rows[index.row()].id)
        menu = QMenu(self)
        menu.addAction("Rename…", self.rename_document)
        menu.addAction("Delete", self.delete_document)
        menu.exec(self.document_table.viewport().mapToGlobal(pos))

    # -- the list as the user sees it ----------------------------------------
    def _on_sort_clicked(self, column: int) -> None:
        sort = self.documents.SORTS[column]
        descending = not self.list_view.descending if sort == self.list_view.sort else sort in ("created", "entities")
        self.list_view = ListView(sort, descending, self.list_view.status, self.list_view.label)
        self.least_confident.setChecked(self.list_view == LEAST_CONFIDENT_FIRST)
        self._remember_sort()
        self._show_list()

    def _remember_sort(self) -> None:
        if not self.repo.read_only:
            try:
                self.repo.set_setting("list_sort", f"{self.list_view.sort}:"
                                      f"{'descending' if self.list_view.descending else 'ascending'}")
            except StorageError:
                pass  # the sort is a convenience

    def _on_least_confident(self) -> None:
        base = LEAST_CONFIDENT_FIRST if self.least_confident.isChecked() else ListView()
        self.list_view = ListView(base.sort, base.descending, self.list_view.status, self.list_view.label)
        self._remember_sort()
        self._show_list()

    def _on_list_filter(self, _index: int = 0) -> None:
        status = ("all", "unreviewed", "reviewed")[max(0, self.status_filter.currentIndex())]
        label = self.type_filter.currentText() if self.type_filter.currentIndex() > 0 else None
        self.list_view = ListView(self.list_view.sort, self.list_view.descending, status, label)
        self._show_list()

    def _focus_filter(self) -> None:
        self.filter.setFocus()
        self.filter.selectAll()

    def focus_text(self) -> None:
        """Into the text with the keyboard: the caret at the selected entity, else where it was."""
        if not self.view.isVisible():
            self.statusBar().showMessage("Open a document first", 3000)
            return
        self.view.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.statusBar().showMessage("Left / Right: a word; Shift+Left / Shift+Right: select; a number key: make "
                                     "it an entity; Esc: back to the list", 6000)

    def focus_list(self) -> None:
        self.document_table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    # -- view -----------------------------------------------------------------
    def zoom(self, step: int) -> None:
        """Text size: +1 / -1 point, 0 back to the usual size; remembered in the data folder."""
        size = 0 if step == 0 else max(8, min(48, self.view.font().pointSize() + step))
        self._apply_font_size(size)
        if not self.repo.read_only:
            try:
                self.repo.set_setting("font_size", str(size))
            except StorageError:
                pass

    def _apply_font_size(self, size: int) -> None:
        font = self.view.font()
        font.setPointSize(size if size > 0 else self.view.usual_point_size)
        self.view.setFont(font)

    def _show_help(self, page: str) -> None:
        if page == "keys":
            dialog = help_pages.shortcuts_dialog(self)
        elif page == "review":
            dialog = help_pages.review_dialog(self)
        else:
            dialog = help_pages.about_dialog(self, model_version=self.tagger.version if self.tagger else "",
                                             model_dir=self.model_dir)
        dialog.show()
        self._help = dialog

    def resize_selected(self) -> None:
        span = self.view.selection()
        if self.view.selected_id is None or span is None:
            self.statusBar().showMessage("Click an entity, then select its new extent", 4000)
            return
        self._edit(partial(self.repo.resize, self.view.selected_id, span[0], span[1]))

    def accept_selected(self) -> None:
        if self.view.selected_id is not None:
            self._edit(partial(self.repo.accept, self.view.selected_id))

    def delete_selected(self) -> None:
        if self.view.selected_id is not None:
            self._edit(partial(self.repo.delete, self.view.selected_id))
            self.view.selected_id = None

    def accept_all(self) -> None:
        if self.current_id is not None:
            self._edit(partial(self.repo.accept_all, self.current_id))

    def mark_all(self) -> None:
        if self.view.selected_id is not None:
            self._edit(partial(self.repo.mark_all_occurrences, self.view.selected_id))

    def cycle_assertion(self) -> None:
        if self.view.selected_id is not None:
            self._edit(partial(self.repo.cycle_assertion, self.view.selected_id))

    def mark_reviewed(self) -> None:
        if self.current_id is None:
            return
        self._edit(partial(self.repo.set_reviewed, self.current_id, True))
        if self.repo.exists(self.current_id) and self.repo.document(self.current_id).reviewed:
            self.goto_unreviewed(False)  # also when it already was: move on

    def mark_unreviewed(self) -> None:
        if self.current_id is not None:
            self._edit(partial(self.repo.set_reviewed, self.current_id, False))

    def goto_unreviewed(self, backwards: bool) -> None:
        target = neighbour(self.documents.rows, self.current_id, backwards=backwards)
        if target is None:
            hidden = self.repo.counts()["documents"] - len(self.documents.rows)
            self.statusBar().showMessage("No more unreviewed documents in the list"
                                         + (f" ({hidden} hidden by the filters)" if hidden else ""), 4000)
            return
        self.current_id = target
        self.refresh_documents()
        self.show_document(target)

    def undo(self) -> None:
        self._edit(self.repo.undo, keep=False)

    def redo(self) -> None:
        self._edit(self.repo.redo, keep=False)

    # -- models -------------------------------------------------------------
    def retrain_dialog(self) -> None:
        from app.gui.retrain_dialog import RetrainDialog

        dialog = RetrainDialog(self, self.repo, self.registry, self.registry.bundled_dir)
        dialog.finished_report.connect(lambda report: self._load_model() if report.promoted else None)
        dialog.show()
        self._retrain = dialog

    def versions_dialog(self) -> None:
        from app.gui.versions_dialog import VersionsDialog

        VersionsDialog(self, self.registry, self._load_model).exec()

    def retag_unreviewed(self) -> None:
        """Explicit action: new suggestions for unreviewed documents only; reviewed ones are never touched."""
        tagger = self.tagger
        if tagger is None:
            return
        docs = [d for d in self.repo.documents() if not d.reviewed]
        run_in_background(
            self, lambda progress, cancelled: tagger.tag_many([d.text for d in docs], progress=lambda a, b: progress(
                a, b, f"re-tagging {len(docs)} documents"), cancelled=cancelled),
            title="Re-tagging unreviewed documents",
            on_success=lambda results: self._on_retagged(docs, results, tagger.version),
            on_failure=lambda m: QMessageBox.warning(self, "Re-tagging failed", m))

    def _on_retagged(self, docs, results, version: str) -> None:
        """One transaction and one undo step for the whole re-tag (documents reviewed meanwhile are skipped)."""
        change = self._edit(partial(self.repo.retag_documents, {d.id: ents for d, ents in zip(docs, results)},
                                    version))
        if change is not None:
            self.statusBar().showMessage(f"Re-tagged {len(change.documents)} unreviewed documents with model "
                                         f"{version} (Ctrl+Z undoes it)", 6000)

    # -- input and output ---------------------------------------------------
    def new_from_clipboard(self) -> None:
        text = QGuiApplication.clipboard().text()
        if not text.strip():
            self.statusBar().showMessage("The clipboard holds no text", 4000)
            return
        title = " ".join(text.split()[:6])[:60]
        if len(text) > MAX_DOCUMENT_CHARS:
            QMessageBox.warning(self, "Text too long", f"The clipboard holds {len(text):,} characters; one document "
                                f"can hold at most {MAX_DOCUMENT_CHARS:,}. Nothing was added: paste it in parts.")
            return
        self.add_texts([PendingDocument(title, text, "clipboard", [], "model")])

    def add_texts(self, pending: list[PendingDocument]) -> None:
        """Show pasted text at once; tag its visible part, then all of it, in the background; store and show it.

        The visible part's windows go through the model first (Tagger.tag_shown_first), so its highlights come
        early and are those of the stored document, bar the odd one whose decoding the rest of the text changes.
        """
        tagger = self.tagger
        chars = sum(len(d.text) for d in pending)
        self._pastes += 1
        paste, before = self._pastes, self.current_id
        visible = self._show_pasted(pending[0].text) if tagger is not None and len(pending) == 1 else None

        def work(progress, cancelled):
            if tagger is not None:
                def step(done: int, total: int) -> None:
                    progress(done, total, f"Finding entities in {chars:,} characters…")

                if visible is not None:  # a preview that another paste makes stale (_on_visible_tagged drops it)
                    pending[0].entities = tagger.tag_shown_first(
                        pending[0].text, visible, on_shown=lambda found: self.visible_tagged.emit(paste, found),
                        progress=step, cancelled=cancelled)
                    return pending
                for doc, ents in zip(pending, tagger.tag_many([d.text for d in pending], progress=step,
                                                              cancelled=cancelled)):
                    doc.entities = ents
            return pending

        # a short note is tagged before a dialog could appear; a long paste gets progress and Cancel
        def back() -> None:  # nothing stored: show again what was shown before the paste
            if paste == self._pastes and self.current_id is None:
                self.show_document(before if before is not None and self.repo.exists(before) else None)

        def store(result: list[PendingDocument]) -> None:
            if paste == self._pastes:
                self._store(result)
                back()
                return
            # a later paste is on screen (stored, or still being tagged): store this one, keep that one shown
            keep, shown = self.current_id, (self.view.text, list(self.view._entities))
            self._store(result)
            if keep is not None:
                self.show_document(keep)
            else:
                self._show_pasted(shown[0])
                self.view.set_entities(shown[1])

        run_in_background(self, work, title="Tagging the pasted text" if chars > 20_000 else None,
                          on_success=store,
                          on_failure=lambda m: (back(), QMessageBox.warning(self, "Tagging failed", m)),
                          on_cancel=lambda: (back(), self.statusBar().showMessage(
                              "Tagging cancelled; the pasted text was not added", 8000)))

    def _show_pasted(self, text: str) -> int | None:
        """Show ``text`` unstored, without highlights; where its visible part ends (None: most of it is visible,
        so it is tagged whole at once)."""
        self.current_id = None  # edits wait for the stored document
        self.placeholder.setVisible(False)
        self.view.setVisible(True)
        self.view.show_document(text, [])
        self.entities.set_rows(text, [])
        self.details.setText("")
        self.setWindowTitle("Finding entities in the pasted text… — Bangla MedER")
        corner = QPoint(self.view.viewport().width() - 1, self.view.viewport().height() - 1)
        shown = self.view.from_qt(self.view.cursorForPosition(corner).position())
        return shown if shown < len(text) * 0.7 else None

    def _on_visible_tagged(self, paste: int, entities: list) -> None:
        if paste != self._pastes or self.current_id is not None:  # another text, or the stored one, is shown now
            return
        version = self.tagger.version if self.tagger else ""
        self.view.set_entities([StoredEntity(-1 - i, -1, e.start, e.end, e.label, "model", "suggested", e.confidence,
                                             version, e.assertion) for i, e in enumerate(entities)])

    def import_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in file_formats.import_suffixes())
        files, _ = QFileDialog.getOpenFileNames(self, "Import documents", self._folder("import"),
                                                f"Documents ({patterns});;All files (*)")
        if files:
            self._remember_folder("import", Path(files[0]).parent)
            self.import_files([Path(f) for f in files])

    def _folder(self, kind: str) -> str:
        """Where the file dialog opens: the folder last used for ``kind`` ("import", "export"), else the other
        one, else the home folder (never the folder the app was installed in)."""
        for key in (f"{kind}_folder", "import_folder", "export_folder"):
            folder = self.repo.setting(key)
            if folder and Path(folder).is_dir():
                return folder
        return str(Path.home())

    def _remember_folder(self, kind: str, folder: Path) -> None:
        if not self.repo.read_only:
            try:
                self.repo.set_setting(f"{kind}_folder", str(folder))
            except StorageError:
                pass  # a convenience

    def import_files(self, files: list[Path], text_column: str | None = None) -> None:
        """Import in the background; for spreadsheets, first ask which sheet and column hold the text, per file.

        ``text_column`` names the column of every spreadsheet and asks nothing.
        """
        tables = [f for f in files if is_table(f)]
        if not tables or text_column is not None:
            self._start_import(files, text_column)
            return

        sources: dict[Path, Source] = {}  # each file read once: for the dialog, then for the import

        def read_layouts(progress, cancelled) -> dict[Path, TableLayout | str]:
            # off the UI thread, where a damaged file is a line in the dialog, not a crash or a frozen window
            layouts: dict[Path, TableLayout | str] = {}
            for n, path in enumerate(tables):
                check_cancelled(cancelled)
                progress(n, len(tables), f"reading {path.name}")
                try:
                    sources[path] = Source(path)
                    if not is_annotated_file(sources[path]):  # CoNLL columns in a .tsv are no table to choose from
                        layouts[path] = table_layout(sources[path])
                except (MederError, OSError) as exc:
                    layouts[path] = without_path(str(exc), path)
            return layouts

        run_in_background(self, read_layouts, title=f"Reading {len(tables)} spreadsheet(s)",
                          on_success=partial(self._ask_choices, files, sources=sources),
                          on_failure=lambda m: QMessageBox.warning(self, "Import failed", f"Nothing was imported.\n\n{m}"),
                          on_cancel=lambda: self.statusBar().showMessage("Import cancelled; nothing was stored", 5000))

    def _ask_choices(self, files: list[Path], layouts: dict[Path, TableLayout | str], *,
                     sources: dict[Path, Source]) -> None:
        """One row per spreadsheet: its sheet and text column. Nothing to choose (none readable): import at once."""
        if not any(isinstance(layout, TableLayout) for layout in layouts.values()):
            self._start_import(files, None, sources=sources)  # the batch reports the files that cannot be read
            return
        dialog = ImportChoicesDialog(self, layouts, sources=sources)
        self.import_choices_dialog = dialog  # kept: tests and the window find the open dialog here
        dialog.accepted.connect(lambda: self._start_import(files, None, choices=dialog.choices(), sources=sources))
        dialog.rejected.connect(lambda: self.statusBar().showMessage(
            f"Import cancelled; none of the {len(files)} file(s) was imported", 5000))
        dialog.open()

    def _start_import(self, files: list[Path], text_column: str | None, *,
                      choices: dict[Path, TableChoice] | None = None, sources: dict[Path, Source] | None = None) -> None:
        """Read, tag and store in the background, a chunk at a time (memory stays flat whatever the files hold),
        in one transaction and one undo step; annotated documents whose text is stored already are asked about
        once the files are read (answered Cancel: nothing is stored)."""
        tagger, repo = self.tagger, self.repo
        refused: list[int] = []  # documents read, when the question was answered Cancel

        def ask(matches: int, documents: int) -> OnExisting | None:
            answer = self._ask_update(matches)
            if answer is None:
                refused.append(documents)
            return answer

        ask_here = asked_on_ui_thread(ask)

        def store(progress, cancelled) -> ImportLog | str:
            try:
                return import_and_store(repo, files, tagger, on_existing=ask_here, text_column=text_column,
                                        choices=choices, sources=sources, progress=progress, cancelled=cancelled)
            except StorageError as exc:  # the database refused: nothing was stored, the files are as they were
                return str(exc)

        def on_cancel() -> None:
            self.statusBar().showMessage(f"Import cancelled; none of the {refused[0]} document(s) was stored"
                                         if refused else "Import cancelled; nothing was stored", 8000)

        run_in_background(
            self, store, title=f"Importing {len(files)} file(s)", on_success=self._on_stored,
            on_failure=lambda m: QMessageBox.warning(self, "Import failed", f"Nothing was imported.\n\n{m}"),
            on_cancel=on_cancel)

    def _on_stored(self, log: ImportLog | str) -> None:
        if isinstance(log, str):  # what the database said when it refused the import
            QMessageBox.warning(self, "Documents not saved",
                                f"{log}\n\nNothing of this import was stored, and the files are as they were: "
                                "import them again once the problem is solved (File › Import…).")
            return
        self._show_stored(log.added, log.change)
        if not log.complete:  # never a silent partial import: say it per file
            QMessageBox.warning(self, "Import summary", log.text())
            return
        self.statusBar().showMessage(log.head().replace("\n", " "), 10000)
        if log.updated or log.duplicates:  # too long for the status bar, and worth reading: say it in a box
            box = QMessageBox(QMessageBox.Icon.Information, "Import summary", log.head(), parent=self)
            box.setObjectName("import_summary")
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()  # not modal: the user can go on working

    def _ask_update(self, count: int) -> OnExisting | None:
        """Annotated documents whose text is stored: update those, add them as new, or cancel (None)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Documents already stored",
                          f"{count} imported document(s) with annotations have the same text as stored documents.",
                          parent=self)
        box.setObjectName("reimport_question")
        box.setInformativeText("Update those documents: their entities, review status and details become the "
                               "file's (Edit › Undo reverts it).\nAdd as new documents: the stored ones stay as "
                               "they are.")
        update = box.addButton("Update those documents", QMessageBox.ButtonRole.AcceptRole)
        add = box.addButton("Add as new documents", QMessageBox.ButtonRole.ActionRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        for button, name in ((update, "reimport_update"), (add, "reimport_add"), (cancel, "reimport_cancel")):
            button.setObjectName(name)
        box.setDefaultButton(update)
        box.setEscapeButton(cancel)
        box.exec()
        return {update: "update", add: "add"}.get(box.clickedButton())

    def _store(self, pending: list[PendingDocument], model_version: str | None = None) -> list[int]:
        """Store pasted, tagged text; returns the new ids. If the database refuses it, the user is told and the
        documents are kept (File › Retry saving) instead of being dropped after all the tagging work."""
        version = model_version if model_version is not None else (self.tagger.version if self.tagger else "")
        try:
            ids = self.repo.store_batch([NewDocument(d.title, d.text, d.source, d.entities, metadata=d.metadata)
                                         for d in pending], origin="model", model_version=version,
                                        skip_duplicates=False).ids  # a paste is always kept
        except StorageError as exc:
            self._keep_unsaved(pending, version, str(exc))
            return []
        self._show_stored(ids, None)
        self.statusBar().showMessage(f"Added {len(ids)} document(s)", 8000)
        return ids

    def _show_stored(self, ids: list[int], change: Change | None) -> None:
        """Show what was stored: the newest new document, else the one an update touched."""
        if ids:
            self.current_id = max(ids)
        elif change is not None and self.current_id not in change.documents:
            self.current_id = change.document_id
        if ids or change is not None:
            self._reload_after_failure()  # the list and the document (its updated entities, Undo's new text)

    def _keep_unsaved(self, docs: list[PendingDocument], version: str, message: str) -> None:
        """Pasted documents the database refused: kept in memory for File › Retry saving (an import refused stores
        nothing and is imported again from its files, which may be too large to keep)."""
        self.unsaved.append((docs, version))
        self._update_retry()
        QMessageBox.warning(self, "Documents not saved",
                            f"{message}\n\n{len(docs)} document(s) were not saved. They are kept until you "
                            f"quit: File › {self.retry_action.text()} stores them once the problem is solved.")

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        count, edits = self._unsaved_count(), len(self.unsaved_edits)
        what = " and ".join(([f"{count} document(s)"] if count else []) + ([f"{edits} edit(s)"] if edits else []))
        if what and QMessageBox.question(
                self, "Quit without saving?",
                f"{what} could not be saved in the database and are only in memory. Quit and lose "
                f"them? (Choose No, solve the problem, then File › {self.retry_action.text()}.)") \
                != QMessageBox.StandardButton.Yes:
            event.ignore()
            return
        self._remember_columns()
        super().closeEvent(event)

    def retry_unsaved(self) -> None:
        """Store the kept documents, then replay the kept edits in order on what is stored now (one that no longer
        applies, its entity gone say, is said and dropped)."""
        batches, self.unsaved = self.unsaved, []
        saved = 0
        for docs, version in batches:
            saved += len(self._store(docs, model_version=version))
        edits, self.unsaved_edits = self.unsaved_edits, []
        replayed, dropped = 0, []
        for n, (what, operation) in enumerate(edits):
            try:
                operation()
            except StorageError as exc:  # still refused: keep this one and the ones after it, in order
                self.unsaved_edits = edits[n:]
                QMessageBox.warning(self, "Not saved", f"{exc}\n\n{len(self.unsaved_edits)} edit(s) are still kept.")
                break
            except MederError as exc:
                dropped.append(f"{what}: {exc}")
                continue
            replayed += 1
        if edits:
            self._reload_after_failure()
            self._refresh_undo()
        if dropped:
            QMessageBox.information(self, "Edits that no longer apply",
                                    f"{len(dropped)} kept edit(s) no longer apply to what is stored and were "
                                    "dropped:\n\n" + "\n".join(dropped[:30]))
        self._update_retry()
        if not self.unsaved and not self.unsaved_edits:
            self.statusBar().showMessage(f"Saved {saved} document(s) and {replayed} edit(s) that had not been saved"
                                         if edits else f"Saved {saved} document(s) that had not been saved", 5000)

    def _unsaved_count(self) -> int:
        return sum(len(docs) for docs, _ in self.unsaved)

    def _update_retry(self) -> None:
        count, edits = self._unsaved_count(), len(self.unsaved_edits)
        parts = ([f"{count} document(s)"] if count or not edits else []) + ([f"{edits} edit(s)"] if edits else [])
        self.retry_action.setText(f"Retry saving {' and '.join(parts)}")
        self.retry_action.setVisible(bool(count or edits))

    def _reload_after_failure(self) -> None:
        try:
            self.refresh_documents()
            self.show_document(self.current_id)
        except StorageError as exc:  # the database cannot even be read now
            self.statusBar().showMessage(str(exc), 10000)

    def export_dialog(self, name: str) -> None:
        fmt = file_formats.get(name)
        suffix = fmt.export_suffix
        path, _ = QFileDialog.getSaveFileName(self, f"Export {fmt.title}",
                                              str(Path(self._folder("export")) / f"entities{suffix}"),
                                              f"{fmt.title} (*{suffix})")
        if path:
            self._remember_folder("export", Path(path).parent)
            self.export_to(Path(path).with_suffix(suffix), fmt.name)

    def export_to(self, path: Path, fmt: str | None = None) -> None:
        """Write the export in the background; the file appears only once it is complete."""
        def work(progress, cancelled):
            try:
                return export(self.repo, path, fmt=fmt,
                              progress=lambda a, b: progress(a, b, f"exporting to {path.name}"), cancelled=cancelled)
            except (OSError, ValueError) as exc:
                raise MederError(f"{path}: {exc}") from None

        run_in_background(
            self, work, title=f"Exporting to {path.name}",
            on_success=lambda summary: self._on_exported(summary, path),
            on_failure=lambda m: QMessageBox.warning(self, "Export failed", m),
            on_cancel=lambda: self.statusBar().showMessage("Export cancelled; no file was written", 5000))

    def _on_exported(self, summary, path: Path) -> None:
        """The status bar says how many; a box names each document of which something could not be written."""
        self.statusBar().showMessage(f"Exported {summary.documents} documents to {path}", 6000)
        if summary.not_written:
            QMessageBox.warning(self, "Export incomplete", summary.message(path))
