"""A batch import goes on past bad files and names each one."""

from pathlib import Path

from engine.importing import import_files
from engine.runtime import load_tagger
from engine.storage import Repository

ROOT = Path(__file__).resolve().parent.parent


def test_bad_files_are_reported_and_the_batch_continues(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("রোগীর জ্বর ও কাশি। নাপা খেতে বলা হয়েছে।", encoding="utf-8")
    huge = tmp_path / "huge.txt"
    huge.write_text("জ্বর " * 1_500_000, encoding="utf-8")  # 19.5 MB
    nocol = tmp_path / "numbers.csv"
    nocol.write_text("a,b\n1,2\n", encoding="utf-8")
    corrupt = tmp_path / "corrupt.xlsx"
    corrupt.write_bytes(b"PK\x03\x04garbage")
    badline = tmp_path / "bad.jsonl"
    badline.write_text('{"text": "জ্বর", "label": []}\n{oops\n', encoding="utf-8")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 100)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    repo = Repository(tmp_path / "db.sqlite3")
    repo.add_documents([("kept", "আগের লেখা", "x", [])], origin="human")
    tagger = load_tagger(ROOT / "model_assets" / "student-int8")
    batch = import_files([huge, good, nocol, corrupt, badline, binary, empty], tagger)
    messages = "\n".join(batch.errors)
    assert "huge.txt: the file is 19.5 MB" in messages
    assert "Split it into smaller files" in messages
    assert "numbers.csv: no column with text found" in messages
    assert "corrupt.xlsx: not a readable .xlsx" in messages
    assert "bad.jsonl:2: this line is not JSON" in messages
    assert "photo.txt: this looks like a binary file" in messages
    assert "empty.txt: the file is empty" in messages
    assert [d.title for d in batch.documents] == ["good"] and batch.documents[0].entities
    assert [d.title for d in repo.documents()] == ["kept"]  # nothing stored was touched
    repo.close()
