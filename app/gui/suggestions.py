"""Model › Suggestions: suggest more / balanced / fewer entities (the model folder's decoder and threshold).

The levels come from the model folder (``ModelConfig.suggestion_levels``, chosen on dev by ``trainer tune``;
balanced needs the fewest corrections); the choice is remembered in the data folder, and changing it offers to
re-tag the unreviewed documents (in the background, with progress and Cancel; one Ctrl+Z undoes it).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from engine.errors import ModelError, StorageError
from engine.model_config import SUGGESTION_LEVELS, ModelConfig
from engine.tagger import Tagger

SETTING = "suggestion_level"  # in the repository's settings, like the text size
TITLES = {
    "more": "Suggest more (fewer missed entities, more to correct)",
    "balanced": "Balanced (fewest corrections)",
    "fewer": "Suggest fewer (only the likeliest, more to find yourself)",
}
assert set(TITLES) == set(SUGGESTION_LEVELS)


class SuggestionLevels(QObject):
    """The three checkable menu entries and what choosing one does; the window keeps the tagger."""

    def __init__(self, window: QWidget, menu: QMenu) -> None:
        super().__init__(window)
        self.window = window
        self.offer: QMessageBox | None = None
        group = QActionGroup(self)
        self.actions: dict[str, QAction] = {}
        for level in SUGGESTION_LEVELS:
            action = menu.addAction(TITLES[level])
            action.setCheckable(True)
            action.setObjectName(f"suggest_{level}")
            group.addAction(action)
            action.triggered.connect(partial(self._on_chosen, level))
            self.actions[level] = action
        self.actions[self.level()].setChecked(True)

    def level(self) -> str:
        stored = self.window.repo.setting(SETTING, "balanced")
        return stored if stored in SUGGESTION_LEVELS else "balanced"

    def apply(self, tagger: Tagger, model_dir: Path) -> None:
        """Decode as the remembered level says for this model folder (read again for each model loaded)."""
        try:
            decoding, threshold = ModelConfig.load(model_dir).decoding_for(self.level())
        except ModelError:  # the folder was just loaded, so this is a race with its removal: keep its own decoder
            return
        tagger.decoding, tagger.threshold = decoding, threshold

    def _on_chosen(self, level: str) -> None:
        if level == self.level():
            return
        repo = self.window.repo
        if not repo.read_only:
            try:
                repo.set_setting(SETTING, level)
            except StorageError:
                pass  # a preference: the level still applies until the app is closed
        tagger = self.window.tagger
        if tagger is None:
            return
        self.apply(tagger, self.window.model_dir)
        unreviewed = sum(1 for d in repo.documents() if not d.reviewed)
        self.window.statusBar().showMessage(f"{TITLES[level]}: new documents are tagged this way", 6000)
        if not unreviewed or repo.read_only:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Suggestions changed",
                          f"Re-tag the {unreviewed} unreviewed document{'s' * (unreviewed != 1)} this way?\n\n"
                          "Reviewed documents are never changed, and Ctrl+Z undoes the re-tagging.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.window)
        box.setObjectName("retag_offer")
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        box.accepted.connect(self.window.retag_unreviewed)
        self.offer = box
        box.open()
