"""``python -m app``: the Bangla MedER entry point.

``--selftest`` loads the bundled model, tags a built-in Bangla sentence and
prints the entities (no window, no display needed). ``extract FILE...`` tags
files headlessly. With no arguments the desktop window opens.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import IO

from app import __version__
from app.paths import active_model
from engine.console import utf8_output
from engine.errors import MederError
from engine.samples import SELFTEST_SENTENCE
from engine.spans import Document


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    utf8_output()  # Bangla on stdout even where Windows would pick cp1252 (a pipe, a file, the trainer's events)
    if argv[:1] == ["--trainer"]:  # the frozen app runs its trainer as a child process of itself
        from trainer.__main__ import main as trainer_main

        return trainer_main(argv[1:])
    parser = argparse.ArgumentParser(prog="bangla-meder", description="Medical entities in Bangla clinical text.")
    parser.add_argument("--version", action="version", version=f"Bangla MedER {__version__}")
    parser.add_argument("--selftest", action="store_true", help="tag a built-in sentence and exit")
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the bundled INT8 model)")
    parser.add_argument("--data-dir", help="where the database lives (default: the user data folder)")
    parser.add_argument("--list-backups", action="store_true", help="list the database's backups and exit")
    parser.add_argument("--restore-backup", type=Path, metavar="FILE",
                        help="replace the database by this backup (close the app first); the old one is kept aside")
    sub = parser.add_subparsers(dest="command")
    from app.extract import EXIT_CODES, output_help

    ex = sub.add_parser("extract", help="tag text files headlessly", epilog=EXIT_CODES)
    ex.add_argument("files", nargs="+", type=Path)
    ex.add_argument("-o", "--output", type=Path, help=output_help())
    ex.add_argument("--text-column", help="column with the text in .csv/.xlsx files (default: guessed)")
    # an archive: -o FOLDER writes shards and a manifest, resumably (app/archive_run.py)
    ex.add_argument("--workers", type=int, metavar="N",
                    help="tag on N local worker processes (Dask, an optional extra); -o must be a folder")
    ex.add_argument("--scheduler", metavar="ADDRESS",
                    help="tag on a running Dask cluster (tcp://host:8786); its workers must see the files, the "
                         "model folder and the -o folder at the same paths")
    ex.add_argument("--partition-size", type=int, metavar="N",
                    help="documents per shard when -o is a folder (default: 500)")
    rt = sub.add_parser("retrain", help="retrain on the reviewed documents as Model › Retrain does, without a window")
    rt.add_argument("--preset", choices=("quick", "full"), default="quick")
    rt.add_argument("--bundled", type=Path, help=argparse.SUPPRESS)  # tests: tiny models instead of the shipped ones
    args = parser.parse_args(argv)  # --version and --help end here, even where nothing else could run
    _from_caller(args)
    from app.startup_checks import EXIT_MISSING_LIBRARIES, EXIT_NOT_A_CHECKOUT, not_a_checkout, window_problem

    if problem := not_a_checkout():
        print(problem, file=sys.stderr)
        return EXIT_NOT_A_CHECKOUT
    if args.list_backups or args.restore_backup:
        return _backups(args)
    if args.command == "retrain":
        return _retrain(args)
    if not args.selftest and args.command is None:
        if problem := window_problem():  # before Qt loads its platform plugin: a failure there aborts the process
            print(problem, file=sys.stderr)
            return EXIT_MISSING_LIBRARIES
        from app.gui.application import run_gui

        return run_gui(data_dir=args.data_dir, model_dir=args.model)
    if args.command == "extract" and (args.workers is not None or args.scheduler is not None
                                      or args.partition_size is not None or _archive_output(args.output)):
        return _extract_archive(args)
    try:
        from engine.runtime import load_tagger

        tagger = load_tagger(args.model or active_model(args.data_dir))
        if args.command == "extract":
            from app.extract import extract

            return extract(tagger, args.files, args.output, text_column=args.text_column)
        from app.extract import print_entities

        doc = Document(SELFTEST_SENTENCE, tagger.tag(SELFTEST_SENTENCE), name=f"model {tagger.version}")
        print(SELFTEST_SENTENCE)
        print_entities(doc)
        if not doc.entities:
            print("selftest failed: no entities found", file=sys.stderr)
            return 1
        return 0
    except MederError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _from_caller(args: argparse.Namespace) -> None:
    """Relative paths as the caller meant them: ``./run`` changes to the project folder before starting Python
    and says where it was called from in ``BANGLA_MEDER_CALLER_DIR``."""
    caller = os.environ.get("BANGLA_MEDER_CALLER_DIR")
    if not caller:
        return

    def resolve(path: str | Path | None) -> str | Path | None:
        if path is None or Path(path).is_absolute():
            return path
        return str(Path(caller) / path) if isinstance(path, str) else Path(caller) / path

    for name in ("model", "data_dir", "restore_backup", "output"):
        if getattr(args, name, None) is not None:
            setattr(args, name, resolve(getattr(args, name)))
    if getattr(args, "files", None):
        args.files = [resolve(f) for f in args.files]


def _archive_output(out: Path | None) -> bool:
    from app.archive_run import is_archive_output

    return is_archive_output(out)


def _extract_archive(args: argparse.Namespace) -> int:
    """``extract -o FOLDER`` (and --workers/--scheduler): shards, a manifest, resumable."""
    from app.archive_run import extract_archive

    if args.output is None or not _archive_output(args.output):
        print("error: --workers, --scheduler and --partition-size write a folder of shards: give -o FOLDER",
              file=sys.stderr)
        return 2
    try:
        model = args.model or active_model(args.data_dir)
    except MederError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return extract_archive(args.files, args.output, model_folder=model, workers=args.workers,
                           scheduler=args.scheduler, partition_size=args.partition_size,
                           text_column=args.text_column)


def _retrain(args: argparse.Namespace) -> int:
    """Model › Retrain without a window: a backup first, then the trainer as a child process of this one (the
    frozen app starts itself with ``--trainer``), its stages printed, its verdict at the end, its exit status."""
    import subprocess
    import threading

    from app.data_dir import database_path
    from app.paths import install_root
    from engine.backup import make_backup
    from engine.instance_lock import InstanceLock
    from engine.trainer_contract import (
        CANCEL_LINE,
        Result,
        Stage,
        decode,
        retrain_arguments,
        stage_words,
        trainer_command,
    )

    try:
        db = database_path(args.data_dir)
        lock = InstanceLock(db.parent)  # not while a window works on this data folder
        lock.acquire()
    except MederError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if not db.is_file():
            print(f"error: no database in {db.parent}: import and review documents first", file=sys.stderr)
            return 2
        make_backup(db, reason="before-retrain")
        command = trainer_command() + retrain_arguments(
            db=db, models_dir=db.parent / "models", bundled=args.bundled or install_root() / "model_assets",
            preset=args.preset)
        report, stage = None, ""
        # stderr piped and passed on: a windowed frozen app would hand the trainer no stream (PyInstaller makes
        # it DEVNULL), and its error line would be lost
        with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, encoding="utf-8", errors="replace") as trainer:
            relay = threading.Thread(target=_pass_on, args=(trainer.stderr, sys.stderr), daemon=True)
            relay.start()
            try:
                for line in trainer.stdout:
                    event = decode(line.strip())
                    if isinstance(event, Stage) and stage_words(event.stage) != stage:
                        stage = stage_words(event.stage)
                        print(f"{stage}…", flush=True)
                    elif isinstance(event, Result):
                        report = event.report
            except KeyboardInterrupt:  # Ctrl+C: the trainer stops at its next step and removes its files
                trainer.stdin.write(CANCEL_LINE + "\n")
                trainer.stdin.flush()
                trainer.wait()
            relay.join()
        if report is not None and trainer.returncode == 0:
            print(report.verdict())
        return trainer.returncode
    except MederError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        lock.release()


def _pass_on(source: IO[str], target: IO[str] | None) -> None:
    for line in source:
        if target is not None:  # a windowed app started without streams has none
            target.write(line)
            target.flush()


def _backups(args: argparse.Namespace) -> int:
    from app.data_dir import database_path
    from engine.backup import list_backups, restore_backup

    try:
        db = database_path(args.data_dir, create=args.restore_backup is not None)
        if args.restore_backup is None:
            for path in list_backups(db):
                print(path)
            return 0
        notices: list[str] = []
        aside = restore_backup(args.restore_backup, db, notices=notices)
    except MederError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    kept = f"; the previous database is kept as {aside}" if aside else ""
    print(f"restored {args.restore_backup} into {db}{kept}")
    for notice in notices:  # schema objects the app did not create, dropped from the restored copy
        print(notice)
    return 0


if __name__ == "__main__":
    sys.exit(main())
