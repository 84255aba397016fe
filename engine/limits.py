"""Size limits on what the app reads, in one place; the README's "Limits" section lists them.

Each limit keeps one hostile or damaged file from taking the whole computer's memory or time;
real clinical files stay far below them.
"""

from __future__ import annotations

MAX_DOCUMENT_CHARS = 1_000_000  # one document: a text file, a spreadsheet cell, a paste (~300 pages)
MAX_FILE_BYTES = 100_000_000  # an annotated file, a .csv, or the uncompressed parts of an .xlsx together
MAX_JSON_DEPTH = 64  # nesting of arrays/objects in .json/.jsonl; the formats we read need fewer than 10
