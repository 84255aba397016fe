"""Load a model folder for inference with ONNX Runtime (no torch).

A model folder holds ``model.onnx`` (emission scores per piece),
``crf.safetensors`` (start/end/transition scores), ``tokenizer.json``,
``config.json`` and ``manifest.json``. :func:`load_tagger` verifies every
file against the manifest before anything is parsed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.assertion_model import AssertionModel
from engine.crf import load_crf
from engine.errors import ModelError
from engine.manifest import verify_manifest
from engine.model_config import ModelConfig
from engine.model_layout import ASSERTION_FILE, CONFIG_FILE, CRF_FILE, ONNX_FILE, TOKENIZER_FILE
from engine.tagger import Tagger
from engine.tokenizer import SubwordTokenizer

# ONNX Runtime 1.32's fused SkipLayerNormalization kernel took ~0.12 ms per call on a (60, 384) input at one
# thread, against ~0.03 ms for the Add + LayerNormalization it replaces: without the fusion the INT8 student's
# batch-1 forward is ~10 % faster (scripts/bench_ort_fusions.py measures it on the machine at hand).
_SLOWER_FUSIONS = ["SkipLayerNormFusion"]


class OnnxEmissions:
    """Runs ``model.onnx``: (batch, seq_len) ids and mask -> (batch, seq_len, num_tags)."""

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # one thread per call and this many windows at once (engine.tagger): on 2 cores shared with other jobs,
        # a 1,000-word note's windows one after another took 1.9 s at one thread per call against 3.6 s at two
        # (a thread hand-off at every operator); the scores are the same at any count (test_same_entities.py)
        self.parallel_calls = threads or min(4, os.cpu_count() or 1)
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                                disabled_optimizers=_SLOWER_FUSIONS)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{path}: ONNX Runtime cannot load it ({exc})") from None

    def emissions(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]


def load_tagger(folder: str | Path, *, threads: int | None = None) -> Tagger:
    """Load an ONNX model folder as a :class:`Tagger`, refusing tampered files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"{folder}: no such model folder")
    verify_manifest(folder)
    config = ModelConfig.load(folder)
    if not (folder / ONNX_FILE).is_file():
        raise ModelError(f"{folder}: no {ONNX_FILE}; is this a torch model folder? The app needs the INT8 student")
    tokenizer = SubwordTokenizer.from_file(folder / TOKENIZER_FILE, max_length=config.max_length)
    decoder = load_crf(folder / CRF_FILE, config.tags)
    model = OnnxEmissions(folder / ONNX_FILE, threads=threads)
    width = model.session.get_inputs()[0].shape
    if len(width) == 2 and isinstance(width[1], int) and width[1] < config.max_length:
        raise ModelError(f"{folder / ONNX_FILE}: takes windows of {width[1]} pieces but {CONFIG_FILE} says "
                         f"max_length {config.max_length}; refusing a model that would fail on the first long note")
    out = model.session.get_outputs()[0].shape
    if out and isinstance(out[-1], int):
        try:
            config.labels.check_outputs(out[-1])
        except ValueError as exc:
            raise ModelError(f"{folder / ONNX_FILE}: {exc} in {CONFIG_FILE}") from None
    tagger = Tagger.from_config(config, tokenizer, decoder, model)
    if (folder / ASSERTION_FILE).is_file():  # verified with the rest; without it the rules decide
        tagger.assertion_model = AssertionModel.load(folder / ASSERTION_FILE)
    return tagger
