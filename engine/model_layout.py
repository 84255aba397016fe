"""The names of a model on disk: the one place that spells them (app, engine, trainer and scripts import these).

A *model version* (the bundled ``model_assets/``, or ``<data>/models/<version>/``, see
:mod:`engine.model_registry`) holds three *model folders* and a report::

    student-int8/       what the app runs: model.onnx + crf.safetensors (+ assertion.json)
    teacher/            what the next retraining starts from: model.safetensors (torch weights, CRF included)
    student/            the student's fp16 torch weights, which the next distillation continues
    report.json         a retrained version's data counts, scores and decision

Every model folder also holds ``config.json`` (:mod:`engine.model_config`), ``tokenizer.json``
and ``manifest.json`` (:mod:`engine.manifest`). A leaf module, so that the modules which read
these files can import it without a cycle through the registry.
"""

from __future__ import annotations

from pathlib import Path

# model folders of a version; also the values of ModelConfig.kind
STUDENT_INT8 = "student-int8"
TEACHER = "teacher"
STUDENT = "student"
MODEL_FOLDERS = (STUDENT_INT8, TEACHER, STUDENT)

# files of a model folder
CONFIG_FILE = "config.json"
MANIFEST_FILE = "manifest.json"
TOKENIZER_FILE = "tokenizer.json"
ONNX_FILE = "model.onnx"  # emission scores per piece (ONNX folders)
CRF_FILE = "crf.safetensors"  # start/end/transition scores (ONNX folders; engine.crf.save_crf writes it)
ASSERTION_FILE = "assertion.json"  # the assertion classifier (engine.assertion_model), optional
WEIGHTS_FILE = "model.safetensors"  # torch weights (teacher and student folders)

# files of a version folder
REPORT_FILE = "report.json"
MODEL_CARD_FILE = "MODEL_CARD.md"


def student_int8(version_folder: str | Path) -> Path:
    """The folder the app runs, in a version folder."""
    return Path(version_folder) / STUDENT_INT8


def teacher(version_folder: str | Path) -> Path:
    return Path(version_folder) / TEACHER


def student(version_folder: str | Path) -> Path:
    """The student's torch weights, in a version folder."""
    return Path(version_folder) / STUDENT
