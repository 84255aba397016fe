"""A link (symbolic) named like the .txt beside a chosen BRAT .ann is not followed: it could lead anywhere."""

from __future__ import annotations

import os

import pytest

from engine.importing import import_files


@pytest.mark.skipif(os.name != "posix", reason="symbolic links need privileges on Windows")
def test_a_linked_txt_beside_an_ann_is_not_read(tmp_path):
    elsewhere = tmp_path / "other-patient.txt"
    elsewhere.write_text("রোগী: করিম, জ্বর আছে", encoding="utf-8")
    folder = tmp_path / "chosen"
    folder.mkdir()
    (folder / "note.txt").symlink_to(elsewhere)
    (folder / "note.ann").write_text("T1\tSymptom 12 16\tজ্বর\n", encoding="utf-8")
    batch = import_files([folder / "note.ann"], None)
    assert batch.documents == [] and len(batch.errors) == 1
    assert "is a link, which is not followed" in batch.errors[0]


def test_a_real_txt_beside_an_ann_is_read(tmp_path):
    (tmp_path / "note.txt").write_text("রোগী: করিম, জ্বর আছে", encoding="utf-8")
    (tmp_path / "note.ann").write_text("T1\tSymptom 12 16\tজ্বর\n", encoding="utf-8")
    [doc] = import_files([tmp_path / "note.ann"], None).documents
    assert [(e.start, e.end, e.label) for e in doc.entities] == [(12, 16, "Symptom")]
