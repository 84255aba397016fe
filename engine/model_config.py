"""``config.json`` of a model folder: architecture, labels and provenance.

The label list (IOB2 tags in the order of the emission head) comes from the
training data and is stored here; nothing else in the code knows the types.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.crf import DECODERS
from engine.errors import ModelError
from engine.labels import LabelSet
from engine.model_layout import CONFIG_FILE

FORMAT_VERSION = 1
MIN_MAX_LENGTH = 32  # pieces per window: a few words plus the overlap between windows
DEFAULT_POSITIONS = 512  # BERT's position embeddings when the encoder does not say


@dataclass
class ModelConfig:
    kind: str  # "teacher" | "student" | "student-int8"
    tags: list[str]  # IOB2 tags in head order
    encoder: dict[str, Any]  # BERT architecture: hidden_size, num_hidden_layers, ...
    max_length: int = 256
    teacher_layers: list[int] | None = None  # students: teacher layer each layer came from
    quantization: str | None = None  # e.g. "onnxruntime-dynamic-int8"
    version: str = ""  # model version shown to users
    created: str = ""
    training: dict[str, Any] = field(default_factory=dict)  # data counts, recipe, metrics
    format_version: int = FORMAT_VERSION
    # how entities are read off the CRF (engine.crf.DECODERS): "viterbi" (the best tag sequence; what folders
    # written before this field had) or "mbr" (spans whose posterior clears decoder_threshold, engine.crf.mbr_spans)
    decoder: str = "viterbi"
    decoder_threshold: float = 0.5

    @property
    def labels(self) -> LabelSet:
        return LabelSet(self.tags)

    @property
    def entity_types(self) -> list[str]:
        return self.labels.entity_types

    def validate(self, where: object = "") -> None:
        if not isinstance(self.tags, list) or not all(isinstance(t, str) for t in self.tags):
            raise ModelError(f"{where}: 'tags' must be a list of IOB2 tags, got {self.tags!r:.80}")
        if not isinstance(self.encoder, dict):
            raise ModelError(f"{where}: 'encoder' must be an object, got {type(self.encoder).__name__}")
        if isinstance(self.format_version, bool) or not isinstance(self.format_version, int):
            raise ModelError(f"{where}: 'format_version' must be a whole number, got {self.format_version!r:.40}")
        if self.format_version > FORMAT_VERSION:
            raise ModelError(f"{where}: made by a newer Bangla MedER (format {self.format_version}); "
                             "update the app to use this model")
        if self.format_version < 1:
            raise ModelError(f"{where}: unknown model format {self.format_version}")
        positions = self.encoder.get("max_position_embeddings", DEFAULT_POSITIONS)
        if isinstance(positions, bool) or not isinstance(positions, int) or positions < MIN_MAX_LENGTH:
            raise ModelError(f"{where}: 'encoder.max_position_embeddings' must be a whole number of at least "
                             f"{MIN_MAX_LENGTH}, got {positions!r:.40}")
        if (isinstance(self.max_length, bool) or not isinstance(self.max_length, int)
                or not MIN_MAX_LENGTH <= self.max_length <= positions):
            # past the position embeddings the model fails on the first long note, not at loading
            raise ModelError(f"{where}: 'max_length' must be a whole number from {MIN_MAX_LENGTH} to {positions} "
                             f"(the model's positions), got {self.max_length!r:.40}")
        for name in ("kind", "version", "created"):
            if not isinstance(getattr(self, name), str):
                raise ModelError(f"{where}: {name!r} must be text")
        try:
            LabelSet(self.tags)
        except ValueError as exc:
            raise ModelError(f"{where}: {exc}") from None
        if self.decoder not in DECODERS or not 0.0 <= self.decoder_threshold < 1.0:
            raise ModelError(f"{where}: decoder must be one of {', '.join(DECODERS)} with a threshold in [0, 1), "
                             f"got {self.decoder!r} at {self.decoder_threshold}")

    def save(self, folder: str | Path) -> None:
        path = Path(folder) / CONFIG_FILE
        path.write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> ModelConfig:
        path = Path(folder) / CONFIG_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{path}: missing") from None
        except OSError as exc:
            raise ModelError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        except (ValueError, RecursionError) as exc:  # RecursionError: thousands of nested brackets
            raise ModelError(f"{path}: not valid JSON ({exc.__class__.__name__}: {exc})") from None
        if not isinstance(raw, dict):
            raise ModelError(f"{path}: must hold a JSON object, got {type(raw).__name__}; refusing to load")
        known = {f for f in cls.__dataclass_fields__}
        try:
            config = cls(**{k: v for k, v in raw.items() if k in known})
            config.validate(path)
        except (TypeError, ValueError, AttributeError) as exc:  # a field of the wrong kind that validate compares
            raise ModelError(f"{path}: a field has the wrong kind of value ({exc})") from None
        return config
