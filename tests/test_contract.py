"""The app <-> trainer contract: events on the wire, heartbeats, cancel, reports and the time-left estimate."""

from __future__ import annotations

import io
import sys
import threading
import time

import pytest

from engine.trainer_contract import (
    CANCEL_LINE,
    MIN_REVIEWED,
    Comparison,
    Counts,
    Decision,
    Error,
    EventWriter,
    ExitCode,
    Heartbeat,
    Plan,
    Result,
    RetrainReport,
    Score,
    Stage,
    StagePlan,
    Step,
    TimeLeft,
    comparison_text,
    decode,
    encode,
    read_report,
    retrain_arguments,
    trainer_command,
    watch_for_cancel,
)

REPORT = RetrainReport(
    version="20261201-101500", previous="bundled", preset="quick",
    counts=Counts(reviewed=60, held_out=12, train=48, unreviewed=5, replay=48, new_types=("Allergy",)),
    held_out=Comparison(Score(12, 40, 30, 36, 0.79, (0.7, 0.88), metrics={"per_class": {}}),
                        Score(12, 40, 28, 37, 0.727, (0.6, 0.8))),
    decision=Decision(True, True, ("the new model scored 0.790, the current one 0.727",), within_chance=True),
    seconds=640)


@pytest.mark.parametrize("event", [
    Plan((StagePlan("teacher", 120, 1.0), StagePlan("distill", 80, 0.7)), elapsed_s=1.5),
    Stage("teacher", elapsed_s=2.0),
    Step(12, 120, epoch=1, loss=0.5, stage="teacher", elapsed_s=30.25),
    Heartbeat("quantize", elapsed_s=300.0),
    Result(REPORT, elapsed_s=640.0),
    Error("the disk is full", elapsed_s=3.0),
])
def test_every_event_survives_the_wire(event):
    line = encode(event)
    assert "\n" not in line
    assert decode(line) == event


def test_lines_that_are_no_event_are_ignored():
    for line in ["", "not json", "[1, 2]", '{"stage": "teacher"}', '{"event": "step"}', '{"event": "nope"}']:
        assert decode(line) is None


def test_the_report_reads_back_whole_and_reads_earlier_reports():
    data = REPORT.to_dict()
    assert data["promoted"] is True and data["verdict"] == REPORT.verdict()
    assert RetrainReport.from_dict(data) == REPORT
    earlier = {  # what the release before this one wrote: a failed score stood as 0.0
        "version": "20261125-1530", "previous": "bundled", "preset": "quick",
        "counts": {"reviewed": 30, "held_out": 7, "train": 23, "unreviewed": 0, "replay": 0, "new_types": []},
        "held_out": {"new": {"error": "the evaluation data has no entities", "strict_micro_f1": 0.0},
                     "active": {"error": "the evaluation data has no entities", "strict_micro_f1": 0.0}},
        "promoted": True, "decision": "promoted: strict micro-F1 on the 7 held-out documents 0.000 vs 0.000"}
    old = read_report(earlier)
    assert old is not None and old.held_out.new.f1 is None and not old.held_out.new.ok
    assert old.held_out.new.documents == 7 and comparison_text(old.held_out) == "not checked"
    assert read_report({}) is None and read_report({"version": 3}) is None


def test_versions_show_what_each_score_rests_on():
    assert comparison_text(REPORT.held_out) == "0.790 (the model before: 0.727) on 12 documents"


def test_the_command_line_starts_this_trainer():
    assert trainer_command() == [sys.executable, "-m", "trainer"]
    args = retrain_arguments(db="/d/meder.sqlite3", models_dir="/d/models", bundled="/i/model_assets",
                             preset="full", base_data="/data/healthner")
    assert args[0] == "retrain" and "--json-progress" in args
    assert args[args.index("--base-data") + 1] == "/data/healthner"
    assert "--base-data" not in retrain_arguments(db="a", models_dir="b", bundled="c", preset="quick")
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3] and MIN_REVIEWED == 10


def test_the_writer_stamps_events_and_beats_while_a_step_takes_long():
    stream = io.StringIO()
    writer = EventWriter(stream, heartbeat_s=0.05)
    writer(Stage("quantize"))
    writer.start_heartbeat()
    time.sleep(0.4)  # a long step: nothing else is written
    writer.close()
    events = [decode(line) for line in stream.getvalue().splitlines()]
    assert isinstance(events[0], Stage) and all(e is not None for e in events)
    beats = [e for e in events if isinstance(e, Heartbeat)]
    assert len(beats) >= 3 and {b.stage for b in beats} == {"quantize"}
    times = [e.elapsed_s for e in events]
    assert times == sorted(times) and times[-1] >= 0.15


def test_the_cancel_line_stops_the_trainer():
    stop = threading.Event()
    watch_for_cancel(iter(["progress?\n", f"{CANCEL_LINE}\n", "never read\n"]), stop)
    assert stop.is_set()
    quiet = threading.Event()
    watch_for_cancel(iter(["cancelled\n", "\n"]), quiet)  # only the exact line counts
    assert not quiet.is_set()


PLAN = Plan((StagePlan("teacher", 100, 1.0), StagePlan("score", 10, 0.5), StagePlan("distill", 50, 0.5),
             StagePlan("quantize", 1, 20.0)))


def run(events):
    estimate = TimeLeft()
    return [estimate.update(e) for e in events]


def steady(seconds_per_step: float = 2.0):
    """Teacher steps at 2 s, every later stage exactly as the priors say: 200 + 10 + 50 + 40 = 300 s."""
    yield PLAN
    yield Stage("teacher", elapsed_s=0.0)
    for step in range(1, 101):
        yield Step(step, 100, stage="teacher", elapsed_s=step * seconds_per_step)
    yield Stage("score", elapsed_s=200.0)
    for t in range(5, 10, 5):
        yield Heartbeat("score", elapsed_s=200.0 + t)
    yield Stage("distill", elapsed_s=210.0)
    for step in range(1, 51):
        yield Step(step, 50, stage="distill", elapsed_s=210.0 + step)
    yield Stage("quantize", elapsed_s=260.0)
    for t in range(5, 40, 5):
        yield Heartbeat("quantize", elapsed_s=260.0 + t)


def test_time_left_covers_the_whole_run_and_counts_down():
    events = list(steady())
    left = run(events)
    assert left[0] is None and left[1] is None  # nothing measured yet
    first = left[2]  # after the first teacher step: 99 steps + every later stage
    assert first == pytest.approx(298, abs=1)
    known = [(e, s) for e, s in zip(events, left) if s is not None]
    for event, seconds in known:  # the priors were right here, so the estimate is the truth
        assert seconds == pytest.approx(300 - event.elapsed_s, abs=2), event
    assert [s for s in left if s is not None] == sorted([s for s in left if s is not None], reverse=True)


def test_time_left_never_rises_more_than_a_fifth_between_updates():
    events = [PLAN, Stage("teacher", elapsed_s=0.0)]
    events += [Step(s, 100, stage="teacher", elapsed_s=s * 0.5) for s in range(1, 101)]  # fast start
    events += [Stage("score", elapsed_s=50.0)]
    events += [Heartbeat("score", elapsed_s=50.0 + t) for t in range(5, 200, 5)]  # a stage far slower than thought
    events += [Stage("distill", elapsed_s=250.0)]
    events += [Step(s, 50, stage="distill", elapsed_s=250.0 + 10 * s) for s in range(1, 51)]  # 20x the prior
    left = [s for s in run(events) if s is not None]
    rises = [b / a for a, b in zip(left, left[1:]) if a]
    assert max(rises) > 1.0  # it did learn that the run is slower than thought...
    assert max(rises) <= 1.2 + 1e-9  # ...but never jumped


def test_time_left_before_a_plan_is_unknown():
    assert run([Stage("data"), Heartbeat("data", elapsed_s=5.0), Step(1, 10, stage="teacher", elapsed_s=6.0)]) == [
        None, None, None]
