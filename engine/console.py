"""Standard output and error in UTF-8 on every platform.

Windows gives a program whose output goes to a pipe or a file the ANSI code page (cp1252 on most clinic
laptops), which has no Bangla: ``bangla-meder --selftest > out.txt`` and ``extract`` stopped with
UnicodeEncodeError, and the trainer's events and error lines (read by the app as UTF-8) arrived garbled.
A console already gets Python's own UTF-8 console writer, and a windowed app without a console has no
streams (None); both are left as they are.
"""

from __future__ import annotations

import codecs
import sys
from typing import TextIO


def utf8_output(*streams: TextIO | None) -> None:
    """Switch ``streams`` (default: stdout and stderr) to UTF-8 where they use another encoding."""
    for stream in streams or (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if encoding and codecs.lookup(encoding).name != "utf-8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")
