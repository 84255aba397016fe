"""The clinic's documents, entities and edit history in one SQLite file.

Only this package touches SQL. ``schema`` holds the tables, migrations and the
checks made before a file is opened; ``rules`` the pure edit rules (words,
overlaps, occurrences, boundary nudges); ``repository`` the connection,
transactions, reads, edits and undo. Backups and salvage live in
:mod:`engine.backup`.
"""

from __future__ import annotations

from engine.backup import SalvageReport, salvage
from engine.storage.repository import (
    Change,
    NewDocument,
    Repository,
    StoredBatch,
    StoredDocument,
    StoredEntity,
    StoredImport,
)
from engine.storage.rules import EditRefused
from engine.storage.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    SQLITE_MAGIC,
    DamagedDatabase,
    EmptyDatabase,
    check_database_file,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SQLITE_MAGIC", "Change", "DamagedDatabase", "EditRefused",
           "EmptyDatabase", "NewDocument", "Repository", "SalvageReport", "StoredBatch", "StoredDocument", "StoredEntity",
           "StoredImport", "check_database_file", "salvage"]
