"""The main window: document list, highlighted text, entity table, legend, menus.

Widgets hold no domain state: every edit goes to the :class:`Repository`
(which records it for undo) and the window re-reads what it shows.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
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

from app.gui.background import run_in_background
from app.gui.colors import color_for, type_colors
from app.gui.table_models import DocumentTableModel, EntityTableModel
from app.gui.text_view import EntityTextView
from engine.errors import MederError, StorageError
from engine.exporting import export
from engine.importing import (
    ALL_SUFFIXES,
    MAX_DOCUMENT_CHARS,
    TABLE_SUFFIXES,
    PendingDocument,
    import_files,
    table_columns,
)
from engine.model_registry import ModelRegistry
from engine.storage import Change, Repository
from engine.tagger import Tagger

MAX_ERRORS_SHOWN = 30  # files listed in the import report; the rest are counted


class MainWindow(QMainWindow):
    def __init__(self, repo: Repository, registry: ModelRegistry, *, model_dir: Path | None = None) -> None:
        super().__init__()
        self.repo = repo
        self.registry = registry
        self.fixed_model = model_dir  # --model: use this folder, ignore the active version
        self.model_dir = model_dir or registry.active().student
        self.tagger: Tagger | None = None
        self.types: list[str] = []
        self.current_id: int | None = None
        # tagged documents the database refused (full disk, locked...): kept for File › Retry saving
        self.unsaved: list[tuple[list[PendingDocument], str]] = []
        self.setWindowTitle("Bangla MedER")
        self.resize(1280, 760)
        self._build_widgets()
        self._build_menus()
        self.refresh_documents()
        if self.documents.rows:  # reopen at the top of the list (the newest document)
            self.show_document(self.documents.rows[0].id)
            self.refresh_documents()  # selects its row
        self._load_model()
        # start with focus away from the filter box, so a first Ctrl+V pastes a new document
        # instead of filtering the (empty) list
        self.document_table.setFocus()
        self._show_notices()

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
        self.documents = DocumentTableModel()
        self.document_table = self._table(self.documents)
        self.document_table.selectionModel().currentRowChanged.connect(self._on_document_row)
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.filter)
        lay.addWidget(self.document_table)

        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.view = EntityTextView()
        self.view.entity_clicked.connect(self._on_entity_clicked)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._on_context_menu)
        self.placeholder = QLabel("Paste Bangla clinical text (Ctrl+V) or import files (Ctrl+O) to begin.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        center = QWidget()
        lay = QVBoxLayout(center)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.legend, 0, Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.placeholder, 1)
        lay.addWidget(self.view, 1)

        self.entities = EntityTableModel()
        self.entity_table = self._table(self.entities)
        self.entity_table.selectionModel().currentRowChanged.connect(self._on_entity_row)

        splitter = QSplitter()
        for widget, stretch in ((left, 2), (center, 5), (self.entity_table, 3)):
            splitter.addWidget(widget)
            splitter.setStretchFactor(splitter.count() - 1, stretch)
        splitter.setSizes([340, 500, 440])
        self.setCentralWidget(splitter)
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
        table.verticalHeader().hide()
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # the first column (title, entity text) takes the spare width and is elided, so the short
        # columns (status, type, confidence) stay visible without a horizontal scroll bar
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        return table

    def _action(self, menu: QMenu, text: str, slot, shortcut: str | QKeySequence | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "New from clipboard", self.new_from_clipboard, QKeySequence.StandardKey.Paste)
        self._action(file, "Import…", self.import_dialog, QKeySequence.StandardKey.Open)
        self.retry_action = self._action(file, "Retry saving", self.retry_unsaved)
        self.retry_action.setVisible(False)
        file.addSeparator()
        self._action(file, "Export to Excel…", partial(self.export_dialog, ".xlsx"), "Ctrl+E")
        self._action(file, "Export reviewed as JSONL…", partial(self.export_dialog, ".jsonl"))
        self._action(file, "Export reviewed as CoNLL…", partial(self.export_dialog, ".conll"))
        file.addSeparator()
        self._action(file, "Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit, "Redo", self.redo, "Ctrl+Shift+Z")
        edit.addSeparator()
        self._action(edit, "Accept suggestion", self.accept_selected, "A")
        self._action(edit, "Reject / delete entity", self.delete_selected, QKeySequence.StandardKey.Delete)
        self._action(edit, "Reject suggestion", self.delete_selected, "X")
        self._action(edit, "Accept all in document", self.accept_all, "Ctrl+Shift+A")
        self._action(edit, "Resize entity to selection", self.resize_selected, "Ctrl+R")
        self._action(edit, "Mark all occurrences", self.mark_all, "M")
        self.types_menu = edit.addMenu("Add selection as")
        review = bar.addMenu("&Review")
        self._action(review, "Mark reviewed and go to next", self.mark_reviewed, "Ctrl+Return")
        self._action(review, "Mark unreviewed", self.mark_unreviewed)
        self._action(review, "Next unreviewed", partial(self.goto_unreviewed, False), "Ctrl+Down")
        self._action(review, "Previous unreviewed", partial(self.goto_unreviewed, True), "Ctrl+Up")
        self.least_confident = self._action(review, "Least confident first", self.refresh_documents)
        self.least_confident.setCheckable(True)
        model = bar.addMenu("&Model")
        self._action(model, "Retrain…", self.retrain_dialog)
        self._action(model, "Versions…", self.versions_dialog)
        self._action(model, "Re-tag unreviewed documents", self.retag_unreviewed)

    # -- model ------------------------------------------------------------
    def _load_model(self) -> None:
        from engine.runtime import load_tagger

        self.model_dir = self.fixed_model or self.registry.active().student
        run_in_background(self, lambda progress, cancelled: load_tagger(self.model_dir), title=None,
                          on_success=self._on_model_loaded, on_failure=self._on_model_failed)

    def _on_model_loaded(self, tagger: Tagger) -> None:
        self.tagger = tagger
        self.types = tagger.entity_types
        self.view.colors = type_colors(self.types)
        self.model_label.setText(f"model {tagger.version}")
        self._refresh_legend()
        self.types_menu.clear()
        for n, label in enumerate(self.types[:9], start=1):
            self._action(self.types_menu, label, partial(self.label_key, label), str(n))
        self.show_document(self.current_id)

    def _on_model_failed(self, message: str) -> None:
        self.model_label.setText("no model")
        QMessageBox.critical(self, "Model not loaded", f"The entity model could not be loaded:\n\n{message}\n\n"
                             "You can still review and export stored documents.")

    def _refresh_legend(self) -> None:
        known = type_colors(self.types)
        parts = [f'<span style="background:{color_for(t, known)}">&nbsp;{n}&nbsp;{t}&nbsp;</span>'
                 for n, t in enumerate(self.types, start=1)]
        self.legend.setText("&nbsp; ".join(parts) + '&nbsp; <span style="text-decoration: underline dashed">'
                            "dashed</span> = low confidence")

    # -- showing ----------------------------------------------------------
    def refresh_documents(self) -> None:
        order = "least_confident" if getattr(self, "least_confident", None) and self.least_confident.isChecked() \
            else "created"
        self.documents.set_rows(self.repo.documents(search=self.filter.text().strip(), order=order))
        counts = self.repo.counts()
        self.counts_label.setText(f"{counts['documents']} documents, {counts['reviewed']} reviewed, "
                                  f"{counts['entities']} entities")
        row = self.documents.row_of(self.current_id) if self.current_id is not None else None
        if row is not None:
            self.document_table.selectionModel().setCurrentIndex(
                self.documents.index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)

    def show_document(self, document_id: int | None) -> None:
        self.current_id = document_id
        has = document_id is not None
        self.placeholder.setVisible(not has)
        self.view.setVisible(has)
        if not has:
            self.entities.set_rows("", [])
            return
        doc = self.repo.document(document_id)
        ents = self.repo.entities(document_id)
        self.view.show_document(doc.text, ents)
        self.entities.set_rows(doc.text, ents)
        state = "reviewed" if doc.reviewed else "unreviewed"
        self.setWindowTitle(f"{doc.title} ({state}) — Bangla MedER")
        self._refresh_undo()

    def _refresh_entities(self) -> None:
        if self.current_id is None:
            return
        doc = self.repo.document(self.current_id)
        ents = self.repo.entities(self.current_id)
        self.view.set_entities(ents)
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
    def _edit(self, operation) -> Change | None:
        """Run one repository edit; a refused edit becomes a status-bar message, a failed write a dialog."""
        try:
            change = operation()
        except StorageError as exc:  # not saved: the user must know, and the view must show what is stored
            QMessageBox.warning(self, "Not saved", str(exc))
            self._reload_after_failure()
            return None
        except MederError as exc:
            self.statusBar().showMessage(str(exc), 6000)
            return None
        if change is None:
            self.statusBar().showMessage("Nothing to change", 3000)
        else:
            self.statusBar().showMessage(change.description.capitalize(), 3000)
            if change.document_id != self.current_id:
                self.current_id = change.document_id
                self.refresh_documents()
                self.show_document(change.document_id)
            else:
                self._refresh_entities()
                self.refresh_documents()
            if self.view.selected_id is not None and self.entities.row_of(self.view.selected_id) is None:
                # the selected entity was replaced (relabel, resize, accept make a new row): follow it
                self._on_entity_clicked(change.added[0] if len(change.added) == 1 else -1)
        self._refresh_undo()
        return change

    def label_key(self, label: str) -> None:
        """A type's hotkey: add the selection as that type, or relabel the selected entity."""
        if self.view.selection():
            self.add_selection(label)
        elif self.view.selected_id is not None:
            self._edit(partial(self.repo.relabel, self.view.selected_id, label))

    def add_selection(self, label: str) -> None:
        span = self.view.selection()
        if span is None:
            self.statusBar().showMessage("Select some text first", 4000)
            return
        self._edit(partial(self.repo.add_entity, self.current_id, span[0], span[1], label))

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
            self._edit(lambda: self.repo.accept_all(self.current_id))

    def mark_all(self) -> None:
        if self.view.selected_id is not None:
            self._edit(partial(self.repo.mark_all_occurrences, self.view.selected_id))

    def mark_reviewed(self) -> None:
        if self.current_id is None:
            return
        self._edit(lambda: self.repo.set_reviewed(self.current_id, True))
        if self.repo.document(self.current_id).reviewed:  # also when it already was: move on
            self.goto_unreviewed(False)

    def mark_unreviewed(self) -> None:
        if self.current_id is not None:
            self._edit(lambda: self.repo.set_reviewed(self.current_id, False))

    def goto_unreviewed(self, backwards: bool) -> None:
        target = self.repo.neighbour_unreviewed(self.current_id, backwards=backwards)
        if target is None:
            self.statusBar().showMessage("No more unreviewed documents", 4000)
            return
        self.current_id = target
        self.refresh_documents()
        self.show_document(target)

    def undo(self) -> None:
        self._edit(self.repo.undo)

    def redo(self) -> None:
        self._edit(self.repo.redo)

    # -- models -------------------------------------------------------------
    def retrain_dialog(self) -> None:
        from app.gui.retrain_dialog import RetrainDialog

        dialog = RetrainDialog(self, self.repo, self.registry, self.registry.bundled_dir)
        dialog.finished_report.connect(lambda report: self._load_model() if report.get("promoted") else None)
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
        for doc, entities in zip(docs, results):
            try:
                self.repo.retag(doc.id, entities, version)
            except MederError as exc:  # e.g. reviewed meanwhile
                self.statusBar().showMessage(str(exc), 4000)
        self.refresh_documents()
        self.show_document(self.current_id)
        self.statusBar().showMessage(f"Re-tagged {len(docs)} unreviewed documents with model {version}", 6000)

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
        """Tag pasted text in the background, then store and show it."""
        tagger = self.tagger
        chars = sum(len(d.text) for d in pending)

        def work(progress, cancelled):
            if tagger is not None:
                def step(done: int, total: int) -> None:
                    progress(done, total, f"Finding entities in {chars:,} characters…")

                for doc, ents in zip(pending, tagger.tag_many([d.text for d in pending], progress=step,
                                                              cancelled=cancelled)):
                    doc.entities = ents
            return pending

        # a short note is tagged before a dialog could appear; a long paste gets progress and Cancel
        run_in_background(self, work, title="Tagging the pasted text" if chars > 20_000 else None,
                          on_success=self._store,
                          on_failure=lambda m: QMessageBox.warning(self, "Tagging failed", m),
                          on_cancel=lambda: self.statusBar().showMessage(
                              "Tagging cancelled; the pasted text was not added", 8000))

    def import_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in ALL_SUFFIXES)
        files, _ = QFileDialog.getOpenFileNames(self, "Import documents", "", f"Documents ({patterns});;All files (*)")
        if files:
            self.import_files([Path(f) for f in files])

    def import_files(self, files: list[Path], text_column: str | None = None) -> None:
        """Import in the background; for spreadsheets, first ask which column holds the text."""
        tables = [f for f in files if f.suffix.lower() in TABLE_SUFFIXES]
        if not tables or text_column is not None:
            self._start_import(files, text_column)
            return
        # the header is read off the UI thread, where a damaged file is an error message, not a crash
        run_in_background(self, lambda progress, cancelled: table_columns(tables[0]), title=None,
                          on_success=lambda columns: self._ask_text_column(files, tables[0], *columns),
                          on_failure=lambda message: self._start_import(files, None))  # the batch lists it

    def _start_import(self, files: list[Path], text_column: str | None) -> None:
        tagger = self.tagger
        run_in_background(
            self, lambda progress, cancelled: import_files(files, tagger, text_column=text_column,
                                                           progress=progress, cancelled=cancelled),
            title=f"Importing {len(files)} file(s)", on_success=self._on_imported,
            on_failure=lambda m: QMessageBox.warning(self, "Import failed", f"Nothing was imported.\n\n{m}"),
            on_cancel=lambda: self.statusBar().showMessage("Import cancelled; nothing was stored", 5000))

    def _ask_text_column(self, files: list[Path], path: Path, header: list[str], guess: int) -> None:
        column, ok = QInputDialog.getItem(self, "Text column", f"Which column of {path.name} holds the text?",
                                          header, guess, False)
        if not ok:
            self.statusBar().showMessage(f"Import cancelled; none of the {len(files)} file(s) was imported", 5000)
            return
        self._start_import(files, column)

    def _on_imported(self, batch) -> None:
        self._store(batch.documents, model_version=batch.model_version)
        if batch.errors:
            shown = batch.errors[:MAX_ERRORS_SHOWN]
            more = len(batch.errors) - len(shown)
            QMessageBox.warning(
                self, "Some files were not imported",
                f"{len(batch.documents)} documents read. {len(batch.errors)} file(s) could not be read; nothing "
                "from them was imported:\n\n" + "\n".join(f"• {m}" for m in shown)
                + (f"\n… and {more} more" if more else ""))

    def _store(self, pending: list[PendingDocument], model_version: str | None = None) -> int:
        """Store tagged documents; returns how many were stored.

        If the database refuses them, the user is told and the documents are kept
        (File › Retry saving) instead of being dropped after all the tagging work.
        """
        version = model_version if model_version is not None else (self.tagger.version if self.tagger else "")
        ids: list[int] = []
        remaining = list(pending)
        try:
            for origin in ("model", "human"):
                items = [(d.title, d.text, d.source, d.entities) for d in remaining if d.origin == origin]
                if items:
                    ids += self.repo.add_documents(items, origin=origin,
                                                   model_version=version if origin == "model" else "")
                    remaining = [d for d in remaining if d.origin != origin]
        except StorageError as exc:
            self.unsaved.append((remaining, version))
            self._update_retry()
            QMessageBox.warning(self, "Documents not saved",
                                f"{exc}\n\n{len(remaining)} document(s) were not saved. They are kept until you "
                                f"quit: File › {self.retry_action.text()} stores them once the problem is solved.")
        if ids:
            self.current_id = max(ids)
            self.refresh_documents()
            self.show_document(self.current_id)
            self.statusBar().showMessage(f"Added {len(ids)} document(s)", 4000)
        return len(ids)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        count = sum(len(docs) for docs, _ in self.unsaved)
        if count and QMessageBox.question(
                self, "Quit without saving?",
                f"{count} document(s) could not be saved in the database and are only in memory. Quit and lose "
                f"them? (Choose No, solve the problem, then File › {self.retry_action.text()}.)") \
                != QMessageBox.StandardButton.Yes:
            event.ignore()
            return
        super().closeEvent(event)

    def retry_unsaved(self) -> None:
        batches, self.unsaved = self.unsaved, []
        stored = sum(self._store(docs, model_version=version) for docs, version in batches)
        self._update_retry()
        if not self.unsaved:
            self.statusBar().showMessage(f"Saved {stored} document(s) that had not been saved", 5000)

    def _update_retry(self) -> None:
        count = sum(len(docs) for docs, _ in self.unsaved)
        self.retry_action.setText(f"Retry saving {count} document(s)")
        self.retry_action.setVisible(count > 0)

    def _reload_after_failure(self) -> None:
        try:
            self.refresh_documents()
            self.show_document(self.current_id)
        except StorageError as exc:  # the database cannot even be read now
            self.statusBar().showMessage(str(exc), 10000)

    def export_dialog(self, suffix: str) -> None:
        names = {".xlsx": "Excel workbook", ".jsonl": "doccano JSONL", ".conll": "CoNLL"}
        path, _ = QFileDialog.getSaveFileName(self, f"Export {names[suffix]}", f"entities{suffix}",
                                              f"{names[suffix]} (*{suffix})")
        if path:
            self.export_to(Path(path).with_suffix(suffix))

    def export_to(self, path: Path) -> None:
        """Write the export in the background; the file appears only once it is complete."""
        def work(progress, cancelled):
            try:
                return export(self.repo, path, progress=lambda a, b: progress(a, b, f"exporting to {path.name}"),
                              cancelled=cancelled)
            except (OSError, ValueError) as exc:
                raise MederError(f"{path}: {exc}") from None

        run_in_background(
            self, work, title=f"Exporting to {path.name}",
            on_success=lambda count: self.statusBar().showMessage(f"Exported {count} documents to {path}", 6000),
            on_failure=lambda m: QMessageBox.warning(self, "Export failed", m),
            on_cancel=lambda: self.statusBar().showMessage("Export cancelled; no file was written", 5000))
