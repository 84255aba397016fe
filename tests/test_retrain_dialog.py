"""Model › Retrain…: the dialog's states (running, cancelled, promoted, kept) from the trainer's event lines."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from test_retrain import TINY, make_db

from app.gui.main_window import MainWindow
from app.gui.retrain_dialog import RetrainDialog
from app.gui.versions_dialog import VersionsDialog
from engine.model_registry import BUNDLED, ModelRegistry
from engine.storage import Repository
from engine.trainer_contract import (
    Comparison,
    Counts,
    Decision,
    ExitCode,
    Heartbeat,
    Plan,
    Result,
    RetrainReport,
    Score,
    Stage,
    StagePlan,
    Step,
    encode,
)
from trainer.retrain import retrain

ROOT = Path(__file__).resolve().parent.parent
NEW = Score(23, 120, exact=88, predicted=109, f1=0.727, f1_ci95=(0.65, 0.80))
CURRENT = Score(23, 120, exact=83, predicted=108, f1=0.701, f1_ci95=(0.62, 0.78))


def report(*, promoted: bool) -> RetrainReport:
    new, current = (NEW, CURRENT) if promoted else (CURRENT, NEW)
    reason = "the new model scored higher" if promoted else "the new model scored lower"
    return RetrainReport("20261201-101500", BUNDLED, "quick", Counts(reviewed=230, held_out=23),
                         Comparison(new, current), Decision(promoted, True, (reason,), within_chance=True))


@pytest.fixture
def dialog(qtbot, tmp_path, tiny_bundle):
    repo = Repository(make_db(tmp_path / "clinic.sqlite3"))
    registry = ModelRegistry(tmp_path / "models", tiny_bundle)
    d = RetrainDialog(None, repo, registry, tiny_bundle, command=[sys.executable, str(fake_trainer(tmp_path))])
    qtbot.addWidget(d)
    d.show()
    yield d
    repo.close()


def fake_trainer(folder: Path) -> Path:
    """A stand-in trainer that speaks the contract: one step, then it waits for Cancel."""
    script = folder / "fake_trainer.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from engine.trainer_contract import CANCEL_LINE, EventWriter, ExitCode, Stage, Step
        write = EventWriter(sys.stdout)
        write(Stage("teacher"))
        write(Step(1, 100, stage="teacher"))
        for line in sys.stdin:
            if line.strip() == CANCEL_LINE:
                sys.exit(ExitCode.CANCELLED)
    """), encoding="utf-8")
    return script


def feed(dialog: RetrainDialog, *events) -> None:
    for event in events:
        dialog.handle_line(encode(event) + "\n")


PLAN = Plan((StagePlan("teacher", 100, 1.0), StagePlan("distill", 50, 0.5)))


def test_running_shows_the_stage_in_plain_words_and_the_time_left_for_the_whole_run(dialog):
    dialog.new_run()
    feed(dialog, Stage("data"), PLAN, Stage("teacher", elapsed_s=1.0))
    assert dialog.stage.text() == "Learning from your corrections…"
    assert dialog.time_left.text() == "Estimating the time left…"
    feed(dialog, Step(10, 100, stage="teacher", elapsed_s=61.0))  # 6 s a step: 540 + 150 s left
    assert dialog.stage.text() == "Learning from your corrections… (step 10 of 100)"
    assert (dialog.bar.value(), dialog.bar.maximum()) == (10, 100)
    assert dialog.time_left.text() == "About 12 minutes left"
    feed(dialog, Heartbeat("teacher", elapsed_s=64.0))  # between steps the estimate counts down (690 -> 687 s)
    assert dialog.time_left.text() == "About 11 minutes left"
    feed(dialog, Heartbeat("teacher", elapsed_s=300.0))  # a very long step: never below the steps still to run
    assert dialog.time_left.text() == "About 11 minutes left"
    feed(dialog, Stage("distill", elapsed_s=601.0))
    assert dialog.stage.text() == "Making the fast model…" and "teacher" not in dialog.stage.text()
    dialog.handle_line("2026-11-25 15:01:10 a library printed this\n")  # not an event: ignored
    assert dialog.stage.text() == "Making the fast model…"
    assert not dialog.verdict_area.isVisible()


def test_promoted_shows_the_whole_verdict_in_plain_words(qtbot, dialog):
    dialog.new_run()
    feed(dialog, PLAN, Stage("evaluate"), Result(report(promoted=True)))
    with qtbot.waitSignal(dialog.finished_report) as finished:
        dialog.finish(ExitCode.OK)
    assert finished.args[0].promoted
    assert dialog.stage.text() == "Done: the model is active."
    text = dialog.verdict.text()
    assert text == report(promoted=True).verdict()
    assert text.startswith("On 23 of your reviewed documents with 120 entities, the new model found 88 exactly")
    assert "It is now active; you can go back in Model › Versions." in text and "within chance" in text
    qtbot.waitUntil(lambda: dialog.verdict_area.isVisible())
    # whole: wrapped to the width it has, given every line's height it needs (the scroll area reaches the rest)
    assert dialog.verdict.wordWrap() and dialog.isSizeGripEnabled()
    assert dialog.verdict.height() >= dialog.verdict.heightForWidth(dialog.verdict.width())
    assert dialog.verdict.width() <= dialog.verdict_area.viewport().width()
    assert dialog.start_button.isEnabled() and dialog.cancel_button.text() == "Close"


def test_kept_says_the_current_model_stays_and_where_the_new_one_is(qtbot, dialog):
    dialog.new_run()
    feed(dialog, Result(report(promoted=False)))
    with qtbot.waitSignal(dialog.finished_report) as finished:
        dialog.finish(ExitCode.OK)
    assert not finished.args[0].promoted
    assert dialog.stage.text() == "Done: the new model is kept as a version; the active model is unchanged."
    assert "The current model stays active because it did better" in dialog.verdict.text()
    assert "version 20261201-101500" in dialog.verdict.text()


def test_cancelling_a_second_run_says_cancelled_not_the_previous_verdict(qtbot, dialog):
    dialog.new_run()
    feed(dialog, Result(report(promoted=True)))
    dialog.finish(ExitCode.OK)
    assert "now active" in dialog.verdict.text()
    dialog.start()  # the second run, in the same dialog
    assert dialog.verdict.text() == "" and not dialog.verdict_area.isVisible()
    qtbot.waitUntil(lambda: "step 1 of 100" in dialog.stage.text(), timeout=20000)
    dialog._on_cancel()
    assert dialog.stage.text() == "Cancelling…"
    qtbot.waitUntil(lambda: dialog.process is None, timeout=20000)
    assert dialog.stage.text() == "Cancelled. The active model and your corrections are unchanged."
    assert dialog.verdict.text() == "" and not dialog.verdict_area.isVisible()
    assert dialog.report is None


def test_a_failed_run_after_a_verdict_shows_the_failure(dialog):
    dialog.new_run()
    feed(dialog, Result(report(promoted=False)))
    dialog.finish(ExitCode.OK)
    dialog.new_run()
    dialog.errors = b"error: retraining stopped: No space left on device; the active model is unchanged\n"
    dialog.finish(ExitCode.FAILED)
    assert dialog.stage.text() == ("Retraining failed: retraining stopped: No space left on device; the active "
                                   "model is unchanged")
    assert not dialog.verdict_area.isVisible()


def test_a_promotion_switches_the_app_to_the_new_model(qtbot, tmp_path, tiny_bundle):
    """The real tiny retraining with enough evidence; the window follows the trainer's result."""
    repo = Repository(make_db(tmp_path / "meder.sqlite3", reviewed=40))
    registry = ModelRegistry(tmp_path / "models", tiny_bundle)
    window = MainWindow(repo, registry)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.tagger is not None, timeout=20000)
    assert window.model_label.text() == f"model {BUNDLED}"  # the name Model › Versions uses
    window.retrain_dialog()
    dialog = window._retrain
    assert f"the active model ({BUNDLED})" in dialog.summary.text()
    dialog.new_run()
    result = retrain(repo.path, registry.dir, tiny_bundle, preset_override=TINY,
                     progress=lambda event: feed(dialog, event))  # the events the trainer would write
    assert result.promoted and registry.active().version == result.version
    dialog.finish(ExitCode.OK)
    qtbot.waitUntil(lambda: window.model_label.text() == f"model {result.version}", timeout=20000)
    assert window.model_dir == registry.active().student
    assert f"the active model ({result.version})" in dialog.summary.text()
    assert "It is now active" in dialog.verdict.text()
    versions = VersionsDialog(None, registry, lambda: None)
    qtbot.addWidget(versions)
    rows = {versions.table.item(r, 0).text(): r for r in range(versions.table.rowCount())}
    assert set(rows) == {BUNDLED, result.version}  # the same name as the status bar gave the bundled model
    score = versions.table.item(rows[result.version], 2).text()
    assert score == f"{result.held_out.new.f1:.3f} (the model before: {result.held_out.active.f1:.3f}) on 10 documents"
    dialog.close()
    repo.close()
