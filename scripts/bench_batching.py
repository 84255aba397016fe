"""Same note, same entities (issue 21): one window per call, as the app tags, against batches of windows.

    .venv/bin/python scripts/bench_batching.py --data ../shared/data/bangla-healthner [--model DIR] [--threads 2]

For the held-out (test) notes of the HealthNER folder: how many notes get other entities in a batch than alone
(the batched way sorted windows by length and padded them, as the app did before), and notes/s of each way,
timed in interleaved rounds so that a shared machine's drifts hit both alike. Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.paths import bundled_model  # noqa: E402
from engine.runtime import load_tagger  # noqa: E402
from engine.tagger import Tagger  # noqa: E402


class BatchedTagger(Tagger):
    """Windows sorted by length and run ``batch_size`` at a time, padded: the app's way before issue 21."""

    batch_size = 16

    def _word_emissions(self, documents, *, progress, cancelled):
        out = [np.zeros((len(d), self.decoder.num_tags), dtype=np.float32) for d in documents]
        jobs = [(i, w) for i, words in enumerate(documents) for w in self.tokenizer.windows([x.text for x in words])]
        jobs.sort(key=lambda job: len(job[1].input_ids))
        for b in range(0, len(jobs), self.batch_size):
            batch = jobs[b:b + self.batch_size]
            width = max(len(w.input_ids) for _, w in batch)
            ids = np.full((len(batch), width), self.tokenizer.pad_id, dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, (_, w) in enumerate(batch):
                ids[r, :len(w.input_ids)] = w.input_ids
                mask[r, :len(w.input_ids)] = 1
            scores = self.model.emissions(ids, mask)
            for r, (doc, w) in enumerate(batch):
                a, z = w.owned_first - w.first, w.owned_last - w.first
                out[doc][w.owned_first:w.owned_last] = scores[r, w.word_positions[a:z]]
        return out


def batched_copy(tagger: Tagger, folder: Path, *, batch_size: int, threads: int) -> BatchedTagger:
    """``tagger`` batching as before, on a session with ``threads`` threads per call (the setting then)."""
    import onnxruntime as ort

    from engine.runtime import _SLOWER_FUSIONS, OnnxEmissions

    copy = BatchedTagger.__new__(BatchedTagger)
    copy.__dict__.update(tagger.__dict__)
    copy.batch_size = batch_size
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    copy.model = OnnxEmissions.__new__(OnnxEmissions)
    copy.model.parallel_calls = 1
    copy.model.session = ort.InferenceSession(str(folder / "model.onnx"), options,
                                              providers=["CPUExecutionProvider"], disabled_optimizers=_SLOWER_FUSIONS)
    return copy


def spans(found) -> list[tuple]:
    return [(e.start, e.end, e.label) for e in found]


def differences(tagger: Tagger, texts: list[str], alone: list[list[tuple]], *, size: int, seed: int) -> int:
    """Notes whose entities (start, end, type) differ from ``alone`` when tagged in random batches of ``size``."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    got: dict[int, list[tuple]] = {}
    for first in range(0, len(order), size):
        part = order[first:first + size]
        got.update(zip(part, map(spans, tagger.tag_many([texts[i] for i in part]))))
    return sum(got[i] != alone[i] for i in range(len(texts)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="HealthNER folder (its seeded test part is used)")
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the bundled student)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--notes", type=int, default=300, help="notes checked for differences")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from trainer.data import load_dataset, split_dataset

    texts = [d.text for d in split_dataset(load_dataset(args.data)).test]
    folder = args.model or bundled_model()
    tagger = load_tagger(folder, threads=args.threads)
    ways = {"one window per call (the app)": tagger,
            "batches of 16 (before)": batched_copy(tagger, folder, batch_size=16, threads=args.threads)}
    checked = texts[:args.notes]
    for name, way in ways.items():
        alone = [spans(way.tag(t)) for t in checked]
        counts = [differences(way, checked, alone, size=size, seed=seed)
                  for seed, size in ((1, len(checked)), (2, 16), (3, 7), (4, 32))]
        print(f"{name}: notes of {len(checked)} with other entities in random batches of "
              f"{len(checked)}/16/7/32 than alone: {counts}", flush=True)
    times: dict[str, list[float]] = {name: [] for name in ways}
    for way in ways.values():
        way.tag_many(texts[:50])  # warm-up
    for _ in range(args.rounds):
        for name, way in ways.items():
            start = time.perf_counter()
            way.tag_many(texts)
            times[name].append(len(texts) / (time.perf_counter() - start))
    for name, rates in times.items():
        print(f"{name}: {statistics.median(rates):.1f} notes/s (median of {args.rounds} rounds of {len(texts)} "
              f"notes, {args.threads} threads; rounds {[round(r, 1) for r in rates]})")


if __name__ == "__main__":
    main()
