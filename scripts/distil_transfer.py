"""Experiment (not part of the build): distil students from one teacher with and without transfer text.

Runs a list of recipes (each a name, a seed and Recipe overrides; ``"transfer": false`` = labelled
windows only), several at a time as separate processes sharing one cache of teacher scores, and writes
per run the dev strict micro-F1 (best epoch), the decoder sweep on dev and the fp16 student folder.
Selection is on dev only; score the chosen students on test afterwards, once.

    .venv/bin/python scripts/distil_transfer.py --teacher model_assets/teacher \
        --data ../shared/data/bangla-healthner --transfer ../shared/data/bangla-health-text \
        --out exp-transfer --runs '[{"name": "tr-s1", "seed": 1, "kd_alpha": 0.7, "temperature": 2.0}]'
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STUDENT = {"epochs": 8, "batch_size": 32, "lr_encoder": 2e-4, "lr_head": 2e-3, "kd_alpha": 0.5,
           "temperature": 1.0}  # the build's student recipe (trainer.build.BuildConfig)
LAYERS = [2, 5, 8, 11]


def _setup(args):
    import torch

    from engine.model_layout import TEACHER, TOKENIZER_FILE
    from engine.tokenizer import SubwordTokenizer
    from trainer.data import load_dataset, make_examples, split_dataset
    from trainer.fit import load_scores
    from trainer.model import load_model
    from trainer.transfer import cached_teacher_scores, transfer_examples

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    teacher, tconfig = load_model(args.teacher)
    teacher.to(device)
    tok_json = args.teacher / TOKENIZER_FILE
    tokenizer = SubwordTokenizer.from_file(tok_json, max_length=tconfig.max_length)
    split = split_dataset(load_dataset(args.data))
    if args.limit:  # smoke runs: a few documents of each part
        split.train, split.dev = split.train[:args.limit], split.dev[:args.limit]
    labeled = make_examples(split.train, tokenizer, tconfig.tags)
    transfer = transfer_examples(args.transfer, tokenizer)[:args.limit or None]
    cache = args.cache or args.out / "cache"
    if tconfig.kind == TEACHER:
        soft_l = cached_teacher_scores(teacher, labeled, cache / "labeled.safetensors", pad_id=tokenizer.pad_id,
                                       device=device)
        soft_t = cached_teacher_scores(teacher, transfer, cache / "transfer.safetensors", pad_id=tokenizer.pad_id,
                                       device=device)
    else:  # a student cut from the teacher elsewhere: only the teacher's cached scores will do
        soft_l = load_scores(cache / "labeled.safetensors", labeled)
        soft_t = load_scores(cache / "transfer.safetensors", transfer)
    return device, teacher, tconfig, tok_json, tokenizer, split, labeled, transfer, soft_l, soft_t


def run_one(args, spec: dict) -> dict:
    import torch

    from trainer.evaluate import tune_decoder
    from trainer.fit import Recipe
    from trainer.model import save_model, torch_tagger
    from trainer.transfer import distil, student_config

    torch.set_num_threads(max(1, args.threads))
    started = time.monotonic()
    device, teacher, tconfig, tok_json, tokenizer, split, labeled, transfer, soft_l, soft_t = _setup(args)
    overrides = {k: v for k, v in spec.items() if k in Recipe.__dataclass_fields__}
    recipe = Recipe(**{**STUDENT, **overrides})
    if args.max_steps:
        recipe.max_steps = args.max_steps
    use_transfer = spec.get("transfer", True)
    layers = [int(x) for x in args.layers.split(",")]
    # --teacher may be a student already cut from the teacher (--layers 0,1,2,3): record the teacher's layers
    origin = [tconfig.teacher_layers[i] for i in layers] if tconfig.teacher_layers else layers
    config = student_config(tconfig, origin, version=spec["name"])
    events = []
    student, best = distil(teacher, config, tok_json, layers=layers, labeled=labeled,
                           transfer=transfer if use_transfer else [],
                           soft=soft_l + (soft_t if use_transfer else []), recipe=recipe, dev=split.dev,
                           pad_id=tokenizer.pad_id, device=device, log_event=events.append)
    sweep = tune_decoder(torch_tagger(student, config, tok_json), split.dev)
    folder = args.out / "students" / spec["name"]
    save_model(student.cpu(), config, tok_json, folder, half=True)
    result = {"spec": spec, "recipe": asdict(recipe), "transfer": use_transfer, "dev_strict_micro_f1": best,
              "dev_decoders": sweep, "seconds": round(time.monotonic() - started),
              "dev_by_epoch": [e.dev_f1 for e in events if e.dev_f1 is not None], "device": str(device)}
    (args.out / "runs").mkdir(parents=True, exist_ok=True)
    (args.out / "runs" / f"{spec['name']}.json").write_text(json.dumps(result, indent=1))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--transfer", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--runs", required=True, help="JSON list of {name, seed, Recipe fields, transfer}")
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time (processes)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per run")
    parser.add_argument("--max-steps", type=int, help="cap optimiser steps (smoke runs)")
    parser.add_argument("--layers", default=",".join(map(str, LAYERS)), help="layers of --teacher to start from")
    parser.add_argument("--cache", type=Path, help="folder of cached teacher scores (default OUT/cache)")
    parser.add_argument("--limit", type=int, help="use only this many documents of each part (smoke runs)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    specs = json.loads(args.runs)
    if args.one:
        run_one(args, next(s for s in specs if s["name"] == args.one))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    _setup(args)  # fills the score cache once, before the runs read it
    print(f"teacher scores cached in {time.monotonic() - t0:.0f} s", flush=True)
    pending, running = list(specs), []
    failed = []
    while pending or running:
        while pending and len(running) < args.parallel:
            spec = pending.pop(0)
            cmd = [sys.executable, __file__, *sys.argv[1:], "--one", spec["name"]]
            logf = open(args.out / f"{spec['name']}.log", "w")
            running.append((spec, subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                                   env={**os.environ, "PYTHONUNBUFFERED": "1"}), logf))
        time.sleep(2)
        for item in list(running):
            spec, proc, logf = item
            if proc.poll() is not None:
                running.remove(item)
                logf.close()
                if proc.returncode:
                    failed.append(spec["name"])
                print(f"{spec['name']}: exit {proc.returncode} at {time.monotonic() - t0:.0f} s", flush=True)
    summary = {}
    for spec in specs:
        path = args.out / "runs" / f"{spec['name']}.json"
        if path.is_file():
            r = json.loads(path.read_text())
            summary[spec["name"]] = {"dev": r["dev_strict_micro_f1"], "viterbi": r["dev_decoders"]["viterbi"],
                                     "mbr": r["dev_decoders"]["mbr"], "seconds": r["seconds"]}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
