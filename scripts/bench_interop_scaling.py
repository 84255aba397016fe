"""Time doccano and Label Studio import and export of one long note with an entity every 8 characters.

    .venv/bin/python scripts/bench_interop_scaling.py [--sizes 10000 100000 1000000] [--emoji]

Each stage the app runs is timed: export = the stored document written by ``engine.exporting.export``;
import = ``engine.importing.import_files`` (read, parse, check) and storing the batch in a real database.
Prints seconds and microseconds per character for each size, and the largest ratio of the per-character
times between sizes (linear work: close to 1; the target is at most 2). The ratio is taken on CPU seconds of this
process (SQLite runs in it too): on a machine shared with other work, wall-clock seconds say more about the
neighbours than about the code; both are printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UNIT = "কাশি ও, "  # 8 characters; the entity is its first word (4 characters)


def note(chars: int, *, emoji: bool) -> tuple[str, list]:
    from engine.spans import Entity

    head = "🙂 " if emoji else ""  # a character past U+FFFF: doccano and Label Studio count it as two
    text = head + UNIT * ((chars - len(head)) // len(UNIT))
    return text, [Entity(len(head) + i, len(head) + i + 4, "Symptom") for i in range(0, len(text) - len(head), 8)]


def run(chars: int, fmt: str, *, emoji: bool) -> dict:
    from engine.exporting import export
    from engine.importing import import_files
    from engine.storage import NewDocument, Repository

    text, entities = note(chars, emoji=emoji)
    suffix = ".jsonl" if fmt == "doccano" else ".json"
    with tempfile.TemporaryDirectory() as tmp:
        repo = Repository(Path(tmp) / "source.sqlite3")
        [doc_id] = repo.add_documents([NewDocument("long note", text, "bench", entities)], origin="human")
        repo.set_reviewed(doc_id)
        path = Path(tmp) / f"out{suffix}"
        began, cpu = time.perf_counter(), time.process_time()
        export(repo, path, fmt=fmt)
        exported, exported_cpu = time.perf_counter() - began, time.process_time() - cpu
        repo.close()
        target = Repository(Path(tmp) / "target.sqlite3")
        began, cpu = time.perf_counter(), time.process_time()
        batch = import_files([path], None)
        assert not batch.errors, batch.errors
        [doc] = batch.documents
        target.store_batch([NewDocument(doc.title, doc.text, doc.source, doc.entities, reviewed=doc.reviewed)],
                           origin=doc.origin)
        imported, imported_cpu = time.perf_counter() - began, time.process_time() - cpu
        assert doc.text == text and [(e.start, e.end) for e in doc.entities] == [(e.start, e.end) for e in entities]
        target.close()
    return {"format": fmt, "chars": len(text), "entities": len(entities),
            "export_wall_s": round(exported, 3), "export_cpu_s": round(exported_cpu, 3),
            "import_wall_s": round(imported, 3), "import_cpu_s": round(imported_cpu, 3),
            "export_us_per_char": round(exported_cpu / len(text) * 1e6, 3),
            "import_us_per_char": round(imported_cpu / len(text) * 1e6, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--formats", nargs="+", default=["doccano", "labelstudio"])
    parser.add_argument("--emoji", action="store_true", help="start the note with an emoji (UTF-16 offsets differ)")
    args = parser.parse_args()
    rows = []
    for fmt in args.formats:
        for n in args.sizes:
            rows.append(run(n, fmt, emoji=args.emoji))
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    worst = 1.0
    for fmt in args.formats:
        for stage in ("export", "import"):
            per_char = [r[f"{stage}_us_per_char"] for r in rows if r["format"] == fmt]
            ratio = max(per_char) / max(min(per_char), 1e-9)
            worst = max(worst, ratio)
            print(f"{fmt} {stage}: CPU µs per character {per_char}, largest / smallest = {ratio:.2f}")
    print(f"worst ratio {worst:.2f} (target: at most 2)")
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
