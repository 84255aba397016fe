"""Draw the real-text assertion set's mentions from Bangla-HealthNER (the recorded sampling rule).

Rule (seed 20261202, fixed before any labelling or scoring):

1. Mentions are the gold spans of the types that carry an assertion (Symptom, Health Condition, Medical
   Procedure, Medicine) in ``../shared/data/bangla-healthner/healthner-{a,b}.json``.
2. A document is *Latin-script* when it has more tokens with Latin letters than with Bangla letters.
   Documents are drawn independently: Bangla-script ones with probability 0.22, Latin-script ones with 0.35
   (oversampled so that Banglish/English is measured on enough mentions).
3. In a drawn document every mention whose sentence (tokens up to and including । ? ! . |) holds a *cue*
   is taken; the others with probability 0.4. A cue is a first word of a trigger phrase of
   ``engine/assertion_rules.json`` as it was on 2026-12-02, a "?", or a token ending in a glued negation,
   condition or past form (না নি নাই নেই লে ছিল ছিলো ছিলাম ছিলেন).
4. Each drawn document goes to ``dev`` or ``test`` by its SHA-256 (file and index): 60 % dev.

Each mention records its stratum and inclusion probability, so a weighted (population) estimate is
``sum(w * correct) / sum(w)`` with ``w = 1 / probability``. The texts are not copied into the project
(their licence is CC BY-NC-SA): mentions point at the file, document index and token range, and
``engine.assertion_set`` reads them from the data folder.

Run: ``python scripts/sample_assertion_set.py [DATA_DIR]`` (rewrites ``tests/data/assertion_real/mentions.jsonl``).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "assertion_real" / "mentions.jsonl"
SEED = 20261202
DOC_PROBABILITY = {"bangla": 0.22, "latin": 0.35}
NO_CUE_PROBABILITY = 0.4
DEV_SHARE = 0.6
CARRY = ("Symptom", "Health Condition", "Medical Procedure", "Medicine")
SENTENCE_ENDS = {"।", "?", "!", ".", "|"}
GLUED = re.compile(r"(না|নি|নাই|নেই|লে|ছিল|ছিলো|ছিলাম|ছিলেন)$")


def cue_words() -> set[str]:
    rules = json.loads((ROOT / "engine" / "assertion_rules.json").read_text(encoding="utf-8"))
    return {p.split()[0].lower() for group in rules["triggers"] for p in group["phrases"]}


def is_latin(tokens: list[str]) -> bool:
    latin = sum(bool(re.search("[a-zA-Z]", t)) for t in tokens)
    bangla = sum(bool(re.search("[\u0980-\u09ff]", t)) for t in tokens)
    return latin > bangla


def sentences(tokens: list[str]) -> list[range]:
    out, start = [], 0
    for i, t in enumerate(tokens):
        if t in SENTENCE_ENDS:
            out.append(range(start, i + 1))
            start = i + 1
    if start < len(tokens):
        out.append(range(start, len(tokens)))
    return out


def split_of(source: str, index: int) -> str:
    digest = hashlib.sha256(f"{source}:{index}".encode()).digest()
    return "dev" if int.from_bytes(digest[:4], "big") / 2**32 < DEV_SHARE else "test"


def mentions(tokens: list[str], labels: list[str]) -> list[tuple[int, int, str]]:
    out = []
    for i, tag in enumerate(labels):
        if tag.startswith("B-"):
            kind, end = tag[2:], i + 1
            while end < len(labels) and labels[end] == f"I-{kind}":
                end += 1
            out.append((i, end, kind))
    return out


def draw(data_dir: Path) -> list[dict]:
    rng = random.Random(SEED)
    cues = cue_words()
    rows = []
    for name in ("healthner-a", "healthner-b"):
        documents = json.loads((data_dir / f"{name}.json").read_text(encoding="utf-8"))
        for index, doc in enumerate(documents):
            tokens, labels = doc["text"].split(), doc["labels"]
            script = "latin" if is_latin(tokens) else "bangla"
            doc_p = DOC_PROBABILITY[script]
            if rng.random() >= doc_p:
                continue
            sentence_of = {i: s for s in sentences(tokens) for i in s}
            for first, end, kind in mentions(tokens, labels):
                if kind not in CARRY:
                    continue
                cue = any(tokens[j].lower() in cues or tokens[j] == "?" or GLUED.search(tokens[j])
                          for j in sentence_of[first])
                mention_p = 1.0 if cue else NO_CUE_PROBABILITY
                if not cue and rng.random() >= NO_CUE_PROBABILITY:
                    continue
                rows.append({"id": f"{name[-1]}{index:04d}-{first}", "source": name, "document": index,
                             "tokens": [first, end], "type": kind, "words": " ".join(tokens[first:end]),
                             "stratum": f"{'cue' if cue else 'no-cue'}/{script}",
                             "probability": round(doc_p * mention_p, 4), "split": split_of(name, index)})
    return rows


def main() -> None:
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "bangla-healthner"
    rows = draw(data_dir)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    from collections import Counter
    print(f"{len(rows)} mentions from {len({(r['source'], r['document']) for r in rows})} documents -> {OUT}")
    print(Counter((r["split"], r["stratum"]) for r in rows))


if __name__ == "__main__":
    main()
