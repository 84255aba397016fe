"""``config.json`` of a model folder: architecture, labels and provenance.

The label list (IOB2 tags in the order of the emission head) comes from the
training data and is stored here; nothing else in the code knows the types.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ModelError
from engine.spans import parse_tag

CONFIG = "config.json"
FORMAT_VERSION = 1


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

    @property
    def entity_types(self) -> list[str]:
        seen: list[str] = []
        for tag in self.tags:
            kind = parse_tag(tag)[1]
            if kind and kind not in seen:
                seen.append(kind)
        return seen

    def validate(self, where: object = "") -> None:
        try:
            for tag in self.tags:
                parse_tag(tag)
        except ValueError as exc:
            raise ModelError(f"{where}: {exc}") from None
        if "O" not in self.tags or len(set(self.tags)) != len(self.tags):
            raise ModelError(f"{where}: tags must be unique and include 'O', got {self.tags}")

    def save(self, folder: str | Path) -> None:
        path = Path(folder) / CONFIG
        path.write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> ModelConfig:
        path = Path(folder) / CONFIG
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{path}: missing") from None
        except ValueError as exc:
            raise ModelError(f"{path}: not valid JSON ({exc})") from None
        if raw.get("format_version", 0) > FORMAT_VERSION:
            raise ModelError(f"{path}: made by a newer Bangla MedER (format {raw['format_version']})")
        known = {f for f in cls.__dataclass_fields__}
        try:
            config = cls(**{k: v for k, v in raw.items() if k in known})
        except TypeError as exc:
            raise ModelError(f"{path}: {exc}") from None
        config.validate(path)
        return config
