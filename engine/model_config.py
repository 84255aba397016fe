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
SUGGESTION_LEVELS = ("more", "balanced", "fewer")  # the app's Model › Suggestions, in the menu's order
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
    # every CRF score is divided by this before confidences are computed (engine.crf.CRFDecoder): fitted on dev
    # so that a 0.7 confidence is right about 70 % of the time; 1.0 in folders written before this field
    confidence_temperature: float = 1.0
    # "suggest more / balanced / fewer": {level: [decoder, threshold]}, chosen on dev by `trainer tune`
    # (balanced: the least review effort; it is also decoder / decoder_threshold above)
    suggestion_levels: dict[str, list] = field(default_factory=dict)

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
        t = self.confidence_temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.05 <= t <= 20:
            raise ModelError(f"{where}: 'confidence_temperature' must be a number from 0.05 to 20, got {t!r:.40}")

        if not isinstance(self.suggestion_levels, dict) or not set(self.suggestion_levels) <= set(SUGGESTION_LEVELS):
            raise ModelError(f"{where}: 'suggestion_levels' must map some of {', '.join(SUGGESTION_LEVELS)} to "
                             f"[decoder, threshold], got {self.suggestion_levels!r:.80}")
        for level, pair in self.suggestion_levels.items():
            if (not isinstance(pair, list) or len(pair) != 2 or pair[0] not in DECODERS
                    or isinstance(pair[1], bool) or not isinstance(pair[1], (int, float)) or not 0 <= pair[1] < 1):
                raise ModelError(f"{where}: suggestion level {level!r} must be [decoder, threshold in [0, 1)], "
                                 f"got {pair!r:.60}")

    def decoding_for(self, level: str) -> tuple[str, float]:
        """(decoder, threshold) of a suggestion level. Folders written before the levels: balanced is the
        folder's decoder, more / fewer move an MBR threshold by 0.15 (from Viterbi: MBR 0.2 / 0.5)."""
        if level not in SUGGESTION_LEVELS:
            raise ValueError(f"suggestion level must be one of {', '.join(SUGGESTION_LEVELS)}, got {level!r}")
        if level in self.suggestion_levels:
            decoder, threshold = self.suggestion_levels[level]
            return decoder, float(threshold)
        if level == "balanced":
            return self.decoder, self.decoder_threshold
        if self.decoder == "viterbi":
            return "mbr", 0.2 if level == "more" else 0.5
        step = -0.15 if level == "more" else 0.15
        return "mbr", round(min(0.9, max(0.05, self.decoder_threshold + step)), 2)

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
