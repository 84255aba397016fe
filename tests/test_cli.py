"""The command lines as users run them, in subprocesses."""

import json
import subprocess
import sys
from pathlib import Path

from engine.spans import ASSERTIONS

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_selftest_prints_entities():
    result = run("-m", "app", "--selftest")
    assert result.returncode == 0, result.stderr
    assert "\tMedicine\t" in result.stdout and "\tSymptom\t" in result.stdout
    rows = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    assert rows and all(len(r) == 5 and r[4] in ASSERTIONS for r in rows)  # words, type, span, confidence, assertion


def test_extract_writes_jsonl_and_reports_bad_files(tmp_path):
    good = tmp_path / "note.txt"
    good.write_text("রোগীর জ্বর ও কাশি। নাপা ৫০০ মিগ্রা দিনে ৩ বার।", encoding="utf-16")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    binary = tmp_path / "scan.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    out = tmp_path / "out.jsonl"
    result = run("-m", "app", "extract", str(good), str(empty), str(binary), "-o", str(out))
    assert result.returncode == 3, result.stderr  # the good file is written; the status says some were not
    assert "2 file(s) not extracted" in result.stderr
    assert "empty.txt: the file is empty" in result.stderr and "scan.txt: this looks like a binary file" in result.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 1 and any(label == "Medicine" for _, _, label in rows[0]["label"])
    xlsx = tmp_path / "out.xlsx"
    assert run("-m", "app", "extract", str(good), "-o", str(xlsx)).returncode == 0
    from openpyxl import load_workbook
    types = [row[3] for row in load_workbook(xlsx)["Entities"].iter_rows(min_row=2, values_only=True)]
    assert "Medicine" in types


def test_extract_says_per_file_what_it_left_out(tmp_path):
    tasks = ROOT / "tests" / "data" / "interop" / "labelstudio" / "text_with_2_predictions.json"
    result = run("-m", "app", "extract", str(tasks), "-o", str(tmp_path / "out.jsonl"))
    assert result.returncode == 0, result.stderr
    assert ("left out: text_with_2_predictions.json: 1 document(s), 0 entities, 0 suggestions; 2 thing(s) left out:\n"
            "    line 1: 2 predictions; imported the latest (model_version_B) as suggestions\n"
            "    line 1: 1 result(s) of type 'choices' not imported (only entity spans are)") in result.stderr


def test_trainer_evaluate_prints_one_json_object(tmp_path):
    data = [{"text": "নাপা খেলে মাথা ব্যথা কমে", "labels": ["B-Medicine", "O", "B-Symptom", "I-Symptom", "O"]}]
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = run("-m", "trainer", "evaluate", "--model", "model_assets/student-int8", "--data", str(path))
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert {"strict_micro_f1", "strict_macro_f1", "lenient_micro_f1", "per_class", "n_samples"} <= set(scores)
    assert scores["n_samples"] == 1


def test_trainer_evaluate_bad_file_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"text": "নাপা", "labels": ["B-Medicine"]}, {"text": ', encoding="utf-8")
    result = run("-m", "trainer", "evaluate", "--model", "model_assets/student-int8", "--data", str(path))
    assert result.returncode == 2
    assert "broken.json" in result.stderr and "Traceback" not in result.stderr
    bad_label = tmp_path / "labels.json"
    bad_label.write_text('[\n{"text": "নাপা", "labels": ["B-Drug"]}\n]', encoding="utf-8")
    result = run("-m", "trainer", "evaluate", "--model", "model_assets/student-int8", "--data", str(bad_label))
    assert result.returncode == 2 and "labels.json:2:" in result.stderr and "'Drug'" in result.stderr


def test_run_extract_takes_relative_paths_from_where_it_is_called(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("রোগীর জ্বর আছে, নাপা দিন\n", encoding="utf-8")
    result = subprocess.run([str(ROOT / "run"), "extract", "notes/a.txt", "-o", "out.jsonl"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))["text"].startswith("রোগীর")
