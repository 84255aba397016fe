"""The one model definition: BERT encoder + linear emission head + CRF.

Used for the teacher (12 layers) and the student (4 layers) alike; training,
ONNX export and evaluation all go through this class. Saved as a folder of
``model.safetensors`` + ``config.json`` + ``tokenizer.json`` + manifest,
loaded without unpickling anything.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torchcrf import CRF
from transformers import BertConfig, BertModel

from engine.crf import CRFDecoder
from engine.errors import ModelError
from engine.manifest import verify_manifest, write_manifest
from engine.model_config import ModelConfig
from engine.model_layout import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE
from engine.tagger import Tagger
from engine.tokenizer import SubwordTokenizer


class TokenTagger(nn.Module):
    """Emission scores per piece, gathered per word, scored by a CRF."""

    def __init__(self, encoder: dict, num_tags: int, *, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = BertModel(BertConfig(**encoder), add_pooling_layer=False)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.config.hidden_size, num_tags)
        self.crf = CRF(num_tags, batch_first=True)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len) ids and mask -> (batch, seq_len, num_tags) emission scores."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(self.dropout(hidden))

    def word_emissions(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                       word_positions: torch.Tensor) -> torch.Tensor:
        """Emissions at each word's first piece: word_positions (batch, words) -> (batch, words, num_tags)."""
        scores = self(input_ids, attention_mask)
        index = word_positions.unsqueeze(-1).expand(-1, -1, scores.size(-1))
        return scores.gather(1, index)

    def crf_loss(self, emissions: torch.Tensor, tag_ids: torch.Tensor, word_mask: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per word. Shapes: (batch, words, tags), (batch, words) x2."""
        return -self.crf(emissions, tag_ids, mask=word_mask, reduction="token_mean")

    def crf_scores(self) -> dict[str, np.ndarray]:
        """The CRF's learned scores as :func:`engine.crf.save_crf` and ``CRFDecoder.from_scores`` take them:
        start, end (num_tags,), transitions (num_tags, num_tags)."""
        crf = self.crf
        return {"start": crf.start_transitions.detach().float().cpu().numpy(),
                "end": crf.end_transitions.detach().float().cpu().numpy(),
                "transitions": crf.transitions.detach().float().cpu().numpy()}

    def decoder(self, tags: list[str]) -> CRFDecoder:
        scores = self.crf_scores()
        return CRFDecoder.from_scores(tags, scores["start"], scores["end"], scores["transitions"])


class TorchEmissions:
    """Adapter so the engine's :class:`Tagger` can run a torch model."""

    def __init__(self, model: TokenTagger) -> None:
        self.model = model

    @torch.no_grad()
    def emissions(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self.model.eval()
        device = next(self.model.parameters()).device
        out = self.model(torch.from_numpy(input_ids).to(device), torch.from_numpy(attention_mask).to(device))
        return out.float().cpu().numpy()


def save_model(model: TokenTagger, config: ModelConfig, tokenizer_json: Path, folder: str | Path,
               *, half: bool = False) -> Path:
    """Write a torch model folder (weights, config, tokenizer, manifest)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE))
    config.save(folder)
    if Path(tokenizer_json).resolve() != (folder / TOKENIZER_FILE).resolve():
        shutil.copyfile(tokenizer_json, folder / TOKENIZER_FILE)
    write_manifest(folder)
    return folder


def load_model(folder: str | Path) -> tuple[TokenTagger, ModelConfig]:
    """Load a torch model folder after checking its manifest; returns it in eval mode, fp32."""
    folder = Path(folder)
    verify_manifest(folder)
    config = ModelConfig.load(folder)
    model = TokenTagger(config.encoder, len(config.tags))
    state = {k: v.float() for k, v in load_file(str(folder / WEIGHTS_FILE)).items()}
    head = state.get("head.weight")
    if head is None:
        raise ModelError(f"{folder / WEIGHTS_FILE}: no emission head (head.weight); not a tagger's weights")
    try:
        config.labels.check_outputs(head.shape[0])
    except ValueError as exc:
        raise ModelError(f"{folder}: {exc} in {CONFIG_FILE}") from None
    model.load_state_dict(state)
    return model.eval(), config


def torch_tagger(model: TokenTagger, config: ModelConfig, tokenizer_json: Path) -> Tagger:
    tokenizer = SubwordTokenizer.from_file(tokenizer_json, max_length=config.max_length)
    return Tagger.from_config(config, tokenizer, model.decoder(config.tags), TorchEmissions(model))


def student_from_teacher(teacher: TokenTagger, layers: list[int]) -> TokenTagger:
    """A shallower copy: embeddings, head and CRF from the teacher, encoder layers ``layers``."""
    encoder = teacher.encoder.config.to_dict()
    keep = {k: encoder[k] for k in (
        "vocab_size", "hidden_size", "num_attention_heads", "intermediate_size", "max_position_embeddings",
        "type_vocab_size", "layer_norm_eps", "hidden_act", "pad_token_id")}
    keep["num_hidden_layers"] = len(layers)
    student = TokenTagger(keep, teacher.head.out_features)
    student.encoder.embeddings.load_state_dict(teacher.encoder.embeddings.state_dict())
    for new, old in enumerate(layers):
        student.encoder.encoder.layer[new].load_state_dict(teacher.encoder.encoder.layer[old].state_dict())
    student.head.load_state_dict(teacher.head.state_dict())
    student.crf.load_state_dict(teacher.crf.state_dict())
    return student
