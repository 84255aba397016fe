"""Train -> save -> load -> export INT8 -> load in the app runtime -> predict, on tiny models."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import TAGS, tiny_encoder

from engine.errors import ModelError
from engine.model_config import ModelConfig
from engine.runtime import OnnxEmissions, load_tagger
from engine.spans import Document, Entity
from engine.text import split_words
from engine.tokenizer import SubwordTokenizer
from trainer.data import make_examples
from trainer.evaluate import evaluate_tagger
from trainer.export import export_onnx, write_onnx_folder
from trainer.fit import Recipe, fit, kd_loss, teacher_scores
from trainer.model import TokenTagger, load_model, save_model, student_from_teacher, torch_tagger

DOCS = [
    Document("নাপা খেলে মাথা ব্যথা কমে", [Entity(0, 4, "Medicine"), Entity(10, 20, "Symptom")]),
    Document("জ্বর হলে নাপা খান", [Entity(0, 4, "Symptom"), Entity(9, 13, "Medicine")]),
    Document("ডায়াবেটিস আছে", [Entity(0, 10, "Health Condition")]),
] * 8


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tokenizer_file):
    torch.manual_seed(0)
    tok = SubwordTokenizer.from_file(tokenizer_file, max_length=32)
    config = ModelConfig(kind="teacher", tags=TAGS, encoder=tiny_encoder(tok.vocab_size), max_length=32)
    model = TokenTagger(config.encoder, len(TAGS))
    examples = make_examples(DOCS, tok, TAGS)
    model, _ = fit(model, examples, Recipe(epochs=40, batch_size=8, lr_encoder=3e-3, lr_head=1e-2, warmup=0.05),
                   pad_id=tok.pad_id)
    folder = save_model(model, config, tokenizer_file, tmp_path_factory.mktemp("m") / "teacher")
    return folder, tok, examples


def test_trained_tiny_model_learns_and_reloads(trained):
    folder, _, _ = trained
    model, config = load_model(folder)
    tagger = torch_tagger(model, config, folder / "tokenizer.json")
    scores = evaluate_tagger(tagger, DOCS[:3])
    assert scores["strict_micro_f1"] == 1.0
    assert tagger.tag("") == []
    # an emoji (two UTF-16 units) before the note shifts every entity by two code points, no more
    assert [(e.start, e.end, e.label) for e in tagger.tag("😀 " + DOCS[0].text)] == [
        (e.start + 2, e.end + 2, e.label) for e in DOCS[0].entities]
    odd = "।।। 😀"  # only punctuation and the emoji: whatever is found is whole words of it
    words = split_words(odd)
    for e in tagger.tag(odd):
        assert e.start in {w.start for w in words} and e.end in {w.end for w in words}, e
        assert e.label in tagger.entity_types and 0.0 < e.confidence <= 1.0, e


def test_int8_export_agrees_with_torch(trained, tmp_path):
    folder, tok, _ = trained
    model, config = load_model(folder)
    out = write_onnx_folder(model, config, folder / "tokenizer.json", tmp_path / "int8")
    int8 = load_tagger(out)
    assert [e.label for e in int8.tag(DOCS[0].text)] == ["Medicine", "Symptom"]
    # fp32 ONNX reproduces torch emissions; INT8 keeps the decisions
    export_onnx(model, tmp_path / "fp32.onnx")
    window = tok.windows(DOCS[0].text.split())[0]
    ids = np.array([window.input_ids], dtype=np.int64)
    mask = np.ones_like(ids)
    with torch.no_grad():
        ref = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    np.testing.assert_allclose(OnnxEmissions(tmp_path / "fp32.onnx").emissions(ids, mask), ref, atol=1e-4)
    q = OnnxEmissions(out / "model.onnx").emissions(ids, mask)
    assert (q.argmax(-1) == ref.argmax(-1)).mean() > 0.9


def test_onnx_export_has_static_attention_reshapes_and_handles_padded_batches(trained, tmp_path):
    import onnx

    folder, _, _ = trained
    model, config = load_model(folder)
    graph = onnx.load(str(export_onnx(model, tmp_path / "fp32.onnx"))).graph
    static = {i.name for i in graph.initializer if i.name.endswith("_static_shape")}
    reshapes = [n for n in graph.node if n.op_type == "Reshape" and n.input[1] in static]
    assert len(reshapes) == 4 * config.encoder["num_hidden_layers"]  # query, key, value, merged heads
    ids = torch.randint(5, 40, (3, 11))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 2:] = 0
    with torch.no_grad():
        ref = model(ids, mask).numpy()
    got = OnnxEmissions(tmp_path / "fp32.onnx").emissions(ids.numpy(), mask.numpy())
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_distilled_student_learns_from_teacher(trained, tmp_path):
    folder, tok, examples = trained
    teacher, config = load_model(folder)
    soft = teacher_scores(teacher, examples, tok.pad_id, torch.device("cpu"))
    student = student_from_teacher(teacher, [1])
    assert student.encoder.config.num_hidden_layers == 1
    student, _ = fit(student, examples, Recipe(epochs=10, batch_size=8, lr_encoder=3e-3, kd_alpha=0.5),
                     pad_id=tok.pad_id, soft_targets=soft)
    scfg = ModelConfig(kind="student", tags=TAGS, encoder=student.encoder.config.to_dict(), teacher_layers=[1])
    assert evaluate_tagger(torch_tagger(student, scfg, folder / "tokenizer.json"), DOCS[:3])["strict_micro_f1"] > 0.5


def test_kd_loss_is_zero_for_equal_scores_and_positive_otherwise():
    t = torch.randn(2, 5, 7)
    mask = torch.ones(2, 5)
    assert kd_loss(t.clone(), t, mask, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    s = torch.randn(2, 5, 7, requires_grad=True)
    loss = kd_loss(s, t, mask, 2.0)
    loss.backward()
    assert loss.item() > 0 and s.grad.abs().sum() > 0
    mask[1] = 0  # padded words do not count
    assert kd_loss(s, t, mask, 2.0).item() == pytest.approx(kd_loss(s[:1], t[:1], mask[:1], 2.0).item(), rel=1e-5)
    with pytest.raises(ValueError, match="emissions differ"):
        kd_loss(s[:, :3], t, mask, 2.0)


def test_tampered_model_file_is_refused(trained, tmp_path):
    folder, _, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    config = json.loads((copy / "config.json").read_text())
    config["tags"] = list(reversed(config["tags"]))
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"config\.json: does not match its sha256"):
        load_model(copy)
    (copy / "evil.pkl").write_bytes(b"x")
    shutil.copyfile(folder / "config.json", copy / "config.json")
    with pytest.raises(ModelError, match=r"evil\.pkl: not listed in the manifest"):
        load_model(copy)
    with pytest.raises(ModelError, match="no such model folder"):
        load_tagger(tmp_path / "missing")


def test_long_text_is_windowed_and_spans_merge(trained, tmp_path):
    folder, _, _ = trained
    model, config = load_model(folder)
    tagger = torch_tagger(model, config, folder / "tokenizer.json")
    # words of ~8 pieces each: a 100k-character text needs thousands of 32-piece windows
    unit = "নাপা খেলে মাথা ব্যথা কমে। "
    text = unit * (100_000 // len(unit))
    words = text.split()
    windows = tagger.tokenizer.windows(words)
    assert len(windows) > 100
    # every word is owned by exactly one window, in order
    assert [i for w in windows for i in range(w.owned_first, w.owned_last)] == list(range(len(words)))
    entities = tagger.tag(text)
    assert len(entities) >= 2 * text.count("নাপা") * 0.9
    assert all(a.end <= b.start for a, b in zip(entities, entities[1:]))


def test_benchmark_reports_every_model_and_the_shipped_ratio(tiny_bundle):
    from trainer.benchmark import benchmark, table

    result = benchmark(tiny_bundle / "teacher", tiny_bundle / "student-int8", runs=6)
    rows = result["models"]
    assert list(rows) == ["teacher fp32 (torch)", "student fp32 (torch)", "teacher fp32 (onnxruntime)",
                          "student int8 (onnxruntime, as shipped)"]
    for row in rows.values():
        assert row["forward_ms"] > 0 and row["end_to_end_ms"] > 0 and row["parameters"] > 0
    teacher, int8 = rows["teacher fp32 (torch)"], rows["student int8 (onnxruntime, as shipped)"]
    assert result["speedup_int8_vs_teacher"] == round(teacher["end_to_end_ms"] / int8["end_to_end_ms"], 2)
    assert "INT8 student vs fp32 torch teacher" in table(result)
