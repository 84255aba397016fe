"""Experiment: two model folders on the same part of the HealthNER split, with a paired bootstrap.

Prints, per model, strict micro/macro-F1 and corrections per 100 gold entities, then the strict micro-F1
difference (first minus second) with its 95 % interval from resampling documents (both models scored on
the same resampled documents). Select on ``--part dev``; score an adopted model on test once.

    .venv/bin/python scripts/compare_models.py NEW_FOLDER model_assets/student-int8 \
        --data ../shared/data/bangla-healthner --part test
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from engine.spans import entities_to_tags
    from trainer.data import load_dataset, split_dataset
    from trainer.evaluate import load_any_tagger
    from trainer.metrics import document_counts, paired_bootstrap, score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs=2, help="two model folders (ONNX or torch)")
    parser.add_argument("--data", type=Path, required=True, help="the HealthNER folder the build splits")
    parser.add_argument("--part", choices=("dev", "test"), default="dev")
    args = parser.parse_args()
    split = split_dataset(load_dataset(args.data))
    docs = [d for d in getattr(split, args.part) if d.tokens()]
    words = [d.tokens() for d in docs]
    gold = [entities_to_tags(w, d.entities) for w, d in zip(words, docs)]
    out, counts = {}, []
    for folder in args.models:
        tagger = load_any_tagger(folder)
        predicted = tagger.predict_tags(words)
        result = score(gold, predicted)
        out[str(folder)] = {k: result[k] for k in ("strict_micro_f1", "strict_macro_f1", "corrections_per_100",
                                                   "overlap_micro_f1", "strict_micro_f1_ci95")}
        out[str(folder)]["decoder"] = f"{tagger.decoding} {tagger.threshold}" if tagger.decoding == "mbr" else "viterbi"
        counts.append(document_counts(gold, predicted))
    out["paired_difference"] = paired_bootstrap(counts[0], counts[1])
    out["part"], out["documents"] = args.part, len(docs)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
