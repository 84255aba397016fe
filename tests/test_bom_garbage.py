"""Bytes that are no text behind a UTF-16 byte-order mark are refused, not stored and tagged as a note."""

from __future__ import annotations

import random

import pytest

from engine.importing import import_files

NOTE = "রোগী: করিম, জ্বর ও কাশি। Napa 500 mg\r\n"


@pytest.mark.parametrize("suffix", [".txt", ".csv", ".jsonl"])
@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff"])
def test_utf16_bom_then_garbage_is_refused(tmp_path, suffix, bom):
    rng = random.Random(7)
    path = tmp_path / f"garbage{suffix}"
    # byte pairs that decode (no lone surrogate), into the CJK-looking nonsense any byte soup becomes
    soup = "".join(chr(rng.choice([rng.randrange(0x3400, 0xD7FF), rng.randrange(0xE000, 0xFFFD)])) for _ in range(2048))
    path.write_bytes(bom + soup.encode("utf-16-le" if bom == b"\xff\xfe" else "utf-16-be"))
    batch = import_files([path], None)
    assert batch.documents == [] and len(batch.errors) == 1
    assert "garbage" in batch.errors[0] and "not text despite its UTF-16 byte-order mark" in batch.errors[0]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_real_utf16_note_still_imports(tmp_path, encoding):
    path = tmp_path / "note.txt"
    raw = NOTE.encode(encoding)
    path.write_bytes(raw if encoding == "utf-16" else b"\xfe\xff" + raw)
    [doc] = import_files([path], None).documents
    assert doc.text.strip() == NOTE.strip()
