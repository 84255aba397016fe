"""Benchmark: the INT8 student's forward with and without ONNX Runtime fusions (prints figures; not a test).

    .venv/bin/python scripts/bench_ort_fusions.py [--model model_assets/student-int8] [--runs 300]

The app disables the fusions in ``engine.runtime._SLOWER_FUSIONS`` because they were slower at batch 1 on
the machines we measured; this script re-checks that on the machine at hand (sessions are timed
interleaved, so background load affects each variant alike).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.model_layout import ONNX_FILE  # noqa: E402
from engine.runtime import _SLOWER_FUSIONS, load_tagger  # noqa: E402
from engine.samples import BENCHMARK_NOTE  # noqa: E402
from engine.text import split_words  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="model_assets/student-int8")
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    tagger = load_tagger(args.model, threads=1)
    window = tagger.tokenizer.windows([w.text for w in split_words(BENCHMARK_NOTE)])[0]
    feed = {"input_ids": np.array([window.input_ids], dtype=np.int64)}
    feed["attention_mask"] = np.ones_like(feed["input_ids"])
    sessions = {}
    for name, disabled in (("all fusions", []), (f"without {', '.join(_SLOWER_FUSIONS)}", _SLOWER_FUSIONS)):
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        sessions[name] = ort.InferenceSession(str(Path(args.model) / ONNX_FILE), options,
                                              providers=["CPUExecutionProvider"], disabled_optimizers=disabled)
    times: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(20):
        for session in sessions.values():
            session.run(None, feed)
    for _ in range(args.runs):
        for name, session in sessions.items():
            start = time.perf_counter()
            session.run(None, feed)
            times[name].append((time.perf_counter() - start) * 1000)
    print(f"INT8 forward, batch 1, 1 thread, {feed['input_ids'].shape[1]} pieces, median of {args.runs} runs")
    for name, values in times.items():
        print(f"  {name:40} {statistics.median(values):7.3f} ms")


if __name__ == "__main__":
    main()
