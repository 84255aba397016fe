"""The Help menu's pages: the shortcut sheet (from the key map), how to review, and About."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from app import __version__
from app.gui import keymap
from engine.model_layout import REPORT_FILE
from engine.trainer_contract import read_report

HOW_TO_REVIEW = """
<h3>How to review a document</h3>
<ol>
<li>Pick a document in the list (sort it by a column header; <i>Conf.</i> puts the least certain first;
filter it by status or entity type). Ctrl+Enter, Ctrl+Down and Ctrl+Up follow the list as you see it.</li>
<li>Read the text. <b>Suggestions</b> from the model are pale with a dotted underline (a dashed red one when
the model is less than 60&nbsp;% sure); <b>accepted</b> entities are fully coloured; entities <b>you made</b>
are fully coloured with a line above.</li>
<li>Fix what is wrong: N / P select the next / previous entity; a number key changes its type; Alt+arrows move
its start or end by one word (or [ ] for the start, , . for the end); Delete rejects it. To add one, select its
words and press the type's number (press another number at once to change that type). Without the mouse: F6
goes into the text, Left / Right move a word, Shift+Left / Shift+Right select word by word, Esc goes back to
the list; Tab walks list → text → entity table.</li>
<li>Check whether each finding is the patient's now: one the model judges <b>absent</b> is struck through,
<i>possible</i> and <i>hypothetical</i> (advised, planned, only if) are italic, past and family have coloured
letters; the legend and the tooltip say which. The model marks only what it is fairly sure of, so a plain finding
may still be absent: Shift+N cycles present → absent → possible → past → family → hypothetical. An entity you add
or resize gets the model's judgement, which you can cycle the same way.</li>
<li>Press <b>Ctrl+Enter</b>: what you see is stored as accepted and the next unreviewed document opens.</li>
</ol>
<p>Every edit is saved at once and can be undone (Ctrl+Z), also after a restart. Only reviewed documents are
used to retrain the model and in the JSONL / CoNLL exports.</p>
"""


def _page(parent: QWidget, title: str, html: str, name: str) -> QDialog:
    dialog = QDialog(parent)
    dialog.setObjectName(name)
    dialog.setWindowTitle(title)
    browser = QTextBrowser()
    browser.setOpenExternalLinks(False)
    browser.setHtml(html)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(browser)
    layout.addWidget(buttons)
    dialog.browser = browser
    dialog.resize(640, 560)
    return dialog


def shortcuts_dialog(parent: QWidget) -> QDialog:
    return _page(parent, "Keyboard shortcuts", "<h3>Keyboard shortcuts</h3>" + keymap.sheet_html(), "help_keys")


def review_dialog(parent: QWidget) -> QDialog:
    return _page(parent, "How to review", HOW_TO_REVIEW, "help_review")


def model_card(model_dir: Path | None) -> Path | None:
    """The model card beside the model, else the bundled one (None when neither is there)."""
    for folder in ([model_dir.parent] if model_dir else []) + [Path(__file__).resolve().parents[2] / "model_assets"]:
        card = folder / "MODEL_CARD.md"
        if card.is_file():
            return card
    return None


def accuracy_words(model_dir: Path | None) -> str:
    """How well the model does and what it learnt from, in plain words, from the figures stored with it: a
    retrained version's check on the clinic's own reviewed documents, or the bundled model's measurement on
    documents held out of its training."""
    if model_dir is None:
        return "No model is loaded."
    report_path = model_dir.parent / REPORT_FILE
    if report_path.is_file():
        try:
            report = read_report(json.loads(report_path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            report = None
        if report is not None:
            new, counts = report.held_out.new, report.counts
            learnt = (f"It was retrained from {counts.reviewed} of your reviewed documents"
                      f"{f' and {counts.unreviewed} unreviewed ones' if counts.unreviewed else ''}.")
            if not new.ok or not new.entities:
                return f"{learnt} It could not be checked: too few reviewed documents were set aside."
            return (f"{learnt} On {new.documents} reviewed documents set aside for the check, holding "
                    f"{new.entities} entities, it found {new.exact} exactly ({new.exact / new.entities:.0%}); "
                    f"{new.wrong} of its {new.predicted} suggestions needed a correction.")
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "The model's figures could not be read."
    training = config.get("training") or {}
    tuning = training.get("review_effort_tuning") or {}
    data = Path(str(training.get("data", ""))).name or "labelled Bangla health text"
    parts = [f"It learnt from {training['train_documents']:,} labelled documents of {data}"
             if "train_documents" in training else f"It learnt from {data}"]
    if training.get("transfer_data"):
        parts[0] += f" and from unlabelled Bangla health text ({Path(str(training['transfer_data'])).name})"
    parts[0] += "."
    f1 = tuning.get("dev_strict_micro_f1", training.get("dev_strict_micro_f1"))
    if f1 is not None:
        parts.append(f"On documents kept out of its training, about {round(f1 * 10)} in 10 of the entities it "
                     "marks are exactly right (same words, same type).")
    if "dev_missed_share" in tuning:
        parts.append(f"It misses about {tuning['dev_missed_share']:.0%} of the entities, so read the whole text.")
    if "dev_review_effort_per_100" in tuning:
        parts.append(f"Reviewing takes about {tuning['dev_review_effort_per_100']:.0f} key presses or clicks "
                     "per 100 entities.")
    return " ".join(parts)


def model_card_dialog(parent: QWidget, card: Path) -> QDialog:
    """The model card as rendered text (headings, tables, lists), not Markdown source."""
    dialog = _page(parent, "Model card", "", "model_card")
    dialog.browser.setMarkdown(card.read_text(encoding="utf-8"))
    dialog.resize(820, 640)
    return dialog


def about_dialog(parent: QWidget, *, model_version: str, model_dir: Path | None) -> QDialog:
    html = (f"<h3>Bangla MedER {escape(__version__)}</h3>"
            "<p>Finds medical entities in Bangla clinical text, offline. Every suggestion is a suggestion to "
            "check.</p>"
            f"<p><b>Model version</b>: {escape(model_version or 'not loaded')}</p>"
            f"<p><b>How well it does</b>: {escape(accuracy_words(model_dir))}</p>"
            "<h4>Licences</h4><ul>"
            "<li>The bundled models are trained on Bangla-HealthNER (CC BY-NC-SA 4.0) and inherit its "
            "non-commercial, share-alike terms.</li>"
            "<li>Base encoder: multilingual-e5-small (MIT).</li>"
            "<li>Noto Sans Bengali font: SIL Open Font License 1.1.</li>"
            "<li>Qt for Python (PySide6): LGPLv3. ONNX Runtime: MIT. openpyxl: MIT. PyTorch, NumPy: BSD. "
            "tokenizers, transformers: Apache-2.0.</li>"
            "<li>The app's code: MIT (the <tt>LICENSE</tt> file). The full notices, and how to relink Qt, are in "
            "the <tt>licenses</tt> folder of the installation.</li></ul>")
    dialog = _page(parent, "About Bangla MedER", html, "help_about")
    card = model_card(model_dir)
    if card is not None:  # the whole card, for those who want the figures behind the summary
        button = QPushButton("Model card…")
        button.setObjectName("open_model_card")
        button.clicked.connect(lambda: _keep(dialog, model_card_dialog(dialog, card)).show())
        dialog.layout().insertWidget(1, button)
    return dialog


def _keep(owner: QDialog, child: QDialog) -> QDialog:
    owner.card = child  # kept while the About box lives (and found there by tests)
    return child
