"""The Help menu's pages: the shortcut sheet (from the key map), how to review, and About."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from app import __version__
from app.gui import keymap

HOW_TO_REVIEW = """
<h3>How to review a document</h3>
<ol>
<li>Pick a document in the list (sort it by a column header; <i>Conf.</i> puts the least certain first;
filter it by status or entity type). Ctrl+Enter, Ctrl+Down and Ctrl+Up follow the list as you see it.</li>
<li>Read the text. <b>Suggestions</b> from the model are pale with a dotted underline (a dashed red one when
the model is less than 60&nbsp;% sure); <b>accepted</b> entities are fully coloured; entities <b>you made</b>
are fully coloured with a line above.</li>
<li>Fix what is wrong: N / P select the next / previous entity; a number key changes its type; Alt+arrows move
its start or end by one word; Delete rejects it. To add one, select its words and press the type's number
(press another number at once to change that type).</li>
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


def model_card_summary(model_dir: Path | None) -> str:
    """The first paragraphs of the bundled model card (data, split), or a line saying it is missing."""
    for folder in ([model_dir.parent] if model_dir else []) + [Path(__file__).resolve().parents[2] / "model_assets"]:
        card = folder / "MODEL_CARD.md"
        if card.is_file():
            text = card.read_text(encoding="utf-8")
            parts = [p for p in text.split("\n\n") if p.strip() and not p.startswith("#")][:3]
            return "".join(f"<p>{escape(' '.join(p.split()))}</p>" for p in parts)
    return "<p>The model card was not found beside the model.</p>"


def about_dialog(parent: QWidget, *, model_version: str, model_dir: Path | None) -> QDialog:
    html = (f"<h3>Bangla MedER {escape(__version__)}</h3>"
            "<p>Finds medical entities in Bangla clinical text, offline. Every suggestion is a suggestion: "
            "strict micro-F1 is about 0.53 on held-out data.</p>"
            f"<p><b>Model</b>: {escape(model_version or 'not loaded')}"
            f"{' (' + escape(str(model_dir)) + ')' if model_dir else ''}</p>"
            f"<h4>Model card</h4>{model_card_summary(model_dir)}"
            "<h4>Licences</h4><ul>"
            "<li>The bundled models are trained on Bangla-HealthNER (CC BY-NC-SA 4.0) and inherit its "
            "non-commercial, share-alike terms.</li>"
            "<li>Base encoder: multilingual-e5-small (MIT).</li>"
            "<li>Noto Sans Bengali font: SIL Open Font License 1.1.</li>"
            "<li>Qt for Python (PySide6): LGPLv3. ONNX Runtime: MIT. openpyxl: MIT. PyTorch, NumPy: BSD. "
            "tokenizers, transformers: Apache-2.0.</li>"
            "<li>The app's code: MIT (the <tt>LICENSE</tt> file). The full notices, and how to relink Qt, are in "
            "the <tt>licenses</tt> folder of the installation.</li></ul>")
    return _page(parent, "About Bangla MedER", html, "help_about")
