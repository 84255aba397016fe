"""Transfer distillation on tiny real models: unlabelled text, cached teacher scores, KD-only windows."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from conftest import TAGS, TRAIN_DOCS_TEXT

from engine.spans import Document, Entity
from engine.tokenizer import SubwordTokenizer
from trainer.build import choose_decoder
from trainer.data import load_transfer_texts, make_examples
from trainer.evaluate import evaluate_tagger
from trainer.fit import Recipe, load_scores
from trainer.model import load_model, torch_tagger
from trainer.transfer import cached_teacher_scores, distil, student_config, transfer_examples

GOLD = [Document(t, [Entity(*e) for e in ents]) for t, ents in TRAIN_DOCS_TEXT]


def _write_transfer(folder, texts):
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"text": t, "source": "test"}, ensure_ascii=False) for t in texts]
    (folder / "health-text.jsonl").write_text("\n".join(lines[:1] + [""] + lines[1:]) + "\n", encoding="utf-8")
    return folder


def test_transfer_texts_are_read_and_bad_lines_named(tmp_path):
    folder = _write_transfer(tmp_path / "t", [t for t, _ in TRAIN_DOCS_TEXT])
    docs = load_transfer_texts(folder)
    assert [d.text for d in docs] == [t for t, _ in TRAIN_DOCS_TEXT]  # the blank line is skipped
    assert all(d.entities == [] and d.tokens() for d in docs)
    (folder / "more.jsonl").write_text('{"text": "জ্বর"}\n["not an object"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"more\.jsonl:2: expected a JSON object"):
        load_transfer_texts(folder)
    with pytest.raises(FileNotFoundError, match="no .jsonl files"):
        load_transfer_texts(tmp_path / "missing")


def test_teacher_scores_are_cached_once_and_checked(tiny_bundle, tmp_path):
    teacher, config = load_model(tiny_bundle / "teacher")
    tok = SubwordTokenizer.from_file(tiny_bundle / "teacher" / "tokenizer.json", max_length=config.max_length)
    examples = transfer_examples(_write_transfer(tmp_path / "t", [t for t, _ in TRAIN_DOCS_TEXT]), tok)
    cache = tmp_path / "cache" / "transfer.safetensors"
    first = cached_teacher_scores(teacher, examples, cache, pad_id=tok.pad_id, device=torch.device("cpu"))
    stamp = cache.stat().st_mtime_ns
    again = cached_teacher_scores(teacher, examples, cache, pad_id=tok.pad_id, device=torch.device("cpu"))
    assert cache.stat().st_mtime_ns == stamp  # read back, not recomputed
    assert [s.shape for s in again] == [s.shape for s in first] == [(len(e.word_positions), len(TAGS))
                                                                     for e in examples]
    assert all(torch.allclose(a, b, atol=1e-2, rtol=1e-3) for a, b in zip(first, again))  # stored as fp16
    with pytest.raises(ValueError, match="do not match these windows"):
        load_scores(cache, examples[:1])
    fewer = cached_teacher_scores(teacher, examples[:1], cache, pad_id=tok.pad_id, device=torch.device("cpu"))
    assert len(fewer) == 1 and len(load_scores(cache, examples[:1])) == 1  # other windows: recomputed


def test_student_learns_the_teacher_from_unlabelled_text_alone(tiny_bundle, tmp_path):
    teacher, tconfig = load_model(tiny_bundle / "teacher")
    tok_json = tiny_bundle / "teacher" / "tokenizer.json"
    tok = SubwordTokenizer.from_file(tok_json, max_length=tconfig.max_length)
    transfer = transfer_examples(_write_transfer(tmp_path / "t", [t for t, _ in TRAIN_DOCS_TEXT] * 8), tok)
    soft = cached_teacher_scores(teacher, transfer, tmp_path / "c.safetensors", pad_id=tok.pad_id,
                                 device=torch.device("cpu"))
    config = student_config(tconfig, [1])
    torch.manual_seed(0)
    student, best = distil(teacher, config, tok_json, layers=[1], labeled=[], transfer=transfer, soft=soft,
                           recipe=Recipe(epochs=15, batch_size=8, lr_encoder=3e-3, lr_head=1e-2, kd_alpha=1.0,
                                         temperature=2.0),
                           dev=GOLD, pad_id=tok.pad_id, device=torch.device("cpu"))
    teacher_f1 = evaluate_tagger(torch_tagger(teacher, tconfig, tok_json), GOLD)["strict_micro_f1"]
    assert teacher_f1 > 0.9
    assert evaluate_tagger(torch_tagger(student, config, tok_json), GOLD)["strict_micro_f1"] > 0.5
    assert config.training["transfer_windows"] == len(transfer) and config.training["labeled_windows"] == 0
    assert config.kind == "student" and config.teacher_layers == [1] and config.encoder["num_hidden_layers"] == 1
    assert best is not None


def test_transfer_windows_need_kd_and_matching_scores(tiny_bundle, tmp_path):
    teacher, tconfig = load_model(tiny_bundle / "teacher")
    tok_json = tiny_bundle / "teacher" / "tokenizer.json"
    tok = SubwordTokenizer.from_file(tok_json, max_length=tconfig.max_length)
    labeled = make_examples(GOLD, tok, TAGS)
    transfer = transfer_examples(_write_transfer(tmp_path / "t", ["জ্বর হলে নাপা খান"]), tok)
    kwargs = {"layers": [0], "labeled": labeled, "transfer": transfer, "dev": None, "pad_id": tok.pad_id,
              "device": torch.device("cpu")}
    with pytest.raises(ValueError, match="need kd_alpha > 0"):
        distil(teacher, student_config(tconfig, [0]), tok_json, soft=[torch.zeros(1)] * 4,
               recipe=Recipe(kd_alpha=0.0), **kwargs)
    with pytest.raises(ValueError, match="3 teacher scores for 4 windows"):
        distil(teacher, student_config(tconfig, [0]), tok_json, soft=[torch.zeros(1)] * 3,
               recipe=Recipe(kd_alpha=0.5), **kwargs)


def test_build_saves_the_decoder_chosen_on_dev(tiny_bundle, tmp_path):
    folder = tmp_path / "teacher"
    shutil.copytree(tiny_bundle / "teacher", folder)
    chosen = choose_decoder(folder, GOLD)
    model, config = load_model(folder)  # the manifest still verifies after the config changed
    assert (config.decoder, config.decoder_threshold) == (chosen["decoder"], chosen["threshold"])
    assert chosen["decoder"] in ("viterbi", "mbr") and config.confidence_temperature == chosen["temperature"]
    dev = chosen["dev"]
    name = "Viterbi" if config.decoder == "viterbi" else f"MBR {config.decoder_threshold:g}"
    few_missed = [n for n in dev if dev[n]["missed_share"] <= 0.15] or list(dev)
    assert dev[name]["review_effort_per_100"] == min(dev[n]["review_effort_per_100"] for n in few_missed)
    assert set(config.suggestion_levels) == {"more", "balanced", "fewer"}
    tagger = torch_tagger(model, config, folder / "tokenizer.json")
    assert (tagger.decoding, tagger.threshold) == (config.decoder, config.decoder_threshold)


def test_build_runs_the_transfer_stages_and_publishes_that_student(tiny_bundle, tmp_path):
    """The build from its teacher stage on: transfer student, decoder choice, INT8 from it, card, publish."""
    from trainer.build import BuildConfig, build

    data, work, out = tmp_path / "data", tmp_path / "work", tmp_path / "out"
    data.mkdir()
    records = []
    for i in range(30):  # Medicine in every text, Symptom in half, Health Condition in a third: TAGS' order
        text, labels = f"রোগী {i} নাপা খান".split(), ["O", "O", "B-Medicine", "O"]
        if i % 2 == 0:
            text, labels = text + ["মাথা", "ব্যথা"], labels + ["B-Symptom", "I-Symptom"]
        if i % 3 == 0:
            text, labels = text + ["ডায়াবেটিস"], labels + ["B-Health Condition"]
        records.append({"text": " ".join(text), "labels": labels})
    (data / "healthner-a.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    transfer = _write_transfer(tmp_path / "transfer", [f"আজ {i} দিন জ্বর , নাপা খাই" for i in range(12)])
    (work / "vocab").mkdir(parents=True)
    shutil.copyfile(tiny_bundle / "teacher" / "tokenizer.json", work / "vocab" / "tokenizer.json")
    _, tconfig = load_model(tiny_bundle / "teacher")
    (work / "vocab" / "encoder.json").write_text(json.dumps(tconfig.encoder))
    (work / "vocab" / "vocab_report.json").write_text(json.dumps(
        {"full_pieces": 300, "kept_pieces": 300, "test_words_unchanged": 1.0}))
    shutil.copytree(tiny_bundle / "teacher", work / "teacher")
    (work / "stages").mkdir()
    for stage in ("base", "vocab", "teacher"):  # the parts that need the real base encoder
        (work / "stages" / f"{stage}.done").write_text("{}")
    quick = {"epochs": 1, "batch_size": 8, "lr_encoder": 1e-3, "max_steps": 3}
    config = BuildConfig(student=Recipe(**quick, kd_alpha=0.5, temperature=1.0),
                         transfer_student=Recipe(**quick, kd_alpha=0.7, temperature=2.0, transfer_ratio=0.6),
                         student_layers=[0, 1], max_length=32)
    report = build(data, out, work, config, transfer_data=transfer)

    assert {"student-nokd", "student-kd", "student-transfer", "student-int8"} <= set(report["metrics"])
    assert all("corrections_per_100" in m for m in report["metrics"].values())
    chosen = json.loads((work / "stages" / "decoders.done").read_text())
    assert set(chosen) == {"teacher", "student-transfer"}
    assert (work / "cache" / "transfer.safetensors").is_file() and (work / "cache" / "labeled.safetensors").is_file()
    _, student = load_model(out / "student")
    assert student.training["transfer_data"] == str(transfer) and student.training["transfer_windows"] == 12
    assert student.decoder == chosen["student-transfer"]["decoder"]
    int8 = json.loads((out / "student-int8" / "config.json").read_text())
    assert (int8["decoder"], int8["decoder_threshold"]) == (student.decoder, student.decoder_threshold)
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "Student with transfer KD" in card and "BanglaCHQ-Summ" in card and "corrections per 100" in card


def test_retrained_versions_keep_the_decoder_of_their_parent(tiny_bundle, tmp_path):
    from engine.manifest import write_manifest
    from engine.model_config import ModelConfig
    from engine.model_registry import ModelRegistry
    from engine.storage import Repository
    from trainer.retrain import Preset, retrain

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    for name in ("teacher", "student", "student-int8"):
        config = ModelConfig.load(bundle / name)
        config.decoder, config.decoder_threshold = "mbr", 0.4
        config.save(bundle / name)
        write_manifest(bundle / name)
    repo = Repository(tmp_path / "meder.sqlite3")
    rows = [(f"n{i}", "জ্বর হলে নাপা খান", "t", [Entity(0, 4, "Symptom"), Entity(9, 13, "Medicine")])
            for i in range(30)]
    ids = repo.add_documents(rows, origin="model", model_version="tiny-1")
    for doc_id in ids[:24]:
        repo.set_reviewed(doc_id)
    repo.close()
    tiny = Preset(Recipe(epochs=1, batch_size=8, lr_encoder=1e-3, lr_head=1e-3),
                  Recipe(epochs=1, batch_size=8, lr_encoder=1e-3, lr_head=1e-3, kd_alpha=0.7, temperature=2.0), 1.0, 1)
    report = retrain(tmp_path / "meder.sqlite3", tmp_path / "models", bundle, preset_override=tiny)
    version = next(v for v in ModelRegistry(tmp_path / "models", bundle).versions() if v.version == report.version)
    for folder in (version.student, version.teacher):
        config = ModelConfig.load(folder)
        assert (config.decoder, config.decoder_threshold) == ("mbr", 0.4), folder
