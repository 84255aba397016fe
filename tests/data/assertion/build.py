"""Build dev.jsonl / test.jsonl from the marked-up notes in dev.txt / test.txt, and verify every span.

Markup: ``[words|T|A]`` marks an entity; T is S (Symptom), H (Health Condition), P (Medical Procedure),
M (Medicine), D (Dosage), A (Age) or X (Specialist); A is the assertion (p present, n absent, q possible,
h past, f family, c hypothetical), left out for the types that carry none (D, A, X). Lines starting with
``#`` are comments. Run: ``python tests/data/assertion/build.py`` (it rewrites the two .jsonl files, then
reads them back and checks each span's text, bounds and assertion).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
TYPES = {"S": "Symptom", "H": "Health Condition", "P": "Medical Procedure", "M": "Medicine", "D": "Dosage",
         "A": "Age", "X": "Specialist"}
ASSERTIONS = {"p": "present", "n": "absent", "q": "possible", "h": "past", "f": "family", "c": "hypothetical"}
CARRY = {"Symptom", "Health Condition", "Medical Procedure", "Medicine"}
MARK = re.compile(r"\[([^\[\]|]+)\|([A-Z])(?:\|([a-z]))?\]")


def parse_line(line: str) -> tuple[dict, list[str]]:
    text, labels, surfaces, pos = "", [], [], 0
    for m in MARK.finditer(line):
        text += line[pos:m.start()]
        start = len(text)
        text += m.group(1)
        kind = TYPES[m.group(2)]
        span: list = [start, len(text), kind]
        if m.group(3):
            span.append({"assertion": ASSERTIONS[m.group(3)]})
        labels.append(span)
        surfaces.append(m.group(1))
        pos = m.end()
    text += line[pos:]
    if "[" in text or "]" in text:
        raise ValueError(f"unbalanced markup in: {line}")
    return {"text": text, "label": labels}, surfaces


def build(name: str) -> Counter:
    records, expected = [], []
    for raw in (HERE / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            record, surfaces = parse_line(raw.strip())
            records.append(record)
            expected.append(surfaces)
    out = HERE / f"{name}.jsonl"
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return verify(out, expected)


def verify(path: Path, expected: list[list[str]]) -> Counter:
    """Read the written file back: every span's text, bounds, type and assertion must be right."""
    counts: Counter = Counter()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(expected), (path, len(lines), len(expected))
    for number, (line, surfaces) in enumerate(zip(lines, expected), start=1):
        record = json.loads(line)
        text = record["text"]
        # doccano counts UTF-16 units: with only BMP characters they equal Python's code points
        assert all(ord(ch) < 0x10000 for ch in text), (path, number)
        previous_end = 0
        assert len(record["label"]) == len(surfaces), (path, number)
        for span, surface in zip(record["label"], surfaces):
            start, end, kind = span[:3]
            assert 0 <= previous_end <= start < end <= len(text), (path, number, span)
            assert text[start:end] == surface and surface == surface.strip(), (path, number, span, surface)
            previous_end = end
            if kind in CARRY:
                assert len(span) == 4 and span[3]["assertion"] in ASSERTIONS.values(), (path, number, span)
                counts[span[3]["assertion"]] += 1
            else:
                assert len(span) == 3, (path, number, span)
                counts["(no assertion)"] += 1
    return counts


if __name__ == "__main__":
    total = 0
    for part in ("dev", "test"):
        counts = build(part)
        mentions = sum(v for k, v in counts.items() if k != "(no assertion)")
        total += mentions
        print(part, mentions, dict(sorted(counts.items())))
    print("assertion-labelled mentions:", total)
    sys.exit(0 if total >= 300 else 1)
