"""The subword path: a word's pieces never depend on its neighbours or on the cache."""

from engine.tokenizer import SubwordTokenizer

WORDS = ["রোগীর", "জ্বর", "নাপা", "৫০০", "mg", "।", "জ্বর", "ক্\u200dষ"]


def test_pieces_are_the_same_alone_in_context_and_cached(tokenizer_file):
    tok = SubwordTokenizer.from_file(tokenizer_file, max_length=32)
    in_context = tok.pieces(WORDS)
    again = tok.pieces(WORDS)  # served from the cache
    alone = [SubwordTokenizer.from_file(tokenizer_file).pieces([w])[0] for w in WORDS]
    assert in_context == again == alone
    assert in_context[1] == in_context[6]
    assert in_context[7] == tok.pieces(["ক্ষ"])[0]  # ZWJ is not seen by the model
    assert all(len(p) >= 1 for p in in_context)


def test_windows_cover_every_word_once(tokenizer_file):
    tok = SubwordTokenizer.from_file(tokenizer_file, max_length=12)
    words = WORDS * 5
    windows = tok.windows(words)
    owned = [i for w in windows for i in range(w.owned_first, w.owned_last)]
    assert owned == list(range(len(words)))
    for w in windows:
        assert len(w.input_ids) <= 12
        assert w.input_ids[0] == tok.cls_id and w.input_ids[-1] == tok.sep_id
