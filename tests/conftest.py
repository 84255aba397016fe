"""Shared fixtures: a tiny real tokenizer and tiny real (random) models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TAGS = ["O", "B-Medicine", "I-Medicine", "B-Symptom", "I-Symptom", "B-Health Condition", "I-Health Condition"]


def tiny_tokenizer_json() -> dict:
    """A real Unigram tokenizer.json (same pipeline as e5's) over single characters."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    chars = [chr(c) for c in range(0x0980, 0x0A00)] + [chr(c) for c in range(0x21, 0x7F)] + ["।"]
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [(c, -5.0) for c in dict.fromkeys(chars)]
    vocab += [("\u2581" + c, -4.0) for c in dict.fromkeys(chars)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return json.loads(tok.to_str())


@pytest.fixture(scope="session")
def tokenizer_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    path.write_text(json.dumps(tiny_tokenizer_json(), ensure_ascii=False), encoding="utf-8")
    return path


def tiny_encoder(vocab_size: int) -> dict:
    return {"vocab_size": vocab_size, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 64, "max_position_embeddings": 128, "type_vocab_size": 2,
            "layer_norm_eps": 1e-12, "hidden_act": "gelu", "pad_token_id": 1}
