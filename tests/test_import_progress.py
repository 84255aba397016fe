"""A long JSONL import says how far it is while the file is read, and stops at Cancel with nothing kept."""

from __future__ import annotations

import json

import pytest

from engine.errors import OperationCancelled
from engine.importing import import_files


def _doccano(path, lines: int) -> None:
    path.write_text("".join(json.dumps({"text": f"রোগী {i}: জ্বর আছে", "label": [[8 + len(str(i)), 12 + len(str(i)),
                                                                                 "Symptom"]]}, ensure_ascii=False)
                            + "\n" for i in range(lines)), encoding="utf-8")


def test_reading_reports_how_far_it_is_as_it_goes(tmp_path):
    path = tmp_path / "big.jsonl"
    _doccano(path, 3000)
    calls = []
    batch = import_files([path], None, progress=lambda done, total, what: calls.append((done, total, what)))
    assert len(batch.documents) == 3000 and not batch.errors
    size = path.stat().st_size  # read from disk a line at a time: how far is in bytes
    reading = [(done, total) for done, total, what in calls if what == "reading big.jsonl" and total == size]
    assert len(reading) == 6  # every 500 lines
    assert [done for done, _ in reading] == sorted(done for done, _ in reading) and reading[-1][0] <= size
    # each document is checked as it is read: no second pass, and nothing else holds the bar up
    assert [what for _, _, what in calls] == ["reading big.jsonl"] * 7


def test_cancel_while_reading_stops_the_import(tmp_path):
    path = tmp_path / "big.jsonl"
    _doccano(path, 3000)
    seen = []
    with pytest.raises(OperationCancelled):
        import_files([path], None, progress=lambda done, total, what: seen.append(done),
                     cancelled=lambda: len(seen) >= 3)
    assert len(seen) == 3


def test_a_long_csv_says_how_far_it_is_and_stops_at_cancel(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("id,note\n" + "".join(f"{i},রোগী {i}: জ্বর আছে, কাশি নেই\n" for i in range(5000)), encoding="utf-8")
    calls = []
    batch = import_files([path], None, text_column="note", progress=lambda done, total, what: calls.append(
        (done, total, what)))
    assert len(batch.documents) == 5000 and not batch.errors
    reading = [(done, total) for done, total, what in calls if what == "reading big.csv" and total > 1]
    assert len(reading) >= 4 and all(done <= total for done, total in reading)
    with pytest.raises(OperationCancelled):
        import_files([path], None, text_column="note", progress=lambda done, total, what: calls.append(done),
                     cancelled=lambda: len(calls) > len(reading) + 3)
