from engine.spans import Entity, entities_to_tags, snap_to_words, tags_to_entities
from engine.text import model_form, split_words


def texts(text):
    return [w.text for w in split_words(text)]


def test_offsets_point_into_the_original_text():
    text = "আমার মাথা ব্যথা, জ্বর ১০২°। Napa 500mg দিনে ২.৫ বার"
    words = split_words(text)
    assert all(text[w.start:w.end] == w.text for w in words)
    assert [w.text for w in words] == ["আমার", "মাথা", "ব্যথা", ",", "জ্বর", "১০২", "°", "।", "Napa", "500mg",
                                       "দিনে", "২.৫", "বার"]


def test_combining_marks_and_joiners_stay_inside_words():
    # vowel signs (Mc), virama (Mn), nukta and ZWJ / ZWNJ inside a word
    word = "র\u200d্যাব"
    assert texts(f"কি {word} ক\u200cষ") == ["কি", word, "ক\u200cষ"]
    assert texts("য়") == ["য়"]


def test_stray_joiners_and_spaces_are_not_words():
    assert texts("\u200d  \u200c\u200b") == []
    assert texts("") == []


def test_punctuation_and_emoji_are_single_words():
    assert texts("!!।") == ["!", "!", "।"]
    assert texts("😀😀") == ["😀", "😀"]


def test_model_form_normalises_but_never_empties():
    assert model_form("ক\u200cষ") == "কষ"
    assert model_form("\u200d") == "\u200d"


def test_mixed_script_words_split_from_punctuation():
    assert texts("Paracetamol(প্যারাসিটামল)") == ["Paracetamol", "(", "প্যারাসিটামল", ")"]


def test_tags_and_entities_round_trip():
    words = split_words("মাথা ব্যথা আর জ্বর নাপা")
    tags = ["B-Symptom", "I-Symptom", "O", "B-Symptom", "B-Medicine"]
    ents = tags_to_entities(words, tags)
    assert [(e.start, e.end, e.label) for e in ents] == [(0, 10, "Symptom"), (14, 18, "Symptom"), (19, 23, "Medicine")]
    assert entities_to_tags(words, ents) == tags


def test_adjacent_entities_of_one_type_stay_apart():
    words = split_words("জ্বর কাশি")
    ents = [Entity(0, 4, "Symptom"), Entity(5, 9, "Symptom")]
    assert entities_to_tags(words, ents) == ["B-Symptom", "B-Symptom"]


def test_snap_to_words_widens_a_partial_selection():
    text = "আমার মাথা ব্যথা"
    assert snap_to_words(text, 6, 12) == (5, 15)
    assert snap_to_words(text, 4, 5) is None
