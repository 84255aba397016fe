"""``python -m trainer retrain``: the clinic's corrections -> a new model version.

1. hold out a seeded slice of reviewed documents for evaluation;
2. continue fine-tuning the active teacher on the other reviewed documents,
   with replay (base data if given, else the old teacher's own predictions on
   unreviewed text) so it does not forget what it knew;
3. distill a new 4-layer student from the teacher's emissions on all the
   clinic's text (reviewed and unreviewed) plus hard labels where reviewed;
4. quantize to INT8 and write the version folder with manifests;
5. score the new and the active model on the held-out slice, write a report,
   and promote the new model only on evidence that it is not worse
   (:func:`engine.trainer_contract.decide`).

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
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import torch

from engine.errors import MederError
from engine.labels import LabelSet
from engine.model_config import ModelConfig
from engine.model_layout import (
    ASSERTION_FILE,
    REPORT_FILE,
    STUDENT,
    STUDENT_INT8,
    TEACHER,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
)
from engine.model_registry import ModelRegistry
from engine.progress import IsCancelled, check_cancelled
from engine.runtime import load_tagger
from engine.spans import Document, entities_to_tags, tags_to_entities
from engine.storage import Repository
from engine.tagger import Tagger
from engine.tokenizer import SubwordTokenizer
from engine.trainer_contract import (
    MIN_REVIEWED,
    Comparison,
    Counts,
    Event,
    Evidence,
    Plan,
    Result,
    RetrainReport,
    Score,
    Stage,
    StagePlan,
    decide,
    holdout_size,
)
from trainer.data import Example, entity_types, load_dataset, make_examples, split_dataset
from trainer.export import write_onnx_folder
from trainer.fit import Recipe, fit, teacher_scores
from trainer.metrics import score
from trainer.model import TokenTagger, load_model, save_model, student_from_teacher, torch_tagger

Progress = Callable[[Event], None]
SCORE_BATCH = 32  # windows per forward pass when the teacher scores the student's text (teacher_scores)
VERSION_BYTES = 95 * 2**20  # teacher + student + INT8 student on disk
FREE_BYTES_NEEDED = 2 * VERSION_BYTES  # the version, plus room for ONNX export and quantization files


@dataclass
class Preset:
    teacher: Recipe
    student: Recipe
    replay_factor: float  # replayed documents per reviewed training document
    oversample: int  # copies of each reviewed document (corrections weigh more than replay)


# Students: KD weight 0.7 at temperature 2, the transfer recipe the bundled student was distilled with (issue 11,
# MODEL_CARD.md). Every unreviewed window is used each epoch (no transfer_ratio): a clinic's own text is the
# only in-domain text there is, and its amount already fits Quick's time.
PRESETS = {
    "quick": Preset(Recipe(epochs=2, batch_size=16, lr_encoder=5e-5, lr_head=1e-3),
                    Recipe(epochs=3, batch_size=32, lr_encoder=1e-4, lr_head=1e-3, kd_alpha=0.7, temperature=2.0),
                    replay_factor=1.0, oversample=2),
    # teacher batches of 16: batches of 32 windows of 128 pieces took the trainer past 5 GB
    "full": Preset(Recipe(epochs=4, batch_size=16, lr_encoder=5e-5, lr_head=1e-3),
                   Recipe(epochs=6, batch_size=32, lr_encoder=2e-4, lr_head=2e-3, kd_alpha=0.7, temperature=2.0),
                   replay_factor=1e9, oversample=2),
}


def extend_labels(model: TokenTagger, tags: list[str], new_types: list[str]) -> list[str]:
    """Grow the emission head and CRF for entity types the clinic added (the old tags keep their indices)."""
    grown = LabelSet(tags).with_types(new_types)
    old, n = len(tags), len(grown)
    if n == old:
        return tags
    head = torch.nn.Linear(model.head.in_features, n)
    crf = type(model.crf)(n, batch_first=True)
    with torch.no_grad():
        head.weight[:old] = model.head.weight
        head.bias[:old] = model.head.bias
        crf.start_transitions[:old] = model.crf.start_transitions
        crf.end_transitions[:old] = model.crf.end_transitions
        crf.transitions[:old, :old] = model.crf.transitions
    model.head, model.crf = head, crf
    return list(grown.tags)


def retrain(db: Path, models_dir: Path, bundled_dir: Path, *, preset: str = "quick", base_data: Path | None = None,
            seed: int = 13, progress: Progress | None = None, cancelled: IsCancelled | None = None,
            preset_override: Preset | None = None) -> RetrainReport:
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
    say(Stage("data"))

    teacher, tconfig = load_model(active.teacher)
    tok_json = active.teacher / TOKENIZER_FILE
    tokenizer = SubwordTokenizer.from_file(tok_json, max_length=tconfig.max_length)
    known = set(tconfig.entity_types)
    new_types = [t for t in entity_types(train) if t not in known]
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
        def log(stage: str):
            return lambda step: say(replace(step, stage=stage))

        teacher_examples = make_examples(train * spec.oversample + replay, tokenizer, tags)
        student_examples = teacher_examples + make_examples(unreviewed, tokenizer, tags, labeled=False)
        say(run_plan(spec, teacher_examples=teacher_examples, student_examples=student_examples,
                     held_out=len(held_out)))
        say(Stage("teacher"))
        teacher.train()
        teacher, _ = fit(teacher, teacher_examples, spec.teacher, pad_id=tokenizer.pad_id, log=log("teacher"),
                         cancelled=cancelled)
        check_cancelled(cancelled)
        version = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        tconfig.tags, tconfig.version = tags, version
        tconfig.created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        tconfig.training = {"retrained_from": active.version, "preset": preset, "reviewed_train": len(train),
                            "held_out": n_hold, "replay": len(replay), "recipe": asdict(spec.teacher)}
        save_model(teacher, tconfig, tok_json, temp / TEACHER, half=True)

        student_config = ModelConfig.load(active.student)
        layers = student_config.teacher_layers or [2, 5, 8, 11]
        examples = student_examples
        say(Stage("score"))
        soft = teacher_scores(teacher, examples, tokenizer.pad_id, torch.device("cpu"))
        check_cancelled(cancelled)
        # continue from the active student when its weights ship (distilling a fresh one from teacher
        # layers needs far more text than a clinic has); otherwise start from the teacher's layers
        if (active.student_weights / WEIGHTS_FILE).is_file():
            student, _ = load_model(active.student_weights)
            if new_types:
                extend_labels(student, old_tags, new_types)
        else:
            student = student_from_teacher(teacher, layers)
        say(Stage("distill"))
        student, _ = fit(student, examples, spec.student, pad_id=tokenizer.pad_id, soft_targets=soft,
                         log=log("distill"), cancelled=cancelled)
        check_cancelled(cancelled)
        say(Stage("quantize"))
        sconfig = student_config
        sconfig.kind, sconfig.tags, sconfig.version = STUDENT_INT8, tags, version
        sconfig.encoder = dict(tconfig.encoder, num_hidden_layers=len(layers))
        sconfig.created, sconfig.training = tconfig.created, dict(tconfig.training, recipe=asdict(spec.student))
        # the assertion classifier learnt from labelled real text, which a clinic's reviews don't label: carried over
        carried = active.student / ASSERTION_FILE
        write_onnx_folder(student, sconfig, tok_json, temp / STUDENT_INT8,
                          assertion=carried if carried.is_file() else None)
        student_fp16 = ModelConfig(**{**vars(sconfig), "kind": STUDENT, "quantization": None})
        save_model(student, student_fp16, tok_json, temp / STUDENT, half=True)
        check_cancelled(cancelled)

        say(Stage("evaluate"))
        new_tagger, old_tagger = _load_or_error(temp / STUDENT_INT8), _load_or_error(active.student)
        checked = Comparison(new=_score(new_tagger, held_out, cancelled=cancelled),
                             active=_score(old_tagger, held_out, cancelled=cancelled))
        evidence = Evidence(reviewed=len(reviewed), documents=checked.new.documents, entities=checked.new.entities)
        report = RetrainReport(
            version=version, previous=active.version, preset=preset,
            counts=Counts(reviewed=len(reviewed), held_out=n_hold, train=len(train), unreviewed=len(unreviewed),
                          replay=len(replay), new_types=tuple(new_types)),
            held_out=checked, decision=decide(new=checked.new, active=checked.active, held_out=evidence),
            base_test=Comparison(_score(new_tagger, base_test, cancelled=cancelled),
                                 _score(old_tagger, base_test, cancelled=cancelled)) if base_test else None,
            seconds=round(time.monotonic() - started))
        (temp / REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False),
                                          encoding="utf-8")
        check_cancelled(cancelled)  # the last moment a Cancel can still change nothing
        registry.commit_version(temp, version)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    if report.promoted:
        registry.activate(version)
    say(Result(report))
    return report


def run_plan(spec: Preset, *, teacher_examples: list[Example], student_examples: list[Example],
             held_out: int) -> Plan:
    """Every stage's size for the app's time-left estimate. Costs are priors in teacher-step units, measured on
    two quick retrainings (``scripts/bench_retrain.py``, 60 + 30 and 30 + 10 reviewed + unreviewed documents,
    2 shared cores; tests/data/retrain_events_quick_*.jsonl): a scoring batch 0.33 and 0.13 of a teacher step,
    a distillation step 0.45 and 0.19, quantizing 0.19 and 0.16, a held-out document 0.003 (the spread is the
    machine's load changing during a run); the priors sit between them. The app replaces each with measured
    seconds per step once its stage runs. The guesses they replace (0.7, 0.7, 40, 0.1) made the time left 3-6x
    too long, quantizing alone 40 teacher steps instead of a fifth of one."""
    def steps(examples: list[Example], recipe: Recipe) -> int:  # what fit() will run
        total = math.ceil(len(examples) / recipe.batch_size) * recipe.epochs
        return min(total, recipe.max_steps) if recipe.max_steps is not None else total

    return Plan((StagePlan("teacher", steps(teacher_examples, spec.teacher), 1.0),
                 StagePlan("score", math.ceil(len(student_examples) / SCORE_BATCH), 0.2),
                 StagePlan("distill", steps(student_examples, spec.student), 0.28),
                 StagePlan("quantize", 1, 0.16),
                 StagePlan("evaluate", 2 * held_out, 0.005)))


def check_free_space(folder: Path, *, needed: int = FREE_BYTES_NEEDED) -> None:
    """Refuse to start when the disk cannot hold a new version, instead of failing an hour later."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise MederError(f"retraining needs about {needed // 2**20} MB free on the disk of {folder} (a model version "
                         f"takes about {VERSION_BYTES // 2**20} MB); only {free // 2**20} MB are free. Free some "
                         "space (or delete an old model version) and try again; nothing was changed")


def _load_or_error(folder: Path) -> Tagger | str:
    try:
        return load_tagger(folder)
    except MederError as exc:  # e.g. a damaged active version: it cannot be scored, which decide() weighs
        return str(exc)


EVALUATE_CHUNK = 16  # documents scored between two looks at Cancel


def _score(tagger: Tagger | str, docs: list[Document], *, cancelled: IsCancelled | None = None) -> Score:
    """How ``tagger`` does on ``docs``, counts first; a failure is an error, never a score of 0.0. Predicted a few
    documents at a time, so that a Cancel during "evaluate" stops it (each document is tagged on its own anyway)."""
    docs = [d for d in docs if d.tokens()]
    words = [d.tokens() for d in docs]
    gold = [entities_to_tags(w, d.entities) for w, d in zip(words, docs)]
    entities = sum(len(tags_to_entities(w, g)) for w, g in zip(words, gold))
    if isinstance(tagger, str):
        return Score(documents=len(docs), entities=entities, error=tagger)
    try:
        predicted = []
        for at in range(0, len(words), EVALUATE_CHUNK):
            check_cancelled(cancelled)
            predicted += tagger.predict_tags(words[at:at + EVALUATE_CHUNK])
        metrics = score(gold, predicted)
    except ValueError as exc:  # e.g. no entities in the held-out documents
        return Score(documents=len(docs), entities=entities, error=str(exc))
    low, high = metrics["strict_micro_f1_ci95"]
    return Score(documents=len(docs), entities=entities,
                 exact=sum(row["exact"] for row in metrics["errors"].values()),
                 predicted=sum(len(tags_to_entities(w, p)) for w, p in zip(words, predicted)),
                 f1=metrics["strict_micro_f1"], f1_ci95=(low, high), metrics=metrics)
