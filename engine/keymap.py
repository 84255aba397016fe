"""Every keyboard shortcut of the app, in one place: the window binds them from here, the help sheet lists them
and the review-effort measure (engine/review_effort.py) counts a reviewer's corrections in them.

Plain data, no Qt, so the trainer can read it too. Tab stays Qt's focus key; the entity keys are plain letters and Alt+arrows,
which the read-only text view does not use.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    action: str  # the window's name for it
    keys: tuple[str, ...]  # QKeySequence strings (portable text form); "" for a platform standard key
    title: str  # as the menu and the help sheet say it
    group: str


KEYS: tuple[Key, ...] = (
    Key("paste", ("Ctrl+V",), "New document from the clipboard", "Documents"),
    Key("import", ("Ctrl+O",), "Import files…", "Documents"),
    Key("export_xlsx", ("Ctrl+E",), "Export to Excel…", "Documents"),
    Key("rename_document", ("F2",), "Rename document…", "Documents"),
    Key("delete_document", ("Ctrl+Delete",), "Delete document", "Documents"),
    Key("quit", ("Ctrl+Q",), "Quit", "Documents"),
    Key("mark_reviewed", ("Ctrl+Return", "Ctrl+Enter"), "Mark reviewed and go to the next in the list", "Review"),
    Key("next_unreviewed", ("Ctrl+Down",), "Next unreviewed document in the list", "Review"),
    Key("previous_unreviewed", ("Ctrl+Up",), "Previous unreviewed document in the list", "Review"),
    Key("focus_filter", ("Ctrl+F",), "Filter the list", "Review"),
    Key("focus_text", ("F6",),
        "Go to the text: Left / Right move the caret a word, Shift+Left / Shift+Right select word by word, then a "
        "number key makes the selection an entity (Tab: list → text → entity table)", "Review"),
    Key("focus_list", ("Esc",), "Back to the document list", "Review"),
    Key("next_entity", ("N",), "Select the next entity", "Entities"),
    Key("previous_entity", ("P",), "Select the previous entity", "Entities"),
    Key("label", ("1", "2", "3", "4", "5", "6", "7", "8", "9"),
        "Add the selected text as that type, or change the selected entity to it (the legend shows the numbers)",
        "Entities"),
    Key("accept", ("A",), "Accept the selected suggestion", "Entities"),
    Key("delete", ("Delete", "X"), "Reject / delete the selected entity", "Entities"),
    Key("accept_all", ("Ctrl+Shift+A",), "Accept every suggestion in the document", "Entities"),
    Key("resize", ("Ctrl+R",), "Resize the selected entity to the selected text", "Entities"),
    Key("mark_all", ("M",), "Mark all occurrences of the selected entity's words", "Entities"),
    Key("cycle_assertion", ("Shift+N",),
        "Next assertion of the selected finding: present, absent, possible, past, family, hypothetical", "Entities"),
    # plain keys first: no common window manager takes them (GNOME, KDE and Xfce can take Alt+Shift+arrows);
    # "[" "]" move the start, "," "." the end, each to the left / right
    Key("start_left", ("[", "Alt+Left"), "Grow the selected entity by one word at its start", "Boundaries"),
    Key("start_right", ("]", "Alt+Shift+Right"), "Shrink the selected entity by one word at its start",
        "Boundaries"),
    Key("end_left", (",", "Alt+Shift+Left"), "Shrink the selected entity by one word at its end", "Boundaries"),
    Key("end_right", (".", "Alt+Right"), "Grow the selected entity by one word at its end", "Boundaries"),
    Key("undo", ("Ctrl+Z",), "Undo", "Edit"),
    Key("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", "Edit"),
    Key("zoom_in", ("Ctrl+=", "Ctrl++"), "Larger text", "View"),
    Key("zoom_out", ("Ctrl+-",), "Smaller text", "View"),
    Key("zoom_reset", ("Ctrl+0",), "Text at its usual size", "View"),
    Key("help_keys", ("F1",), "This list of keys", "Help"),
)

_BY_ACTION = {k.action: k for k in KEYS}


def keys_for(action: str) -> tuple[str, ...]:
    """The key sequences bound to ``action`` (a KeyError names an action the map lacks)."""
    return _BY_ACTION[action].keys


def title_for(action: str) -> str:
    return _BY_ACTION[action].title
