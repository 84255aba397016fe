"""Shared fixtures: a tiny real tokenizer and tiny real (random) models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TAGS = ["O", "B-Medicine", "I-Medicine", "B-Symptom", "I-Symptom", "B-Health Condition", "I-Health Condition"]


def tiny_tokenizer_json() -> dict:
    """A real Unigram tokenizer.json (same pipeline as e5's) over single characters."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    chars = [chr(c) for c in range(0x0980, 0x0A00)] + [chr(c) for c in range(0x21, 0x7F)] + ["।"]
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [(c, -5.0) for c in dict.fromkeys(chars)]
    vocab += [("\u2581" + c, -4.0) for c in dict.fromkeys(chars)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return json.loads(tok.to_str())


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch):
    """Never touch the real user data folder, also in subprocesses."""
    monkeypatch.setenv("BANGLA_MEDER_DATA", str(tmp_path / "user-data"))


@pytest.fixture(scope="session")
def tokenizer_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    path.write_text(json.dumps(tiny_tokenizer_json(), ensure_ascii=False), encoding="utf-8")
    return path


def tiny_encoder(vocab_size: int) -> dict:
    return {"vocab_size": vocab_size, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 64, "max_position_embeddings": 128, "type_vocab_size": 2,
            "layer_norm_eps": 1e-12, "hidden_act": "gelu", "pad_token_id": 1}


TRAIN_DOCS_TEXT = [
    ("নাপা খেলে মাথা ব্যথা কমে", [(0, 4, "Medicine"), (10, 20, "Symptom")]),
    ("জ্বর হলে নাপা খান", [(0, 4, "Symptom"), (9, 13, "Medicine")]),
    ("ডায়াবেটিস আছে", [(0, 10, "Health Condition")]),
]


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tokenizer_file) -> Path:
    """A model_assets/-like folder (teacher/ + student-int8/) of tiny trained models."""
    import torch

    from engine.model_config import ModelConfig
    from engine.spans import Document, Entity
    from engine.tokenizer import SubwordTokenizer
    from trainer.data import make_examples
    from trainer.export import write_onnx_folder
    from trainer.fit import Recipe, fit
    from trainer.model import TokenTagger, save_model, student_from_teacher

    torch.manual_seed(0)
    docs = [Document(t, [Entity(*e) for e in ents]) for t, ents in TRAIN_DOCS_TEXT] * 8
    tok = SubwordTokenizer.from_file(tokenizer_file, max_length=32)
    config = ModelConfig(kind="teacher", tags=TAGS, encoder=tiny_encoder(tok.vocab_size), max_length=32,
                         version="tiny-1")
    model = TokenTagger(config.encoder, len(TAGS))
    model, _ = fit(model, make_examples(docs, tok, TAGS), Recipe(epochs=40, batch_size=8, lr_encoder=3e-3,
                                                                 lr_head=1e-2, warmup=0.05), pad_id=tok.pad_id)
    root = tmp_path_factory.mktemp("bundle")
    save_model(model, config, tokenizer_file, root / "teacher")
    student = student_from_teacher(model, [0, 1])
    scfg = ModelConfig(kind="student-int8", tags=TAGS, encoder=dict(config.encoder), max_length=32,
                       teacher_layers=[0, 1], version="tiny-1")
    save_model(student, ModelConfig(**{**vars(scfg), "kind": "student"}), tokenizer_file, root / "student")
    write_onnx_folder(student, scfg, tokenizer_file, root / "student-int8",
                      assertion=tiny_assertion_classifier(root / "assertion.json"))
    (root / "assertion.json").unlink()
    return root


TINY_ASSERTION_NOTES = [  # (note, finding, assertion): a handful of real-shaped sentences to fit a tiny classifier
    ("জ্বর নেই", "জ্বর", "absent"), ("কাশি নেই", "কাশি", "absent"), ("বমি নেই", "বমি", "absent"),
    ("জ্বর আছে", "জ্বর", "present"), ("কাশি আছে", "কাশি", "present"), ("বমি হচ্ছে", "বমি", "present"),
    ("তিন দিন ধরে জ্বর", "জ্বর", "present"), ("মাথাব্যথা করছে", "মাথাব্যথা", "present"),
]


def tiny_assertion_classifier(path: Path) -> Path:
    """An assertion classifier fitted (for real, by trainer.assertion_fit) on TINY_ASSERTION_NOTES."""
    from engine.assertion import mention_contexts
    from engine.assertion_model import mention_features
    from engine.spans import Entity
    from trainer.assertion_fit import fit

    feats, gold = [], []
    for note, finding, assertion in TINY_ASSERTION_NOTES:
        start = note.index(finding)
        (ctx,) = mention_contexts(note, [Entity(start, start + len(finding), "Symptom")])
        feats.append(mention_features(ctx))
        gold.append(assertion)
    model = fit(feats, gold, l2=0.1, min_count=1)
    model.thresholds = {"absent": 0.5}
    model.save(path)
    return path


@pytest.fixture
def open_window(qtbot):
    """``open_window(repo, folder)``: the main window on ``repo``, shown, once its bundled model has loaded
    (retrained models would live in ``folder/models``)."""
    from app.gui.main_window import MainWindow
    from app.paths import install_root
    from engine.model_registry import ModelRegistry

    def open_(repo, folder: Path):
        w = MainWindow(repo, ModelRegistry(Path(folder) / "models", install_root() / "model_assets"))
        qtbot.addWidget(w)
        w.show()
        qtbot.waitUntil(lambda: w.tagger is not None, timeout=20000)
        return w

    return open_


@pytest.fixture
def window(open_window, tmp_path):
    """The main window on a new database in ``tmp_path``."""
    from engine.storage import Repository

    repo = Repository(tmp_path / "meder.sqlite3")
    yield open_window(repo, tmp_path)
    repo.close()
