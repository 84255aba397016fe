"""Score the assertion rules on assertion-labelled doccano JSONL (gold spans): accuracy, per-class P/R/F1.

    .venv/bin/python scripts/eval_assertion.py tests/data/assertion/dev.jsonl [--rules FILE] [--errors]

The same figures come from ``python -m trainer evaluate --assertion-data FILE`` (no model needed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.assertion import load_rules, score_assertions  # noqa: E402
from engine.formats import jsonl  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+", type=Path, help="doccano JSONL with [start, end, type, {assertion}]")
    parser.add_argument("--rules", type=Path, help="a rules file (default: engine/assertion_rules.json)")
    parser.add_argument("--errors", action="store_true", help="list every wrong assertion")
    args = parser.parse_args(argv)
    rules = load_rules(args.rules)
    for path in args.data:
        score = score_assertions(jsonl.parse(path.read_text(encoding="utf-8"), path), rules)
        print(path, json.dumps(score.as_dict(), ensure_ascii=False, indent=1))
        if args.errors:
            for text, finding, gold, predicted in score.errors:
                print(f"  {finding!r}: gold {gold}, rules {predicted} | {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
