"""Transfer distillation: the student imitates the teacher on unlabelled text as well as on the labelled text.

On labelled windows the loss is ``alpha * KD + (1 - alpha) * CRF``; on transfer windows (unlabelled
health text, ``tag_ids`` None) only the KD term exists (see :func:`trainer.fit.fit`). The teacher's
emissions on both are computed once and cached, so a resumed build or a sweep of recipes reuses them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import torch

from engine.model_config import ModelConfig
from engine.model_layout import STUDENT
from engine.spans import Document
from engine.tokenizer import SubwordTokenizer
from trainer.data import Example, load_transfer_texts, make_examples
from trainer.evaluate import evaluate_tagger
from trainer.fit import Log, Recipe, fit, load_scores, save_scores, teacher_scores
from trainer.model import TokenTagger, student_from_teacher, torch_tagger

log = logging.getLogger("trainer.transfer")


def transfer_examples(folder: str | Path, tokenizer: SubwordTokenizer) -> list[Example]:
    """Unlabelled windows of every document in ``folder``'s ``*.jsonl`` files."""
    return make_examples(load_transfer_texts(folder), tokenizer, None, labeled=False)


def cached_teacher_scores(teacher: TokenTagger, examples: list[Example], cache: Path, *, pad_id: int,
                          device: torch.device) -> list[torch.Tensor]:
    """The teacher's word emissions on ``examples``, from ``cache`` when it matches, else computed and cached."""
    if cache.is_file():
        try:
            return load_scores(cache, examples)
        except ValueError as exc:  # other windows (new data or tokenizer): recompute
            log.info("%s", exc)
    scores = teacher_scores(teacher, examples, pad_id, device)
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".partial")
    save_scores(scores, partial)
    partial.replace(cache)
    return scores


def student_config(teacher_config: ModelConfig, layers: list[int], **fields) -> ModelConfig:
    """A student's config: the teacher's labels, tokenizer length and decoder, ``len(layers)`` layers."""
    base = {**vars(teacher_config), "kind": STUDENT, "teacher_layers": list(layers),
            "encoder": dict(teacher_config.encoder, num_hidden_layers=len(layers)), "training": {}}
    return ModelConfig(**{**base, **fields})


def distil(teacher: TokenTagger, config: ModelConfig, tokenizer_json: Path, *, layers: list[int],
           labeled: list[Example], transfer: list[Example], soft: list[torch.Tensor], recipe: Recipe,
           dev: list[Document] | None, pad_id: int, device: torch.device,
           log_event: Log | None = None) -> tuple[TokenTagger, float | None]:
    """A student from ``layers`` of the teacher, trained on ``labeled + transfer`` windows.

    ``soft``: teacher scores of ``labeled + transfer`` in that order. ``dev`` picks the best epoch
    (strict micro-F1 with ``config``'s decoder). Returns the student (on ``device``) and that score.
    """
    if len(soft) != len(labeled) + len(transfer):
        raise ValueError(f"{len(soft)} teacher scores for {len(labeled) + len(transfer)} windows")
    if transfer and recipe.kd_alpha <= 0:
        raise ValueError("transfer windows need kd_alpha > 0: they have no labels")
    student = student_from_teacher(teacher, layers).to(device)

    def dev_f1(model: TokenTagger) -> float:
        return evaluate_tagger(torch_tagger(model, config, tokenizer_json), dev)["strict_micro_f1"]

    student, best = fit(student, labeled + transfer, recipe, pad_id=pad_id, soft_targets=soft,
                        evaluate=dev_f1 if dev else None, log=log_event)
    config.training.update(recipe=asdict(recipe), transfer_windows=len(transfer), labeled_windows=len(labeled),
                           dev_strict_micro_f1=best)
    return student, best
