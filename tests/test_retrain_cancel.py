"""Model › Retrain…: Cancel ends the trainer within 5 s, a retrain right after a Cancel runs to its end, every
exit status is said in words and logged, and reviewed documents without entities are warned about (issue 24)."""

from __future__ import annotations

import logging
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_retrain import make_db

from app.gui.retrain_dialog import RetrainDialog
from app.paths import install_root
from engine.model_registry import ModelRegistry
from engine.spans import Entity
from engine.storage import Repository
from engine.trainer_contract import ExitCode, exit_words

ROOT = Path(__file__).resolve().parent.parent

# ``stubborn``: reads Cancel only after a long step (as quantizing does); ``obedient``: stops at once.
TRAINER = """
    import sys, time
    sys.path.insert(0, {root!r})
    from engine.trainer_contract import CANCEL_LINE, EventWriter, ExitCode, Stage, Step
    write = EventWriter(sys.stdout)
    write(Stage("teacher"))
    write(Step(1, 100, stage="teacher"))
    if {stubborn!r}:
        time.sleep(60)
    for line in sys.stdin:
        if line.strip() == CANCEL_LINE:
            sys.exit(ExitCode.CANCELLED)
"""


def trainer(folder: Path, *, stubborn: bool) -> list[str]:
    script = folder / f"trainer_{'stubborn' if stubborn else 'obedient'}.py"
    script.write_text(textwrap.dedent(TRAINER.format(root=str(ROOT), stubborn=stubborn)), encoding="utf-8")
    return [sys.executable, str(script)]


def open_dialog(qtbot, folder: Path, command: list[str], db: Path | None = None) -> RetrainDialog:
    repo = Repository(db or make_db(folder / "clinic.sqlite3"))
    bundled = install_root() / "model_assets"
    dialog = RetrainDialog(None, repo, ModelRegistry(folder / "models", bundled), bundled, command=command)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def running(dialog) -> bool:
    return "step 1 of 100" in dialog.stage.text()


def test_cancel_stops_a_trainer_busy_in_a_long_step_within_5_s_and_says_so(qtbot, tmp_path, caplog):
    dialog = open_dialog(qtbot, tmp_path, trainer(tmp_path, stubborn=True))
    dialog.start()
    qtbot.waitUntil(lambda: running(dialog), timeout=20000)
    started = time.monotonic()
    caplog.set_level(logging.INFO)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.process is None, timeout=10000)
    assert time.monotonic() - started < 5
    assert dialog.stage.text() == "Cancelled. The active model and your corrections are unchanged."
    assert "exit code" not in dialog.stage.text()
    assert any("trainer exit status 9" in r.getMessage() and "killed after Cancel" in r.getMessage()
               for r in caplog.records)
    dialog.repo.close()


def test_a_retrain_started_right_after_a_cancel_runs_on(qtbot, tmp_path):
    """The cancelled run's kill timer must not reach the next run's process."""
    dialog = open_dialog(qtbot, tmp_path, trainer(tmp_path, stubborn=False))
    dialog.start()
    qtbot.waitUntil(lambda: running(dialog), timeout=20000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.process is None, timeout=10000)
    dialog.start_button.click()  # at once
    qtbot.waitUntil(lambda: running(dialog), timeout=20000)
    second = dialog.process
    qtbot.wait(5000)  # longer than the first run's grace before a kill
    assert dialog.process is second and "failed" not in dialog.stage.text()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.process is None, timeout=10000)
    assert dialog.stage.text().startswith("Cancelled.")
    dialog.repo.close()


@pytest.mark.parametrize(("code", "crashed", "words"), [
    (ExitCode.REFUSED, False, "refused to start"),
    (9, True, "killed before it finished"),
    (137, False, "killed before it finished"),
    (11, True, "crashed (memory fault)"),
    (77, False, "exit status 77, which it never sets itself"),
])
def test_every_exit_status_is_said_in_words_and_logged(qtbot, tmp_path, caplog, code, crashed, words):
    dialog = open_dialog(qtbot, tmp_path, trainer(tmp_path, stubborn=False))
    dialog.new_run()
    caplog.set_level(logging.INFO)
    dialog.finish(code, crashed=crashed)
    assert words in dialog.stage.text() and f"exit code {code}" not in dialog.stage.text()
    assert any(f"trainer exit status {code}" in r.getMessage() and words in r.getMessage() for r in caplog.records)
    assert exit_words(ExitCode.OK) and exit_words(ExitCode.CANCELLED).startswith("the retraining was cancelled")
    dialog.repo.close()


def test_reviewed_documents_without_entities_are_warned_about_and_start_stays_possible(qtbot, tmp_path):
    path = tmp_path / "empty.sqlite3"
    repo = Repository(path)
    ids = repo.add_documents([(f"n{i}", "রোগী ভালো আছেন", "t", []) for i in range(12)], origin="model")
    for doc_id in ids:
        repo.set_reviewed(doc_id)
    repo.close()
    dialog = open_dialog(qtbot, tmp_path, trainer(tmp_path, stubborn=False), db=path)
    assert dialog.warning.isVisible()
    assert "hold no entities" in dialog.warning.text() and dialog.start_button.isEnabled()
    dialog.repo.close()
    dialog = open_dialog(qtbot, tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path,
                         trainer(tmp_path, stubborn=False))
    assert not dialog.warning.isVisible()
    dialog.repo.close()


def test_a_reviewed_set_with_entities_is_summarised_without_warning(qtbot, tmp_path):
    path = tmp_path / "some.sqlite3"
    repo = Repository(path)
    ids = repo.add_documents([(f"n{i}", "জ্বর হলে নাপা খান", "t", [Entity(0, 4, "Symptom")]) for i in range(10)],
                             origin="model")
    for doc_id in ids:
        repo.set_reviewed(doc_id)
    repo.close()
    dialog = open_dialog(qtbot, tmp_path, trainer(tmp_path, stubborn=False), db=path)
    assert "10 reviewed documents with 10 entities" in dialog.summary.text() and not dialog.warning.isVisible()
    dialog.repo.close()


def test_the_verdict_and_the_versions_chart_show_what_retraining_bought(qtbot, tmp_path, tiny_bundle):
    """A real (tiny) retraining: the verdict gives both models' review effort on the set-aside documents, and
    Model › Versions draws the version's check beside the model before it."""
    from test_retrain import TINY

    from app.gui.versions_dialog import Checked, VersionsDialog
    from trainer.retrain import retrain

    repo_path = make_db(tmp_path / "clinic.sqlite3", reviewed=40)
    registry = ModelRegistry(tmp_path / "models", tiny_bundle)
    result = retrain(repo_path, registry.dir, tiny_bundle, preset_override=TINY)
    new, before = result.held_out.new, result.held_out.active
    effort_new, effort_before = new.metrics["review_effort_per_100"], before.metrics["review_effort_per_100"]
    assert (f"about {effort_new:.0f} key presses or clicks per 100 entities with the new model and "
            f"{effort_before:.0f} with the current one") in result.verdict()
    versions = VersionsDialog(None, registry, lambda: None)
    qtbot.addWidget(versions)
    versions.show()
    assert versions.chart.points == [Checked(result.version, new.documents, new.f1, before.f1, effort_new,
                                             effort_before)]
    assert versions.chart.isVisible() and versions.chart_note.isVisible()
    image = versions.chart.grab().toImage()
    drawn = {image.pixelColor(x, y).name() for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)}
    assert "#1f6fb2" in drawn  # the dots and the line are painted
