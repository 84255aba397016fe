"""Command line: ``python -m trainer build|evaluate|tune|benchmark|quantize|retrain``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.console import utf8_output
from engine.errors import MederError
from engine.trainer_contract import ERROR_PREFIX, ExitCode


def main(argv: list[str] | None = None) -> int:
    utf8_output()  # the app reads the events and the error line as UTF-8, on Windows too
    parser = argparse.ArgumentParser(prog="python -m trainer", description="Build and evaluate Bangla MedER models.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="the whole pipeline: base encoder -> teacher -> student -> INT8")
    b.add_argument("--data", required=True, type=Path, help="folder with healthner-a.json and healthner-b.json")
    b.add_argument("--out", required=True, type=Path, help="where to publish student-int8/, teacher/, MODEL_CARD.md")
    b.add_argument("--work", type=Path, default=Path("build-work"), help="stage folder (resumable)")
    b.add_argument("--transfer-data", type=Path, metavar="DIR",
                   help="folder of unlabelled text (*.jsonl with a \"text\" field) the student also learns the "
                        "teacher from, e.g. ../shared/data/bangla-health-text")
    b.add_argument("--teacher-epochs", type=int)
    b.add_argument("--student-epochs", type=int)
    b.add_argument("--max-steps", type=int, help="cap optimiser steps per stage (smoke runs)")
    e = sub.add_parser("evaluate", help="score a model folder on annotated files (JSON to stdout)")
    e.add_argument("--model", required=True, type=Path)
    e.add_argument("--data", type=Path, action="append", default=[], help="annotated file (repeatable)")
    e.add_argument("--test-split", type=Path, metavar="DIR",
                   help="also score the seeded test part of this HealthNER folder (the model card's figures)")
    e.add_argument("--assertion-set", choices=("dev", "test"),
                   help="score assertion on this part of the real-text set (tests/data/assertion_real; texts read "
                        "from --assertion-texts): the folder's classifier, the rules alone and all-present")
    e.add_argument("--assertion-texts", type=Path, metavar="DIR",
                   help="the Bangla-HealthNER folder the real-text set's texts are read from "
                        "(default: ../shared/data/bangla-healthner)")
    t = sub.add_parser("tune", help="choose the decoder by review effort and calibrate confidences on dev")
    t.add_argument("--model", required=True, type=Path, help="model folder (ONNX or torch)")
    t.add_argument("--data", required=True, type=Path, help="the HealthNER folder (its seeded dev and test parts)")
    t.add_argument("--write", type=Path, action="append", default=[], metavar="FOLDER",
                   help="model folder whose config.json gets the choice (repeatable; manifest rewritten)")
    t.add_argument("--cache", type=Path, default=Path("build-work/emissions"),
                   help="where the documents' emission scores are kept between runs")
    t.add_argument("--json", type=Path, help="write the whole result (tables, reliability bins) here")
    t.add_argument("--baseline", metavar="DECODER", help="decoding to measure beside the candidates at temperature 1, "
                   "e.g. 'mbr 0.5' or 'viterbi' (default: the folder's own, before --write changes it)")
    q = sub.add_parser("quantize", help="torch student folder -> the app's INT8 ONNX folder")
    q.add_argument("--model", required=True, type=Path, help="torch model folder (model.safetensors)")
    q.add_argument("--out", required=True, type=Path, help="INT8 folder to write (replaced atomically)")
    m = sub.add_parser("benchmark", help="latency/size of teacher vs INT8 student")
    m.add_argument("--teacher", required=True, type=Path)
    m.add_argument("--student", required=True, type=Path)
    m.add_argument("--threads", type=int, default=1)
    m.add_argument("--runs", type=int, default=50)
    m.add_argument("--json", action="store_true")
    r = sub.add_parser("retrain", help="new model version from the app's reviewed documents")
    r.add_argument("--db", required=True, type=Path, help="the app's meder.sqlite3")
    r.add_argument("--out", required=True, type=Path, help="the models folder of the user data folder")
    r.add_argument("--bundled", type=Path, default=None, help="the install's model_assets/ (default: this checkout's)")
    r.add_argument("--preset", choices=("quick", "full"), default="quick")
    r.add_argument("--base-data", type=Path, help="folder of HealthNER files to mix in (optional)")
    r.add_argument("--json-progress", action="store_true", help="one JSON object per line on stdout")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            from trainer.build import BuildConfig, build

            config = BuildConfig()
            if args.teacher_epochs:
                config.teacher.epochs = args.teacher_epochs
            if args.student_epochs:
                config.student.epochs = config.transfer_student.epochs = args.student_epochs
            if args.max_steps:
                config.teacher.max_steps = config.student.max_steps = args.max_steps
                config.transfer_student.max_steps = args.max_steps
            report = build(args.data, args.out, args.work, config, transfer_data=args.transfer_data)
            print(json.dumps({k: report[k] for k in ("split", "vocab", "build_seconds", "macro_f1_kept")}, indent=1))
            print(json.dumps({k: {x: v[x] for x in ("strict_micro_f1", "strict_macro_f1")}
                              for k, v in report["metrics"].items()}, indent=1))
        elif args.command == "retrain":
            return _retrain(args)
        elif args.command == "evaluate":
            from trainer.evaluate import evaluate_files

            print(json.dumps(evaluate_files(args.model, args.data, test_split_of=args.test_split,
                                            assertion_set=args.assertion_set, assertion_texts=args.assertion_texts),
                             ensure_ascii=False))
        elif args.command == "tune":
            from trainer.tuning import Candidate, tune_folder

            parts = (args.baseline or "").split()
            if parts and (parts[0] not in ("viterbi", "mbr") or len(parts) != (2 if parts[0] == "mbr" else 1)):
                raise ValueError(f"--baseline must be 'viterbi' or 'mbr THRESHOLD', got {args.baseline!r}")
            baseline = (Candidate(parts[0], float(parts[1]) if len(parts) > 1 else 0.5) if parts else None)
            result = tune_folder(args.model, args.data, cache=args.cache, write_to=args.write, baseline=baseline)
            if args.json:
                args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            print(json.dumps({k: result[k] for k in ("chosen", "temperature", "levels", "current")}
                             | {"dev": result["dev"][result["chosen"]], "test": result["test"][result["chosen"]],
                                "test_current": result["test_current"]}, ensure_ascii=False))
        elif args.command == "quantize":
            from trainer.export import quantize_folder

            print(quantize_folder(args.model, args.out))
        elif args.command == "benchmark":
            from trainer.benchmark import benchmark, table

            result = benchmark(args.teacher, args.student, threads=args.threads, runs=args.runs)
            print(json.dumps(result, indent=1) if args.json else table(result))
    except (MederError, FileNotFoundError, ValueError) as exc:
        print(f"{ERROR_PREFIX}{exc}", file=sys.stderr)
        return ExitCode.REFUSED
    return ExitCode.OK


def _retrain(args) -> int:
    import signal
    import threading

    from engine.errors import OperationCancelled
    from engine.trainer_contract import EventWriter, Result, Stage, watch_for_cancel

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # stop cleanly and clean up
    writer = None
    if args.json_progress:  # started by the app: events on stdout, Cancel on stdin
        threading.Thread(target=watch_for_cancel, args=(sys.stdin or (), stop), daemon=True).start()
        writer = EventWriter(sys.stdout)
        writer(Stage("data"))  # before importing torch, which alone takes seconds: heartbeats cover it
        writer.start_heartbeat()

    from trainer.retrain import retrain
    bundled = args.bundled or Path(__file__).resolve().parent.parent / "model_assets"

    def progress(event) -> None:
        if writer is not None:
            writer(event)
        elif not isinstance(event, Result):
            print(event, file=sys.stderr, flush=True)

    try:
        report = retrain(args.db, args.out, bundled, preset=args.preset, base_data=args.base_data,
                         progress=progress, cancelled=stop.is_set)
    except OperationCancelled:
        print("cancelled; nothing was changed", file=sys.stderr)
        return ExitCode.CANCELLED
    except OSError as exc:  # e.g. the disk filled up after all: say so in one line, after the details
        import traceback

        traceback.print_exc()
        print(f"{ERROR_PREFIX}retraining stopped: {exc.strerror or exc}"
              f"{f' ({exc.filename})' if exc.filename else ''}; the active model is unchanged", file=sys.stderr)
        return ExitCode.FAILED
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        print(json.dumps(report.to_dict(), indent=1, ensure_ascii=False))
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
