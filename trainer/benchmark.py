"""``python -m trainer benchmark``: latency, size and parameters, one run, one thread count."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engine.model_layout import ONNX_FILE, TOKENIZER_FILE, WEIGHTS_FILE
from engine.runtime import load_tagger
from engine.samples import BENCHMARK_NOTE
from engine.text import split_words
from trainer.export import write_onnx_folder
from trainer.model import load_model, torch_tagger

BLOCK = 5  # calls per model in each interleaved round


def _interleaved_medians(jobs: dict[tuple[str, str], Callable[[], object]], runs: int, *, block: int = BLOCK,
                         warmup: int = 5) -> dict[tuple[str, str], float]:
    """Median ms of each job over ``runs`` calls, taken in interleaved rounds of ``block`` calls per job.

    Interleaving makes slow drifts of the machine (frequency, neighbours) hit every model alike, so the
    ratios between them are stable from one run to the next; blocks keep each model's weights warm.
    """
    for fn in jobs.values():
        for _ in range(warmup):
            fn()
    times: dict[tuple[str, str], list[float]] = {key: [] for key in jobs}
    for _ in range(max(1, -(-runs // block))):
        for key, fn in jobs.items():
            for _ in range(block):
                start = time.perf_counter()
                fn()
                times[key].append((time.perf_counter() - start) * 1000)
    return {key: round(statistics.median(values[:runs]), 3) for key, values in times.items()}


def folder_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 2)


def _onnx_params(path: Path) -> int:
    import onnx

    model = onnx.load(str(path))
    return int(sum(np.prod(t.dims) for t in model.graph.initializer if t.data_type in (1, 3, 10)))


def benchmark(teacher_dir: str | Path, student_dir: str | Path, *, threads: int = 1, runs: int = 50,
              text: str = BENCHMARK_NOTE) -> dict:
    """Measure the four variants on one text with the same thread count."""
    torch.set_num_threads(threads)
    teacher_dir, student_dir = Path(teacher_dir), Path(student_dir)
    rows = {}
    words = split_words(text)

    jobs: dict[tuple[str, str], Callable[[], object]] = {}

    def measure(name: str, tagger, size_mb: float, params: int) -> None:
        window = tagger.tokenizer.windows([w.text for w in words])[0]
        ids = np.array([window.input_ids], dtype=np.int64)
        mask = np.ones_like(ids)
        jobs[name, "forward_ms"] = lambda: tagger.model.emissions(ids, mask)
        jobs[name, "end_to_end_ms"] = lambda: tagger.tag(text)
        rows[name] = {"parameters": params, "size_mb": size_mb, "pieces": int(ids.shape[1])}

    teacher, tcfg = load_model(teacher_dir)
    measure("teacher fp32 (torch)", torch_tagger(teacher, tcfg, teacher_dir / TOKENIZER_FILE),
            round(sum(p.numel() for p in teacher.parameters()) * 4 / 1e6, 2),
            sum(p.numel() for p in teacher.parameters()))
    int8 = load_tagger(student_dir, threads=threads)
    # the torch student beside the INT8 one: "student-kd" in a build folder, "student" in model_assets
    fp32_student = next((student_dir.parent / name for name in ("student-kd", "student")
                         if (student_dir.parent / name / WEIGHTS_FILE).is_file()), None)
    if fp32_student is not None:
        student, scfg = load_model(fp32_student)
        measure("student fp32 (torch)", torch_tagger(student, scfg, fp32_student / TOKENIZER_FILE),
                folder_mb(fp32_student), sum(p.numel() for p in student.parameters()))
    with tempfile.TemporaryDirectory() as tmp:
        onnx_teacher = write_onnx_folder(teacher, tcfg, teacher_dir / TOKENIZER_FILE, Path(tmp) / "t", int8=False)
        measure("teacher fp32 (onnxruntime)", load_tagger(onnx_teacher, threads=threads), folder_mb(onnx_teacher),
                _onnx_params(onnx_teacher / ONNX_FILE))
        measure("student int8 (onnxruntime, as shipped)", int8, folder_mb(student_dir),
                _onnx_params(student_dir / ONNX_FILE))
        for (name, kind), ms in _interleaved_medians(jobs, runs).items():
            rows[name][kind] = ms
    base = rows["teacher fp32 (torch)"]
    ship = rows["student int8 (onnxruntime, as shipped)"]
    return {
        "threads": threads, "runs": runs, "block": BLOCK, "words": len(words), "models": rows,
        "speedup_int8_vs_teacher": round(base["end_to_end_ms"] / ship["end_to_end_ms"], 2),
        "speedup_int8_vs_teacher_forward": round(base["forward_ms"] / ship["forward_ms"], 2),
        "size_reduction": round(1 - ship["size_mb"] / base["size_mb"], 4),
    }


def table(result: dict) -> str:
    lines = [f"batch 1, {result['threads']} thread(s), {result['words']} words, median of {result['runs']} runs each "
             f"(interleaved rounds of {result.get('block', BLOCK)})",
             f"{'model':42} {'forward ms':>11} {'text->spans ms':>15} {'params':>12} {'size MB':>9}"]
    for name, r in result["models"].items():
        lines.append(f"{name:42} {r['forward_ms']:>11.2f} {r['end_to_end_ms']:>15.2f} "
                     f"{r['parameters']:>12,} {r['size_mb']:>9.2f}")
    lines.append(f"INT8 student vs fp32 torch teacher: {result['speedup_int8_vs_teacher']}x end to end, "
                 f"{result['speedup_int8_vs_teacher_forward']}x forward; size -{result['size_reduction']:.1%}")
    return "\n".join(lines)
