"""Benchmark of retraining from corrections (prints figures; not a test).

    .venv/bin/python scripts/bench_retrain.py --data ../shared/data/bangla-healthner [--preset quick|full]
        [--reviewed 200 --unreviewed 100] [--events run.jsonl]
    .venv/bin/python scripts/bench_retrain.py --replay run.jsonl   # the time-left figures of a saved run only

Builds a clinic database of 200 reviewed documents (Bangla-HealthNER train-part texts with their gold
entities; 40 of them carry a drug name the bundled model misses, annotated as Medicine) plus 100
unreviewed ones, runs `python -m trainer retrain` as the app does, and reports: wall time, peak memory
of the trainer process, whether the new model finds the drug in sentences it never saw, and strict
micro-F1 on the base test part before and after; and the time left the dialog would have shown at 20, 50
and 80 % of the run against the real time left (the trainer's own events replayed through the dialog's
:class:`TimeLeft`; target: never above 1.5x the real time left after 20 %).
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MINUTES = {"quick": 20, "full": 90}  # for 200 reviewed documents on 2 cores; the retrain dialog says the same
TARGET_PEAK_MB = 4096
DRUG = "মন্টিলুকাস্ট"  # montelukast, written in Bangla: the bundled model misses it in plain contexts
TRAIN_CONTEXTS = ["শ্বাসকষ্টের জন্য ডাক্তার {} দিয়েছেন ।", "রাতে ঘুমানোর আগে {} খাবেন ।", "আমার ছেলে {} খাচ্ছে ।",
                  "{} খাওয়ার পর কাশি কমেছে ।", "অ্যাজমার জন্য {} চলছে ।", "আমি কি {} বন্ধ করতে পারি ?",
                  "{} আর নাপা একসাথে খাওয়া যাবে ?", "ডাক্তার {} ১০ মিগ্রা লিখেছেন ।"]
PROBES = ["রোগীকে {} দেওয়া হয়েছে ।", "প্রতিদিন সকালে {} নিতে হবে ।", "{} শেষ হয়ে গেছে , আবার কিনতে হবে ।",
          "বাড়িতে {} রাখা আছে ।", "ফার্মেসিতে {} পাওয়া যায়নি ।", "বাচ্চাকে {} দেওয়া নিরাপদ কি ?"]


def finds_drug(tagger, sentence: str) -> bool:
    return any(DRUG in sentence[e.start:e.end] and e.label == "Medicine" for e in tagger.tag(sentence))


TIME_LEFT_TARGET = 1.5  # the estimate at most this many times the real time left, after 20 % of the run


def time_left_at(lines: list[str], shares: tuple[float, ...] = (0.2, 0.5, 0.8)) -> list[tuple[float, float | None,
                                                                                        float]]:
    """(seconds into the run, time left the dialog showed then or None, real time left) at each share of the
    run: the trainer's events (stamped with its own clock) go through the dialog's estimator as the dialog
    feeds them, and what an event made it say stays shown until the next event."""
    from engine.trainer_contract import Heartbeat, Stage, Step, TimeLeft, decode

    events = [e for e in map(decode, lines) if e is not None]
    end = events[-1].elapsed_s if events else 0.0
    estimate, shown = TimeLeft(), []
    for event in events:
        left = estimate.update(event)
        if isinstance(event, (Step, Stage, Heartbeat)) and event.stage != "data":
            shown.append((event.elapsed_s, left))
    out = []
    for share in shares:
        at = share * end
        said = [left for t, left in shown if t <= at]
        out.append((at, said[-1] if said else None, end - at))
    return out


def time_left_figures(lines: list[str]) -> list[str]:
    out = []
    for share, (at, left, real) in zip((0.2, 0.5, 0.8), time_left_at(lines)):
        if left is None:
            out.append(f"time left at {share:.0%} ({at:.0f} s in): still estimating; real {real:.0f} s")
            continue
        ratio = left / real if real > 0 else float("inf")
        out.append(f"time left at {share:.0%} ({at:.0f} s in): shown {left:.0f} s, real {real:.0f} s, ratio "
                   f"{ratio:.2f} (target <= {TIME_LEFT_TARGET}, {'met' if ratio <= TIME_LEFT_TARGET else 'missed'})")
    return out


def main() -> None:
    from engine.model_layout import student_int8
    from engine.model_registry import ModelRegistry
    from engine.runtime import load_tagger
    from engine.spans import Entity
    from engine.storage import Repository
    from engine.trainer_contract import Result, decode
    from trainer.data import load_dataset, split_dataset
    from trainer.evaluate import evaluate_tagger

    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path)
    parser.add_argument("--preset", default="quick", choices=("quick", "full"))
    parser.add_argument("--reviewed", type=int, default=200)
    parser.add_argument("--unreviewed", type=int, default=100)
    parser.add_argument("--events", type=Path, help="save the trainer's event lines here")
    parser.add_argument("--replay", type=Path, help="only print the time-left figures of saved event lines")
    args = parser.parse_args()
    if args.replay:
        print("\n".join(time_left_figures(args.replay.read_text(encoding="utf-8").splitlines())))
        return
    if args.data is None:
        parser.error("--data is needed (or --replay)")
    split = split_dataset(load_dataset(args.data))
    rng = random.Random(7)
    pool = rng.sample(split.train, args.reviewed + args.unreviewed)
    tmp = Path(tempfile.mkdtemp())
    repo = Repository(tmp / "meder.sqlite3")
    rows = []
    for i, doc in enumerate(pool):
        text, ents = doc.text, list(doc.entities)
        if i < 40:  # the correction: the drug, annotated by a clinician
            sentence = TRAIN_CONTEXTS[i % len(TRAIN_CONTEXTS)].format(DRUG)
            start = len(text) + 1 + sentence.index(DRUG)
            text = f"{text} {sentence}"
            ents.append(Entity(start, start + len(DRUG), "Medicine"))
        rows.append((f"doc {i}", text, "bench", ents))
    ids = repo.add_documents(rows, origin="human")
    for doc_id in ids[:args.reviewed]:
        repo.set_reviewed(doc_id)
    repo.close()

    bundled = ROOT / "model_assets"
    before = load_tagger(student_int8(bundled))
    probes = [p.format(DRUG) for p in PROBES]
    command = [sys.executable, "-m", "trainer", "retrain", "--db", str(tmp / "meder.sqlite3"), "--out",
               str(tmp / "models"), "--bundled", str(bundled), "--preset", args.preset, "--json-progress"]
    if args.preset == "full":
        command += ["--base-data", str(args.data)]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if args.events:
        args.events.write_text(result.stdout, encoding="utf-8")
    if result.returncode != 0:
        sys.exit(f"retrain failed:\n{result.stderr[-3000:]}")
    report = next(e.report for e in map(decode, result.stdout.splitlines()) if isinstance(e, Result))
    version = ModelRegistry(tmp / "models", bundled).get(report.version)
    after = load_tagger(version.student)
    f1_before = evaluate_tagger(before, split.test)["strict_micro_f1"]
    f1_after = evaluate_tagger(after, split.test)["strict_micro_f1"]
    limit_min = TARGET_MINUTES[args.preset]
    print(f"preset {args.preset}: {seconds / 60:.1f} min wall (target <= {limit_min} min on 2 cores, "
          f"{'met' if seconds / 60 <= limit_min else 'missed'}), trainer peak memory {peak_mb:.0f} MB "
          f"(target < {TARGET_PEAK_MB} MB, {'met' if peak_mb < TARGET_PEAK_MB else 'missed'})")
    print(f"verdict: {report.verdict()}")
    print("\n".join(time_left_figures(result.stdout.splitlines())))
    print(f"'{DRUG}' found as Medicine in unseen sentences: before {sum(finds_drug(before, p) for p in probes)}"
          f"/{len(probes)}, after {sum(finds_drug(after, p) for p in probes)}/{len(probes)}")
    print(f"base test part strict micro-F1: before {f1_before:.4f}, after {f1_after:.4f} "
          f"(change {100 * (f1_after - f1_before):+.2f} points)")


if __name__ == "__main__":
    main()
