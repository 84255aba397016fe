"""Training loops: fine-tuning with the CRF loss, optionally distilling emissions.

Knowledge distillation matches the student's *pre-CRF* emission scores to
the teacher's: ``T^2 * KL(softmax(teacher / T) || softmax(student / T))`` per
word, mixed with the hard-label CRF loss as
``alpha * KD + (1 - alpha) * CRF``. Teacher scores are computed once, up front.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from engine.progress import IsCancelled, check_cancelled
from engine.trainer_contract import Step
from trainer.data import Example
from trainer.model import TokenTagger

Log = Callable[[Step], None]
LOG_EVERY_S = 1.0  # a step event at most this often (and after the first and the last step)


@dataclass
class Recipe:
    epochs: int = 6
    batch_size: int = 16
    lr_encoder: float = 5e-5
    lr_head: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.1
    kd_alpha: float = 0.0  # 0 = no distillation
    temperature: float = 2.0
    seed: int = 13
    max_steps: int | None = None  # cap for tests and quick runs
    # unlabelled (KD-only) windows drawn afresh each epoch, per labelled window; None = all of them
    transfer_ratio: float | None = None


def batches(examples: list[Example], size: int, *, shuffle: bool, rng: random.Random | None = None,
            indices: list[int] | None = None):
    """Length-bucketed batches (of ``indices``, default all) so padding stays small."""
    order = sorted(range(len(examples)) if indices is None else indices, key=lambda i: len(examples[i].input_ids))
    chunks = [order[i:i + size] for i in range(0, len(order), size)]
    if shuffle:
        (rng or random).shuffle(chunks)
    yield from chunks


def collate(examples: list[Example], pad_id: int, device: torch.device, soft: list[torch.Tensor] | None = None):
    width = max(len(e.input_ids) for e in examples)
    words = max(len(e.word_positions) for e in examples)
    n = len(examples)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    pos = torch.zeros((n, words), dtype=torch.long)
    wmask = torch.zeros((n, words), dtype=torch.bool)
    tags = torch.zeros((n, words), dtype=torch.long)
    labeled = torch.tensor([e.tag_ids is not None for e in examples])
    target = None
    if soft is not None:
        target = torch.zeros((n, words, soft[0].size(-1)))
    for r, e in enumerate(examples):
        ids[r, :len(e.input_ids)] = torch.tensor(e.input_ids)
        mask[r, :len(e.input_ids)] = 1
        k = len(e.word_positions)
        pos[r, :k] = torch.tensor(e.word_positions)
        wmask[r, :k] = True
        if e.tag_ids is not None:
            tags[r, :k] = torch.tensor(e.tag_ids)
        if soft is not None:
            target[r, :k] = soft[r]
    out = [t.to(device) for t in (ids, mask, pos, wmask, tags)]
    return (*out, target.to(device) if target is not None else None, labeled.to(device))


@torch.no_grad()
def teacher_scores(teacher: TokenTagger, examples: list[Example], pad_id: int, device: torch.device,
                   batch_size: int = 32) -> list[torch.Tensor]:
    """The teacher's word emissions for every example: list of (words, num_tags) on CPU."""
    teacher.eval()
    out: list[torch.Tensor | None] = [None] * len(examples)
    for chunk in batches(examples, batch_size, shuffle=False):
        ids, mask, pos, wmask, _, _, _ = collate([examples[i] for i in chunk], pad_id, device)
        scores = teacher.word_emissions(ids, mask, pos).float().cpu()
        for r, i in enumerate(chunk):
            out[i] = scores[r, :len(examples[i].word_positions)].clone()
    return out  # type: ignore[return-value]


def save_scores(scores: list[torch.Tensor], path: str | Path) -> None:
    """Cache :func:`teacher_scores` in one safetensors file (a finished build stage reuses it).

    Stored as fp16 (half the disk; emission scores of a few units keep 3 significant digits).
    """
    from safetensors.torch import save_file

    lengths = torch.tensor([len(s) for s in scores], dtype=torch.long)
    save_file({"scores": torch.cat(scores).half().contiguous(), "lengths": lengths}, str(path))


def load_scores(path: str | Path, examples: list[Example]) -> list[torch.Tensor]:
    """The cached scores, checked against ``examples`` (the windows they were computed on)."""
    from safetensors.torch import load_file

    cached = load_file(str(path))
    lengths = cached["lengths"].tolist()
    if lengths != [len(e.word_positions) for e in examples]:
        raise ValueError(f"{path}: cached teacher scores do not match these windows; delete it to recompute")
    return list(torch.split(cached["scores"].float(), lengths))


def kd_loss(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """Temperature-scaled KL on emissions, mean over real words. Shapes (batch, words, tags), mask (batch, words)."""
    if student.shape != teacher.shape:
        raise ValueError(f"student {tuple(student.shape)} and teacher {tuple(teacher.shape)} emissions differ")
    t = temperature
    log_p_student = F.log_softmax(student / t, dim=-1)
    p_teacher = F.softmax(teacher / t, dim=-1)
    kl = (p_teacher * (torch.log(p_teacher.clamp_min(1e-12)) - log_p_student)).sum(-1)
    return (kl * mask).sum() / mask.sum().clamp_min(1) * t * t


def fit(model: TokenTagger, examples: list[Example], recipe: Recipe, *, pad_id: int,
        evaluate: Callable[[TokenTagger], float] | None = None,
        soft_targets: list[torch.Tensor] | None = None,
        log: Log | None = None, cancelled: IsCancelled | None = None) -> tuple[TokenTagger, float | None]:
    """Train ``model`` in place; returns the best model by ``evaluate`` (dev F1) and its score."""
    if recipe.kd_alpha > 0 and soft_targets is None:
        raise ValueError("kd_alpha > 0 needs soft_targets from the teacher")
    device = next(model.parameters()).device
    rng = random.Random(recipe.seed)
    torch.manual_seed(recipe.seed)
    head_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    enc_decay = [p for n, p in model.encoder.named_parameters() if p.ndim > 1]
    enc_plain = [p for n, p in model.encoder.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW([
        {"params": enc_decay, "lr": recipe.lr_encoder, "weight_decay": recipe.weight_decay},
        {"params": enc_plain, "lr": recipe.lr_encoder, "weight_decay": 0.0},
        {"params": head_params, "lr": recipe.lr_head, "weight_decay": 0.0},
    ])
    labeled_ids = [i for i, e in enumerate(examples) if e.tag_ids is not None]
    transfer_ids = [i for i, e in enumerate(examples) if e.tag_ids is None]

    def epoch_indices() -> list[int]:
        if recipe.transfer_ratio is None or not transfer_ids:
            return labeled_ids + transfer_ids
        take = min(len(transfer_ids), round(recipe.transfer_ratio * len(labeled_ids)))
        return labeled_ids + rng.sample(transfer_ids, take)

    steps_per_epoch = math.ceil(len(epoch_indices()) / recipe.batch_size)
    total = steps_per_epoch * recipe.epochs
    if recipe.max_steps is not None:
        total = min(total, recipe.max_steps)
    warmup = max(1, int(total * recipe.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    best_state, best_score = None, None
    step, logged = 0, 0.0
    for epoch in range(recipe.epochs):
        model.train()
        for chunk in batches(examples, recipe.batch_size, shuffle=True, rng=rng, indices=epoch_indices()):
            if step >= total:
                break
            check_cancelled(cancelled)
            soft = [soft_targets[i] for i in chunk] if soft_targets is not None else None
            ids, mask, pos, wmask, tags, target, labeled = collate(
                [examples[i] for i in chunk], pad_id, device, soft)
            emissions = model.word_emissions(ids, mask, pos)
            # unlabeled windows (distillation-only text) contribute to the KD term alone
            loss = (model.crf_loss(emissions[labeled], tags[labeled], wmask[labeled]) if labeled.any()
                    else emissions.sum() * 0.0)
            if recipe.kd_alpha > 0:
                kd = kd_loss(emissions, target, wmask.float(), recipe.temperature)
                loss = recipe.kd_alpha * kd + (1 - recipe.kd_alpha) * loss
            elif not labeled.any():
                continue
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            if log is not None and (step in (1, total) or time.monotonic() - logged >= LOG_EVERY_S):
                logged = time.monotonic()
                log(Step(step, total, epoch=epoch + 1, loss=round(loss.item(), 4)))
        if evaluate is not None:
            score = evaluate(model)
            if log is not None:
                log(Step(step, total, epoch=epoch + 1, dev_f1=round(score, 4)))
            if best_score is None or score > best_score:
                best_score, best_state = score, copy.deepcopy(model.state_dict())
        if step >= total:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, best_score
