"""The app's key map (:mod:`engine.keymap`, the one list of shortcuts) as the help sheet shows it."""

from __future__ import annotations

from engine.keymap import KEYS, Key, keys_for, title_for

__all__ = ["KEYS", "Key", "keys_for", "sheet_html", "title_for"]


def sheet_html() -> str:
    """The shortcut sheet (Help › Keyboard shortcuts, F1), grouped as in the menus."""
    rows, group = [], None
    for key in KEYS:
        if key.group != group:
            group = key.group
            rows.append(f'<tr><th colspan="2" align="left"><br>{group}</th></tr>')
        shown = " – ".join((key.keys[0], key.keys[-1])) if key.action == "label" else " or ".join(key.keys)
        rows.append(f"<tr><td><b>{shown}</b></td><td>{key.title}</td></tr>")
    return "<table cellspacing='4'>" + "".join(rows) + "</table>"
