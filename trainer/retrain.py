"""``python -m trainer retrain``: the clinic's corrections -> a new model version.

1. hold out a seeded slice of reviewed documents for evaluation;
2. continue fine-tuning the active teacher on the other reviewed documents,
   with replay (base data if given, else the old teacher's own predictions on
   unreviewed text) so it does not forget what it knew;
3. distill a new 4-layer student from the teacher's emissions on all the
   clinic's text (reviewed and unreviewed) plus hard labels where reviewed;
4. quantize to INT8 and write the version folder with manifests;
5. score the new and the active model on the held-out slice, write a report,
   and promote the new model only if it is not worse.

Work happens in a temporary folder that is renamed into place at the end, so
cancelling or killing the process at any point changes nothing.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from engine.errors import MederError, OperationCancelled
from engine.model_config import ModelConfig
from engine.model_registry import ModelRegistry
from engine.runtime import load_tagger
from engine.spans import Document
from engine.storage import Repository
from engine.tokenizer import SubwordTokenizer
from trainer.data import load_dataset, make_examples, split_dataset, tag_set
from trainer.evaluate import evaluate_tagger
from trainer.export import write_onnx_folder
from trainer.fit import Recipe, fit, teacher_scores
from trainer.model import TokenTagger, load_model, save_model, student_from_teacher, torch_tagger

Progress = Callable[[dict], None]
MIN_REVIEWED = 10
VERSION_BYTES = 95 * 2**20  # teacher + student + INT8 student on disk
FREE_BYTES_NEEDED = 2 * VERSION_BYTES  # the version, plus room for ONNX export and quantization files


@dataclass
class Preset:
    teacher: Recipe
    student: Recipe
    replay_factor: float  # replayed documents per reviewed training document
    oversample: int  # copies of each reviewed document (corrections weigh more than replay)


PRESETS = {
    "quick": Preset(Recipe(epochs=2, batch_size=16, lr_encoder=5e-5, lr_head=1e-3),
                    Recipe(epochs=3, batch_size=32, lr_encoder=1e-4, lr_head=1e-3, kd_alpha=0.5, temperature=1.0),
                    replay_factor=1.0, oversample=2),
    # teacher batches of 16: batches of 32 windows of 128 pieces took the trainer past 5 GB
    "full": Preset(Recipe(epochs=4, batch_size=16, lr_encoder=5e-5, lr_head=1e-3),
                   Recipe(epochs=6, batch_size=32, lr_encoder=2e-4, lr_head=2e-3, kd_alpha=0.5, temperature=1.0),
                   replay_factor=1e9, oversample=2),
}


def holdout_size(n: int) -> int:
    """At least 10 %, and at least 20 documents when there are enough (but never most of them)."""
    return max(math.ceil(0.1 * n), min(20, n // 4))


def extend_labels(model: TokenTagger, tags: list[str], new_types: list[str]) -> list[str]:
    """Grow the emission head and CRF for entity types the clinic added."""
    added = [f"{p}-{t}" for t in new_types for p in "BI"]
    if not added:
        return tags
    old = len(tags)
    n = old + len(added)
    head = torch.nn.Linear(model.head.in_features, n)
    crf = type(model.crf)(n, batch_first=True)
    with torch.no_grad():
        head.weight[:old] = model.head.weight
        head.bias[:old] = model.head.bias
        crf.start_transitions[:old] = model.crf.start_transitions
        crf.end_transitions[:old] = model.crf.end_transitions
        crf.transitions[:old, :old] = model.crf.transitions
    model.head, model.crf = head, crf
    return tags + added


def retrain(db: Path, models_dir: Path, bundled_dir: Path, *, preset: str = "quick", base_data: Path | None = None,
            seed: int = 13, progress: Progress | None = None, cancelled: Callable[[], bool] | None = None,
            preset_override: Preset | None = None) -> dict:
    started = time.monotonic()
    say = progress or (lambda event: None)
    spec = preset_override or PRESETS[preset]
    if not Path(db).is_file():  # opening it would create an empty database and report 0 reviewed documents
        raise MederError(f"{db}: no such database; nothing was retrained")
    registry = ModelRegistry(models_dir, bundled_dir)
    registry.cleanup_leftovers()
    check_free_space(registry.dir)
    active = registry.active()

    repo = Repository(db)
    try:
        reviewed = [Document(d.text, [e.span() for e in ents], name=str(d.id)) for d, ents in repo.reviewed_documents()]
        unreviewed = [Document(d.text, []) for d in repo.documents() if not d.reviewed]
    finally:
        repo.close()
    if len(reviewed) < MIN_REVIEWED:
        raise MederError(f"retraining needs at least {MIN_REVIEWED} reviewed documents; there are {len(reviewed)}")
    rng = random.Random(seed)
    order = list(range(len(reviewed)))
    rng.shuffle(order)
    n_hold = holdout_size(len(reviewed))
    held_out = [reviewed[i] for i in order[:n_hold]]
    train = [reviewed[i] for i in order[n_hold:]]
    say({"stage": "data", "reviewed": len(reviewed), "held_out": n_hold, "unreviewed": len(unreviewed)})

    teacher, tconfig = load_model(active.teacher)
    tok_json = active.teacher / "tokenizer.json"
    tokenizer = SubwordTokenizer.from_file(tok_json, max_length=tconfig.max_length)
    known = set(tconfig.entity_types)
    new_types = [t[2:] for t in tag_set(train) if t != "O" and t[2:] not in known][::2]
    old_tags = list(tconfig.tags)
    tags = extend_labels(teacher, old_tags, new_types)

    base_train, base_test = [], []
    if base_data is not None:
        split = split_dataset(load_dataset(base_data))
        base_train, base_test = split.train, split.test
    if base_train:
        replay = rng.sample(base_train, min(len(base_train), int(spec.replay_factor * len(train)) or 1))
    else:  # no base data: replay the old teacher's own predictions on clinic text
        old = torch_tagger(teacher, tconfig, tok_json) if not new_types else None
        pool = rng.sample(unreviewed, min(len(unreviewed), len(train)))
        replay = [Document(d.text, ents) for d, ents in zip(pool, old.tag_many([d.text for d in pool]))] if old else []

    temp = registry.new_temp_folder()
    try:
        def check() -> None:
            if cancelled is not None and cancelled():
                raise OperationCancelled()

        def log(stage: str):
            return lambda event: say({"stage": stage, **event})

        teacher_examples = make_examples(train * spec.oversample + replay, tokenizer, tags)
        say({"stage": "teacher", "examples": len(teacher_examples)})
        teacher.train()
        teacher, _ = fit(teacher, teacher_examples, spec.teacher, pad_id=tokenizer.pad_id, log=log("teacher"),
                         cancelled=cancelled)
        check()
        version = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        tconfig.tags, tconfig.version = tags, version
        tconfig.created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        tconfig.training = {"retrained_from": active.version, "preset": preset, "reviewed_train": len(train),
                            "held_out": n_hold, "replay": len(replay), "recipe": asdict(spec.teacher)}
        save_model(teacher, tconfig, tok_json, temp / "teacher", half=True)

        student_config = load_model_config(active.student)
        layers = student_config.teacher_layers or [2, 5, 8, 11]
        labeled = make_examples(train * spec.oversample + replay, tokenizer, tags)
        unlabeled = make_examples(unreviewed, tokenizer, tags, labeled=False)
        examples = labeled + unlabeled
        say({"stage": "distill", "examples": len(examples)})
        soft = teacher_scores(teacher, examples, tokenizer.pad_id, torch.device("cpu"))
        check()
        # continue from the active student when its weights ship (distilling a fresh one from teacher
        # layers needs far more text than a clinic has); otherwise start from the teacher's layers
        if (active.student_weights / "model.safetensors").is_file():
            student, _ = load_model(active.student_weights)
            if new_types:
                extend_labels(student, old_tags, new_types)
        else:
            student = student_from_teacher(teacher, layers)
        student, _ = fit(student, examples, spec.student, pad_id=tokenizer.pad_id, soft_targets=soft,
                         log=log("distill"), cancelled=cancelled)
        check()
        say({"stage": "quantize"})
        sconfig = student_config
        sconfig.kind, sconfig.tags, sconfig.version = "student-int8", tags, version
        sconfig.encoder = dict(tconfig.encoder, num_hidden_layers=len(layers))
        sconfig.created, sconfig.training = tconfig.created, dict(tconfig.training, recipe=asdict(spec.student))
        write_onnx_folder(student, sconfig, tok_json, temp / "student-int8")
        student_fp16 = ModelConfig(**{**vars(sconfig), "kind": "student", "quantization": None})
        save_model(student, student_fp16, tok_json, temp / "student", half=True)
        check()

        say({"stage": "evaluate"})
        new_tagger, old_tagger = load_tagger(temp / "student-int8"), load_tagger(active.student)
        report = {"version": version, "previous": active.version, "preset": preset,
                  "counts": {"reviewed": len(reviewed), "held_out": n_hold, "train": len(train),
                             "unreviewed": len(unreviewed), "replay": len(replay), "new_types": new_types},
                  "held_out": {"new": _safe_score(new_tagger, held_out), "active": _safe_score(old_tagger, held_out)}}
        if base_test:
            report["base_test"] = {"new": _safe_score(new_tagger, base_test),
                                   "active": _safe_score(old_tagger, base_test)}
        new_f1 = report["held_out"]["new"].get("strict_micro_f1", 0.0)
        old_f1 = report["held_out"]["active"].get("strict_micro_f1", 0.0)
        report["promoted"] = bool(new_f1 >= old_f1)
        report["decision"] = (
            f"promoted: strict micro-F1 on the {n_hold} held-out documents {new_f1:.3f} vs {old_f1:.3f} for the "
            f"active model" if report["promoted"] else
            f"not promoted: strict micro-F1 on the {n_hold} held-out documents {new_f1:.3f} is below the active "
            f"model's {old_f1:.3f}; it is kept as a version you can still activate") + _uncertainty(report["held_out"])
        report["seconds"] = round(time.monotonic() - started)
        (temp / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
        registry.commit_version(temp, version)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    if report["promoted"]:
        registry.activate(version)
    say({"stage": "done", "report": report})
    return report


def check_free_space(folder: Path, *, needed: int = FREE_BYTES_NEEDED) -> None:
    """Refuse to start when the disk cannot hold a new version, instead of failing an hour later."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise MederError(f"retraining needs about {needed // 2**20} MB free on the disk of {folder} (a model version "
                         f"takes about {VERSION_BYTES // 2**20} MB); only {free // 2**20} MB are free. Free some "
                         "space (or delete an old model version) and try again; nothing was changed")


def load_model_config(folder: Path) -> ModelConfig:
    return ModelConfig.load(folder)


def _uncertainty(held_out: dict) -> str:
    """How far chance alone moves the new model's score on so few documents (empty if unknown)."""
    interval = held_out["new"].get("strict_micro_f1_ci95")
    if interval is None:
        return ""
    low, high = interval
    return (f" (the new model's 95 % interval on these documents: {low:.3f}–{high:.3f}; smaller differences"
            " may be chance)")


def _safe_score(tagger, docs: list[Document]) -> dict:
    try:
        return evaluate_tagger(tagger, docs)
    except ValueError as exc:  # e.g. no entities in the held-out slice
        return {"error": str(exc), "strict_micro_f1": 0.0}
