import json

import pytest

from engine.errors import FormatError
from engine.formats import conll, jsonl, load_documents, read_text_file
from engine.spans import Document, Entity

HEALTHNER = [
    {"text": "আমার মাথা ব্যথা । নাপা খাই", "labels": ["O", "B-Symptom", "I-Symptom", "O", "B-Medicine", "O"]},
    {"text": "জ্বর  আছে", "labels": ["B-Symptom", "O"]},
]


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_healthner_json(tmp_path):
    docs = load_documents(write(tmp_path, "a.json", json.dumps(HEALTHNER, ensure_ascii=False, indent=1)))
    assert [[d.text[e.start:e.end] for e in d.entities] for d in docs] == [["মাথা ব্যথা", "নাপা"], ["জ্বর"]]
    assert [w.text for w in docs[1].words] == ["জ্বর", "আছে"]
    assert docs[1].words[1].start == 6


def test_unknown_label_names_file_and_line(tmp_path):
    path = write(tmp_path, "a.json", json.dumps(HEALTHNER, ensure_ascii=False, indent=1))
    with pytest.raises(FormatError, match=r"a\.json:2: document 1 has entity type 'Symptom'"):
        load_documents(path, labels=["Medicine"])
    bad = [HEALTHNER[0], {"text": "x y", "labels": ["O", "X-Thing"]}]
    with pytest.raises(FormatError, match=r"b\.json:\d+: not an IOB2 tag: 'X-Thing'"):
        load_documents(write(tmp_path, "b.json", json.dumps(bad, indent=1)))


def test_truncated_json_is_a_clear_error(tmp_path):
    text = json.dumps(HEALTHNER, ensure_ascii=False, indent=1)
    with pytest.raises(FormatError, match="c.json:.*(truncated|invalid JSON)"):
        load_documents(write(tmp_path, "c.json", text[: len(text) // 2]))


def test_conll(tmp_path):
    path = write(tmp_path, "a.conll", "নাপা\tB-Medicine\n৫০০\tI-Medicine\nখাই\tO\n\nজ্বর\tB-Symptom\n")
    docs = load_documents(path)
    assert [(d.text, [(e.start, e.end, e.label) for e in d.entities]) for d in docs] == [
        ("নাপা ৫০০ খাই", [(0, 8, "Medicine")]), ("জ্বর", [(0, 4, "Symptom")])]
    with pytest.raises(FormatError, match=r"b.conll:2: expected 'token<TAB>tag'"):
        load_documents(write(tmp_path, "b.conll", "নাপা\tO\nএকা\n"))


def test_doccano_jsonl_and_bad_line(tmp_path):
    good = json.dumps({"text": "নাপা খাই", "label": [[0, 4, "Medicine"]]}, ensure_ascii=False)
    docs = load_documents(write(tmp_path, "a.jsonl", good + "\n"))
    assert docs[0].entities == [Entity(0, 4, "Medicine")]
    with pytest.raises(FormatError, match=r"b.jsonl:2: this line is not JSON"):
        load_documents(write(tmp_path, "b.jsonl", good + "\n{not json\n"))
    with pytest.raises(FormatError, match=r"c.jsonl:1: span \[0, 99\) is outside"):
        load_documents(write(tmp_path, "c.jsonl", '{"text": "abc", "label": [[0, 99, "Medicine"]]}\n'))


def test_label_studio_export(tmp_path):
    task = [{"data": {"text": "মাথা ব্যথা"}, "annotations": [{"result": [
        {"type": "labels", "value": {"start": 0, "end": 10, "text": "মাথা ব্যথা", "labels": ["Symptom"]}}]}]}]
    docs = load_documents(write(tmp_path, "ls.json", json.dumps(task, ensure_ascii=False)))
    assert docs[0].entities == [Entity(0, 10, "Symptom")]


def test_round_trip_conll_and_jsonl(tmp_path):
    doc = Document("নাপা ৫০০ খাই, জ্বর", [Entity(0, 8, "Medicine"), Entity(14, 18, "Symptom")])
    again = load_documents(write(tmp_path, "r.jsonl", jsonl.dumps_doccano([doc])))[0]
    assert again.text == doc.text and again.entities == doc.entities
    back = load_documents(write(tmp_path, "r.conll", conll.dumps([doc])))[0]
    assert [back.text[e.start:e.end] for e in back.entities] == ["নাপা ৫০০", "জ্বর"]


def test_text_encodings_and_binary(tmp_path):
    for encoding in ("utf-8", "utf-8-sig", "utf-16", "utf-16-le"):
        path = tmp_path / f"t-{encoding}.txt"
        path.write_bytes("জ্বর আছে".encode(encoding))
        assert read_text_file(path) == "জ্বর আছে"
    binary = tmp_path / "x.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(FormatError, match="x.bin"):
        read_text_file(binary)


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(FormatError, match="no such file"):
        load_documents(tmp_path / "nope.json")
    with pytest.raises(FormatError, match="unknown annotated format"):
        load_documents(write(tmp_path, "a.pdf", "x"))


def test_an_8_bit_file_is_refused_not_misread_as_utf16(tmp_path):
    path = tmp_path / "bijoy.txt"
    path.write_bytes("‡ivMxi R¦i Av‡Q|\r\n".encode("cp1252"))  # legacy Bijoy/ANSI bytes, even length
    assert len(path.read_bytes()) % 2 == 0
    with pytest.raises(FormatError, match="not valid UTF-8 or UTF-16"):
        read_text_file(path)


@pytest.mark.parametrize("line, message", [
    ({"text": "abc def", "label": [[0, 3, "O"]]}, "must be a type name"),
    ({"text": "abc def", "label": [[0, 3, "B-Medicine"]]}, "must be a type name"),
])
def test_doccano_tags_instead_of_types_are_a_clear_error(tmp_path, line, message):
    with pytest.raises(FormatError, match=message):
        load_documents(write(tmp_path, "x.jsonl", json.dumps(line)))


def test_doccano_relation_export_keeps_its_entities(tmp_path):
    line = {"text": "নাপা খান", "entities": [{"start_offset": 0, "end_offset": 4, "label": "Medicine"}]}
    [doc] = load_documents(write(tmp_path, "x.jsonl", json.dumps(line, ensure_ascii=False)))
    assert [(doc.text[e.start:e.end], e.label) for e in doc.entities] == [("নাপা", "Medicine")]


@pytest.mark.parametrize("task", [
    {"data": {"text": "abc"}, "annotations": [{"result": [{"type": "labels", "value": {"start": 0, "labels": ["X"]}}]}]},
    {"data": {"text": "abc"}, "annotations": [{"result": [{"value": {"start": 0, "end": 3, "labels": "X"}}]}]},
    {"data": {"text": "abc"}, "annotations": "none"},
])
def test_malformed_label_studio_tasks_are_clear_errors(tmp_path, task):
    with pytest.raises(FormatError, match="x.json:1"):
        load_documents(write(tmp_path, "x.json", json.dumps([task])))


def test_healthner_non_string_tag_and_lone_surrogate(tmp_path):
    with pytest.raises(FormatError, match="IOB2 tag string"):
        load_documents(write(tmp_path, "a.json", json.dumps([{"text": "a b", "labels": ["O", {"x": 1}]}])))
    with pytest.raises(FormatError, match="lone UTF-16 surrogate"):
        load_documents(write(tmp_path, "b.json", '[{"text": "abc \\ud83d def", "labels": ["O", "O", "O"]}]'))


def test_jsonl_round_trip_keeps_unicode_line_separators(tmp_path):
    docs = [Document(f"নাপা{sep}খান", [Entity(0, 4, "Medicine")]) for sep in ("\u2028", "\u2029", "\x85")]
    path = write(tmp_path, "x.jsonl", jsonl.dumps_doccano(docs))
    back = load_documents(path)
    assert [(d.text, d.entities) for d in back] == [(d.text, d.entities) for d in docs]
