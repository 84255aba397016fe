"""What the app and the trainer process agree on, in one place both can import (no torch, no Qt).

Both ends of the protocol live here, as ReText's ``converterprocess.py`` keeps its child loop and its
parent beside each other:

- the command line that starts the trainer (:func:`trainer_command`, :func:`retrain_arguments`);
- the events the trainer writes to stdout, one JSON object a line (:func:`encode`, :func:`decode`),
  with a heartbeat when a step takes longer than :data:`HEARTBEAT_S` (:class:`EventWriter`);
- the line the app writes to the trainer's stdin to stop it (:data:`CANCEL_LINE`, :func:`watch_for_cancel`);
- the exit codes (:class:`ExitCode`) and the error line (:data:`ERROR_PREFIX`): on failure the trainer's
  last stderr line starts with it, so the app can show the real error instead of a library warning;
- the minimum of reviewed documents (:data:`MIN_REVIEWED`) and the promotion rule (:func:`decide`);
- the report a retraining writes (:class:`RetrainReport`), its plain-words verdict, and the time-left
  estimate (:class:`TimeLeft`).
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from enum import IntEnum
from pathlib import Path
from typing import IO

ERROR_PREFIX = "error: "
CANCEL_LINE = "cancel"
HEARTBEAT_S = 5.0  # the app hears from the trainer at least this often (well under its 10 s promise)
MIN_REVIEWED = 10  # reviewed documents a retraining needs at all
# Promotion needs evidence: a held-out slice this large. With :func:`holdout_size` that takes about
# 40 reviewed documents; below it the new model is kept, and the user may activate it by hand.
MIN_HELD_OUT_DOCUMENTS = 10
MIN_HELD_OUT_ENTITIES = 20


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # stopped on the way (disk full, ...): the error line says why
    REFUSED = 2  # bad arguments or data (too few reviewed documents, no database, ...)
    CANCELLED = 3  # the user cancelled; nothing was changed


# Every way the trainer can end, in the users' words (the dialog shows it and the log records it).
EXIT_WORDS = {
    ExitCode.OK: "the trainer finished",
    ExitCode.FAILED: "the trainer stopped on an error (the line before says which); the active model is unchanged",
    ExitCode.REFUSED: "the trainer refused to start: the database, the model folders or the reviewed documents "
                      "could not be used as given; nothing was changed",
    ExitCode.CANCELLED: "the retraining was cancelled; the active model and your corrections are unchanged",
}
SIGNAL_WORDS = {9: "killed", 15: "asked to stop by the system", 11: "crashed (memory fault)", 6: "aborted"}


def exit_words(code: int, *, crashed: bool = False) -> str:
    """What exit status ``code`` means. ``crashed``: the process did not exit itself and ``code`` is the signal
    that ended it (Qt reports a killed process so)."""
    if crashed:
        how = SIGNAL_WORDS.get(code, f"ended by signal {code}")
        return (f"the trainer was {how} before it finished (out of memory, the computer shutting down, or stopped "
                "from outside); the active model is unchanged and its unfinished files are removed at the next "
                "retraining")
    if code in EXIT_WORDS:
        return EXIT_WORDS[ExitCode(code)]
    if code > 128:  # a shell's way of saying "killed by signal code - 128"
        return exit_words(code - 128, crashed=True)
    return (f"the trainer ended with exit status {code}, which it never sets itself (a broken installation, or "
            "Python itself failed to start); the active model is unchanged")


def trainer_command() -> list[str]:
    """How to start the trainer: the frozen app runs itself with --trainer, else ``python -m trainer``."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--trainer"]
    return [sys.executable, "-m", "trainer"]


def retrain_arguments(*, db: Path, models_dir: Path, bundled: Path, preset: str,
                      base_data: str | Path | None = None) -> list[str]:
    """The trainer's arguments for one retraining that reports to the app (JSON lines on stdout)."""
    args = ["retrain", "--db", str(db), "--out", str(models_dir), "--bundled", str(bundled), "--preset", preset,
            "--json-progress"]
    if base_data:
        args += ["--base-data", str(base_data)]
    return args


def holdout_size(n: int) -> int:
    """Reviewed documents set aside for the check: at least 10 %, and 20 when there are enough (never most)."""
    return max(math.ceil(0.1 * n), min(20, n // 4))


# -- stages, in the users' words ----------------------------------------------------------------------
STAGE_WORDS = {
    "data": "Reading your reviewed documents",
    "teacher": "Learning from your corrections",
    "score": "Making the fast model",
    "distill": "Making the fast model",
    "quantize": "Making the fast model",
    "evaluate": "Checking it",
}


def stage_words(stage: str) -> str:
    return STAGE_WORDS.get(stage, stage.capitalize() if stage else "Working")


# -- events -------------------------------------------------------------------------------------------
# ``elapsed_s``: seconds since the trainer started, stamped by :class:`EventWriter` as it writes the line.

@dataclass(frozen=True)
class StagePlan:
    stage: str
    steps: int  # units of work in the stage (optimiser steps, batches, documents)
    cost: float  # expected seconds per step relative to a teacher training step (a prior until measured)


@dataclass(frozen=True)
class Plan:
    """Sent once the data is read: every remaining stage and its size, for one whole-run estimate."""
    stages: tuple[StagePlan, ...]
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class Stage:
    stage: str
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class Step:
    """An optimiser step (``fit`` sends these; the retrainer fills in ``stage``)."""
    step: int
    steps: int
    epoch: int = 1
    loss: float | None = None
    stage: str = ""
    dev_f1: float | None = None  # after an epoch, when a dev set is scored
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class Heartbeat:
    stage: str
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class Result:
    report: RetrainReport
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class Error:
    message: str
    elapsed_s: float = 0.0


Event = Plan | Stage | Step | Heartbeat | Result | Error
_KINDS: dict[str, type] = {"plan": Plan, "stage": Stage, "step": Step, "heartbeat": Heartbeat, "result": Result,
                           "error": Error}
_NAMES = {cls: name for name, cls in _KINDS.items()}


def encode(event: Event) -> str:
    """One JSON line (no newline) for ``event``."""
    if isinstance(event, Result):
        body = {"report": event.report.to_dict(), "elapsed_s": event.elapsed_s}
    else:
        body = asdict(event)
    return json.dumps({"event": _NAMES[type(event)], **body}, ensure_ascii=False)


def decode(line: str) -> Event | None:
    """The event on ``line``, or None for anything else (a library may print to stdout too)."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("event") not in _KINDS:
        return None
    kind = _KINDS[data.pop("event")]
    try:
        if kind is Plan:
            return Plan(tuple(StagePlan(**s) for s in data["stages"]), data.get("elapsed_s", 0.0))
        if kind is Result:
            return Result(RetrainReport.from_dict(data["report"]), data.get("elapsed_s", 0.0))
        return kind(**data)
    except (KeyError, TypeError, ValueError):
        return None


class EventWriter:
    """The trainer's end: writes events as JSON lines, stamped with the time since it started, and a
    :class:`Heartbeat` whenever nothing was written for ``heartbeat_s`` (a long step, quantizing, ...)."""

    def __init__(self, stream: IO[str], *, heartbeat_s: float = HEARTBEAT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.heartbeat_s, self.clock = stream, heartbeat_s, clock
        self.started = self.last = clock()
        self.stage = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, event: Event) -> None:
        with self._lock:
            now = self.clock()
            if isinstance(event, (Stage, Step, Heartbeat)) and event.stage:
                self.stage = event.stage
            self.stream.write(encode(replace(event, elapsed_s=round(now - self.started, 2))) + "\n")
            self.stream.flush()
            self.last = now

    def start_heartbeat(self) -> None:
        def beat() -> None:
            while not self._stop.wait(self.heartbeat_s / 5):
                if self.clock() - self.last >= self.heartbeat_s:
                    self(Heartbeat(self.stage))

        self._thread = threading.Thread(target=beat, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def watch_for_cancel(lines: Iterable[str], stop: threading.Event) -> None:
    """The trainer's end of Cancel: set ``stop`` when the app writes :data:`CANCEL_LINE` (a signal can't on
    Windows). Run it in a thread over stdin."""
    for line in lines:
        if line.strip() == CANCEL_LINE:
            stop.set()
            return


# -- the report -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Score:
    """One model on one set of documents. ``f1`` is None when scoring failed (never 0.0 in its place)."""
    documents: int = 0
    entities: int = 0  # gold entities in those documents
    exact: int = 0  # found with the right words and type
    predicted: int = 0  # every suggestion the model made
    f1: float | None = None  # strict micro-F1
    f1_ci95: tuple[float, float] | None = None  # from resampling the documents
    error: str = ""
    metrics: dict = field(default_factory=dict, compare=False)  # the whole evaluation, per type

    @property
    def ok(self) -> bool:
        return not self.error and self.f1 is not None

    @property
    def wrong(self) -> int:
        """Suggestions that were not exactly right (each one a correction for the reviewer)."""
        return self.predicted - self.exact

    def to_dict(self) -> dict:
        return {"documents": self.documents, "entities": self.entities, "exact": self.exact,
                "predicted": self.predicted, "f1": self.f1, "f1_ci95": list(self.f1_ci95) if self.f1_ci95 else None,
                "error": self.error, "metrics": self.metrics}

    @classmethod
    def from_dict(cls, data: dict, *, documents: int = 0) -> Score:
        if "f1" not in data:  # reports of earlier releases: the evaluation itself, a failure as 0.0
            error = str(data.get("error", ""))
            ci = data.get("strict_micro_f1_ci95")
            return cls(documents=int(data.get("n_samples", documents)), f1=None if error else
                       data.get("strict_micro_f1"), f1_ci95=tuple(ci) if ci else None, error=error, metrics=data)
        ci = data.get("f1_ci95")
        return cls(int(data.get("documents", 0)), int(data.get("entities", 0)), int(data.get("exact", 0)),
                   int(data.get("predicted", 0)), data.get("f1"), tuple(ci) if ci else None,
                   str(data.get("error", "")), data.get("metrics") or {})


@dataclass(frozen=True)
class Comparison:
    new: Score
    active: Score

    def to_dict(self) -> dict:
        return {"new": self.new.to_dict(), "active": self.active.to_dict()}

    @classmethod
    def from_dict(cls, data: dict, *, documents: int = 0) -> Comparison:
        return cls(Score.from_dict(data.get("new") or {}, documents=documents),
                   Score.from_dict(data.get("active") or {}, documents=documents))


@dataclass(frozen=True)
class Evidence:
    """What the check can rest on: the held-out documents and the gold entities in them."""
    reviewed: int
    documents: int
    entities: int


@dataclass(frozen=True)
class Decision:
    promoted: bool
    judged: bool  # False: too little evidence, or a model could not be scored
    reasons: tuple[str, ...]
    more_reviewed: int | None = None  # reviewed documents still needed for a judgement (None: unknown)
    within_chance: bool | None = None  # the current model's score lies inside the new one's 95 % interval

    def to_dict(self) -> dict:
        return {**asdict(self), "reasons": list(self.reasons)}

    @classmethod
    def from_dict(cls, data: dict) -> Decision:
        return cls(bool(data.get("promoted")), bool(data.get("judged")), tuple(data.get("reasons") or ()),
                   data.get("more_reviewed"), data.get("within_chance"))


def more_reviewed_needed(evidence: Evidence) -> int | None:
    """Reviewed documents to add before the held-out slice can meet the bar, at this many entities per
    document (None when the slice holds no entity, so no rate is known)."""
    if evidence.entities == 0 or evidence.documents == 0:
        return None
    per_document = evidence.entities / evidence.documents
    n = evidence.reviewed
    while True:
        held = holdout_size(n)
        if held >= MIN_HELD_OUT_DOCUMENTS and held * per_document >= MIN_HELD_OUT_ENTITIES:
            return n - evidence.reviewed
        n += 1


def decide(*, new: Score, active: Score, held_out: Evidence) -> Decision:
    """Promote the new model only on evidence that it is not worse.

    Evidence: at least :data:`MIN_HELD_OUT_DOCUMENTS` held-out documents holding at least
    :data:`MIN_HELD_OUT_ENTITIES` gold entities, and a successful score of both models.
    """
    reasons = []
    too_few = held_out.documents < MIN_HELD_OUT_DOCUMENTS or held_out.entities < MIN_HELD_OUT_ENTITIES
    if too_few:
        reasons.append(f"{held_out.documents} documents with {held_out.entities} entities were set aside for the "
                       f"check; it needs at least {MIN_HELD_OUT_DOCUMENTS} documents with "
                       f"{MIN_HELD_OUT_ENTITIES} entities")
    if held_out.entities:  # with no entity neither model can be scored: the line above says why
        reasons += [f"the {name} model could not be checked ({score.error or 'no score'})"
                    for name, score in (("new", new), ("current", active)) if not score.ok]
    more = more_reviewed_needed(held_out) if too_few else None
    if reasons:
        return Decision(False, False, tuple(reasons), more)
    assert new.f1 is not None and active.f1 is not None
    # no difference is no "difference within chance"
    within = (new.f1_ci95[0] <= active.f1 <= new.f1_ci95[1]) if new.f1_ci95 and new.f1 != active.f1 else None
    if new.f1 >= active.f1:
        return Decision(True, True, (f"the new model scored {new.f1:.3f}, the current one {active.f1:.3f}",),
                        within_chance=within)
    return Decision(False, True, (f"the new model scored {new.f1:.3f}, below the current one's {active.f1:.3f}",),
                    within_chance=within)


@dataclass(frozen=True)
class Counts:
    reviewed: int = 0
    held_out: int = 0
    train: int = 0
    unreviewed: int = 0
    replay: int = 0
    new_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetrainReport:
    """``report.json`` of a retrained version: what it learnt from, how it was checked, what was decided."""
    version: str
    previous: str
    preset: str
    counts: Counts
    held_out: Comparison
    decision: Decision
    base_test: Comparison | None = None
    seconds: int = 0

    @property
    def promoted(self) -> bool:
        return self.decision.promoted

    def verdict(self) -> str:
        return verdict(self)

    def to_dict(self) -> dict:
        return {"version": self.version, "previous": self.previous, "preset": self.preset,
                "counts": {**asdict(self.counts), "new_types": list(self.counts.new_types)},
                "held_out": self.held_out.to_dict(),
                "base_test": self.base_test.to_dict() if self.base_test else None,
                "decision": self.decision.to_dict(), "promoted": self.promoted, "verdict": self.verdict(),
                "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data: dict) -> RetrainReport:
        """Read ``report.json`` (this release's or an earlier one's); ValueError if it is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("version"), str):
            raise ValueError("not a retraining report")
        raw = data.get("counts") or {}
        counts = Counts(**{k: (tuple(v) if k == "new_types" else int(v)) for k, v in raw.items()
                           if k in Counts.__dataclass_fields__})
        decision = data.get("decision")
        if isinstance(decision, dict):
            decided = Decision.from_dict(decision)
        else:  # an earlier release wrote a sentence and a flag
            decided = Decision(bool(data.get("promoted")), True, (str(decision or ""),))
        base = data.get("base_test")
        return cls(data["version"], str(data.get("previous", "")), str(data.get("preset", "")), counts,
                   Comparison.from_dict(data.get("held_out") or {}, documents=counts.held_out), decided,
                   Comparison.from_dict(base) if isinstance(base, dict) else None, int(data.get("seconds", 0)))


def read_report(data: dict) -> RetrainReport | None:
    """A version's report, or None (the bundled model, a missing or unreadable ``report.json``)."""
    try:
        return RetrainReport.from_dict(data)
    except (ValueError, TypeError, KeyError):
        return None


def verdict(report: RetrainReport) -> str:
    """The decision in plain words: counts first, then F1 and its interval, then what the user can do."""
    new, active, decision = report.held_out.new, report.held_out.active, report.decision
    documents = new.documents or report.counts.held_out
    parts = []
    if new.ok and active.ok:
        parts.append(f"On {documents} of your reviewed documents with {new.entities} entities, the new model "
                     f"found {new.exact} exactly and made {new.wrong} wrong suggestions; the current one found "
                     f"{active.exact} and made {active.wrong}.")
    if decision.promoted:
        parts.append("It is now active; you can go back in Model › Versions.")
    elif decision.judged:
        parts.append(f"The current model stays active because it did better. The new one is kept as version "
                     f"{report.version}; you can still activate it in Model › Versions.")
    else:
        why = "; ".join(decision.reasons)
        parts.append(f"The app did not switch models: {why}.")
        more = ""
        if decision.more_reviewed:
            more = f" About {decision.more_reviewed} more reviewed documents would let the next retraining judge."
        elif new.entities == 0:  # no entity set aside: no rate to count from
            more = " Review more documents that contain entities so that the next retraining can judge."
        parts.append(f"It is kept as version {report.version}, which you can activate by hand in "
                     f"Model › Versions.{more}")
    effort = effort_words(report.held_out)
    if effort:
        parts.append(effort)
    if new.ok and active.ok:
        interval = f" (95 % interval {new.f1_ci95[0]:.3f}–{new.f1_ci95[1]:.3f})" if new.f1_ci95 else ""
        chance = (" The difference is within chance: on so few documents it says little." if decision.within_chance
                  else "")
        parts.append(f"\n\nStrict F1 on these documents: new model {new.f1:.3f}{interval}, current model "
                     f"{active.f1:.3f}.{chance}")
    return " ".join(parts).replace(" \n\n", "\n\n")


def review_effort(score: Score) -> float | None:
    """Review actions per 100 gold entities on the held-out documents (``trainer.metrics``, counted by
    :mod:`engine.review_effort`); None for a score without it (a failed check, an earlier release's report)."""
    value = score.metrics.get("review_effort_per_100") if score.ok else None
    return float(value) if isinstance(value, (int, float)) else None


def effort_words(comparison: Comparison) -> str:
    """What a retraining bought, in the reviewer's currency: key presses and clicks per 100 entities."""
    new, active = review_effort(comparison.new), review_effort(comparison.active)
    if new is None or active is None:
        return ""
    change = ("the same" if round(new) == round(active) else
              f"{abs(active - new) / active:.0%} {'less' if new < active else 'more'} work" if active else "")
    return (f"Reviewing these documents would take about {new:.0f} key presses or clicks per 100 entities with the "
            f"new model and {active:.0f} with the current one ({change}).")


def comparison_text(comparison: Comparison) -> str:
    """Both scores with the documents they were measured on, for the list of versions: scores measured on
    different documents (6 here, 23 there) are not comparable, so each one says what it rests on."""
    new, active = comparison.new, comparison.active
    if not new.ok:
        return "not checked"
    documents = f" on {new.documents} documents" if new.documents else ""
    before = f"{active.f1:.3f}" if active.ok else "not checked"
    return f"{new.f1:.3f} (the model before: {before}){documents}"


# -- time left ------------------------------------------------------------------------------------------

class TimeLeft:
    """One time-left estimate for the whole run, from the stage sizes in :class:`Plan` × measured seconds
    per step. A stage not yet run uses its prior cost, scaled by how the measured stages compared with
    theirs. The estimate never rises by more than :attr:`MAX_RISE` between updates (a jumpy number is
    worse than a slightly optimistic one)."""

    MAX_RISE = 1.2

    def __init__(self) -> None:
        self.plan: tuple[StagePlan, ...] = ()
        self.rates: dict[str, float] = {}  # measured seconds per step
        self.stage = ""
        self.stage_started = 0.0
        self.step = 0
        self.last_step_at = 0.0
        self.shown: float | None = None

    def update(self, event: Event) -> float | None:
        """Seconds left after ``event`` (None until a first step has been measured)."""
        now = event.elapsed_s
        if isinstance(event, Plan):
            self.plan = event.stages
        elif isinstance(event, Stage):
            self._enter(event.stage, now)
        elif isinstance(event, Step):
            if event.stage != self.stage:
                self._enter(event.stage, now)
            if event.step > 0 and now > self.stage_started:
                self.rates[self.stage] = (now - self.stage_started) / event.step
            self.step, self.last_step_at = event.step, now
        elif isinstance(event, Heartbeat) and event.stage and event.stage != self.stage:
            self._enter(event.stage, now)
        raw = self._raw(now)
        if raw is not None:
            self.shown = raw if self.shown is None else min(raw, self.shown * self.MAX_RISE)
        return self.shown

    def _enter(self, stage: str, now: float) -> None:
        self.stage, self.stage_started, self.step, self.last_step_at = stage, now, 0, now

    def _raw(self, now: float) -> float | None:
        names = [s.stage for s in self.plan]
        if self.stage not in names:
            return None
        measured = [(self.rates[s.stage], s.cost) for s in self.plan if s.stage in self.rates and s.cost > 0]
        if not measured:
            return None
        per_cost = measured[-1][0] / measured[-1][1]  # seconds per unit of prior cost, latest measurement
        current = self.plan[names.index(self.stage)]
        in_stage = now - self.stage_started
        if self.stage in self.rates:
            rate = self.rates[self.stage]
            left = max(current.steps * rate - in_stage, (current.steps - self.step - 1) * rate, 0.0)
        else:
            expected = current.steps * current.cost * per_cost
            left = max(expected - in_stage, 0.1 * expected)
        later = self.plan[names.index(self.stage) + 1:]
        return left + sum(s.steps * self.rates.get(s.stage, s.cost * per_cost) for s in later)


def time_left_words(seconds: float | None) -> str:
    if seconds is None:
        return "estimating the time left…"
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    return f"about {minutes} minute{'s' if minutes != 1 else ''} left"
