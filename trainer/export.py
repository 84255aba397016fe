"""Export a torch model to ONNX and quantize it to INT8 with ONNX Runtime.

Dynamic quantization (weights INT8 ahead of time, activations quantized on
the fly) of every MatMul and of the embedding Gather: the embedding table is
most of the model, so quantizing it is what keeps the folder small.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

from engine.assertion_model import AssertionModel
from engine.atomic import atomic_folder
from engine.crf import save_crf
from engine.manifest import write_manifest
from engine.model_config import ModelConfig
from engine.model_layout import ASSERTION_FILE, CRF_FILE, ONNX_FILE, STUDENT_INT8, TOKENIZER_FILE
from trainer.model import TokenTagger
from trainer.onnx_graph import simplify_reshapes

OPSET = 17


def export_onnx(model: TokenTagger, path: str | Path) -> Path:
    """Write ``model`` as ONNX: inputs input_ids, attention_mask (batch, seq_len) -> emissions."""
    model = copy.deepcopy(model).float().cpu().eval()
    # eager attention exports as plain MatMul/Softmax; the SDPA path adds a chain of mask-shape
    # ops (Shape, Gather, Where, IsNaN) that cost about 10 % of the INT8 student's batch-1 latency
    model.encoder.set_attn_implementation("eager")
    ids = torch.randint(5, 100, (2, 12), dtype=torch.long)
    mask = torch.ones_like(ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (ids, mask), str(path), dynamo=False, opset_version=OPSET,
            input_names=["input_ids", "attention_mask"], output_names=["emissions"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "emissions": {0: "batch", 1: "seq"}},
        )
    _simplify(Path(path))
    return Path(path)


def _simplify(path: Path) -> None:
    """Rewrite ``path`` with :func:`simplify_reshapes` if the result computes the same emissions."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    if not simplify_reshapes(model):
        return
    candidate = path.with_suffix(".simple.onnx")
    onnx.save(model, str(candidate))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    before = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    after = ort.InferenceSession(str(candidate), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for batch, seq in ((1, 61), (3, 9)):
        feed = {"input_ids": rng.integers(5, 100, (batch, seq)).astype(np.int64),
                "attention_mask": np.ones((batch, seq), dtype=np.int64)}
        feed["attention_mask"][-1, seq // 2:] = 0
        a, b = before.run(None, feed)[0], after.run(None, feed)[0]
        if a.shape != b.shape or not np.allclose(a, b, atol=1e-4):
            candidate.unlink()
            return
    candidate.replace(path)


def quantize_int8(fp32_path: str | Path, int8_path: str | Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gather"], per_channel=False, reduce_range=False)
    return Path(int8_path)


def write_onnx_folder(model: TokenTagger, config: ModelConfig, tokenizer_json: Path, folder: str | Path,
                      *, int8: bool = True, assertion: Path | None = None) -> Path:
    """A model folder the app loads: model.onnx (+INT8), crf.safetensors, tokenizer, config, manifest, and
    ``assertion`` (an assertion classifier file, carried over from the previous version) when given."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, Path(tmp) / "fp32.onnx")
        if int8:
            quantize_int8(fp32, folder / ONNX_FILE)
        else:
            shutil.copyfile(fp32, folder / ONNX_FILE)
    save_crf(folder / CRF_FILE, **model.crf_scores())
    shutil.copyfile(tokenizer_json, folder / TOKENIZER_FILE)
    if assertion is not None:
        AssertionModel.load(assertion)  # a damaged file stops here, not in the app
        shutil.copyfile(assertion, folder / ASSERTION_FILE)
    config.quantization = "onnxruntime-dynamic-int8 (MatMul, Gather)" if int8 else None
    config.save(folder)
    write_manifest(folder)
    return folder


def quantize_folder(model_dir: str | Path, out: str | Path) -> Path:
    """Re-export a torch model folder as the app's INT8 folder, swapping ``out`` in only once it verifies.

    Used after a change to the export (the build's own ``student-int8`` stage calls :func:`write_onnx_folder`).
    """
    from engine.runtime import load_tagger
    from trainer.model import load_model

    model_dir, out = Path(model_dir), Path(out)
    model, config = load_model(model_dir)
    config.kind = STUDENT_INT8
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_folder(out, mode=0o755) as staging:  # the app's shipped model: readable by every account
        carried = out / ASSERTION_FILE  # a re-export keeps the folder's assertion classifier
        write_onnx_folder(model, config, model_dir / TOKENIZER_FILE, staging,
                          assertion=carried if carried.is_file() else None)
        load_tagger(staging)  # verifies the manifest and that ONNX Runtime can load it
    return out
