"""The log masks English note text that an error quotes, as it masks Bangla (a real log file, read back)."""

from __future__ import annotations

import logging

from engine.logs import LOG_FILE, QUOTED_MASK, start_logging, stop_logging


def test_an_error_quoting_an_english_note_is_masked_in_the_log(tmp_path):
    start_logging(tmp_path)
    try:
        note, stated = "Patient Rahim has high fever", "took Napa 500 mg twice"
        try:  # as a reader words it; the traceback's source line shows only the code
            raise ValueError(f"span [0, 4) (Symptom) is {note!r} in the text, but the file says \"{stated}\"")
        except ValueError:
            logging.getLogger("engine.importing").exception("import of 'Health Condition' in '/tmp/notes.csv' failed")
        for handler in logging.getLogger().handlers:
            handler.flush()
    finally:
        stop_logging()
    written = (tmp_path / LOG_FILE).read_text(encoding="utf-8")
    assert "Rahim" not in written and "Napa" not in written and written.count(QUOTED_MASK) == 2
    assert "'Health Condition'" in written and "'/tmp/notes.csv'" in written  # type names and paths stay readable
