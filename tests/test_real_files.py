"""Real files published by other tools (doccano, Label Studio, spaCy/Prodigy, brat, flair, INCEpTION, cassis),
committed unchanged under tests/data/interop/ (origins and licences: SOURCES.md), imported through
:func:`engine.importing.import_files` as a user would, with the documents, entities, review status and the
report's left-out list asserted exactly. Entity types are the files' own (ORG, PERSON...): the import keeps them.
No Qt, no model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.importing import import_files

DATA = Path(__file__).resolve().parent / "data" / "interop"


def imported(*names: str, folder: Path = DATA):
    batch = import_files([folder / name for name in names], None)
    docs = [(d.title, d.text, [(d.text[e.start:e.end], e.label) for e in d.entities], _status(d), d.metadata)
            for d in batch.documents]
    return batch, docs


def _status(d) -> str:
    """The review state the app stores: a person's annotation, a model's suggestions, or text to tag."""
    return "annotated" if d.reviewed else ("to tag" if d.needs_tagging else "suggested")


def skipped(batch) -> list[str]:
    return [s for f in batch.report.files for s in f.skipped]


def test_every_fixture_is_named_in_sources_with_its_licence():
    sources = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    files = sorted(str(p.relative_to(DATA)) for p in DATA.rglob("*") if p.is_file() and p.name != "SOURCES.md")
    assert len(files) >= 15 and sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file()) < 300_000
    for name in files:
        assert f"`{name}`" in sources, f"{name} is not in SOURCES.md"


# -- doccano (MIT) ------------------------------------------------------------------------------------------

def test_doccano_export_example():
    batch, docs = imported("doccano/export_sequence_labeling.jsonl")
    assert batch.errors == [] and skipped(batch) == []
    assert [(d[1], d[2], d[3]) for d in docs] == [
        ("EU rejects German call to boycott British lamb.", [("EU", "ORG"), ("German", "MISC")], "annotated"),
        ("Peter Blackburn", [("Peter Blackburn", "PERSON")], "annotated"),
        ("President Obama", [("Obama", "PERSON")], "annotated")]


def test_doccano_duplicated_span_is_merged_and_meta_kept():
    batch, docs = imported("doccano/example_overlapping.jsonl")
    assert docs == [("example_overlapping.jsonl #1", "exampleA", [("e", "LOC")], "annotated", {"wikiPageID": "1"})]
    assert skipped(batch) == ["line 1: 1 duplicated entity merged"]


def test_doccano_1x_labels_key_keeps_the_first_of_overlapping_spans():
    batch, docs = imported("doccano/labeling.jsonl")
    assert [d[2] for d in docs] == [[("e", "LOC")], [("e", "LOC")], [("e", "PER")]]
    assert skipped(batch) == ["line 1: entity [0, 2) 'ex' (ORG) overlaps [0, 1) 'e' (LOC); the first was kept, "
                              "this one not imported"]


def test_doccano_relation_project_entities_kept_relations_reported():
    batch, docs = imported("doccano/relation_extraction.jsonl")
    assert docs[0][2] == [("Google", "ORG"), ("September 4, 1998", "DATE"), ("Larry Page", "PERSON"),
                          ("Sergey Brin", "PERSON")]
    assert skipped(batch) == ["line 1: 3 relation(s) between entities not imported"]


def test_doccano_1x_export_with_annotations_and_label_names():
    """doccano 1.x exported ``"annotations": [{"label_name", "start_offset", ...}]``: read, not lost."""
    batch, docs = imported("doccano/download_sequence_labeling.jsonl")
    assert batch.errors == [] and skipped(batch) == []
    assert [(d[1], d[2], d[3], d[4]) for d in docs] == [
        ("EU rejects ...", [("EU", "ORG")], "annotated", {}),
        ("Peter Blackburn", [("Peter Blackburn", "PERSON")], "annotated", {}),
        ("President Obama", [("Obama", "PERSON")], "annotated", {})]


def test_doccano_export_with_label_numbers_only_is_refused_clearly():
    batch, docs = imported("doccano/download_label_ids.jsonl")
    assert docs == []
    assert batch.errors == [f"{DATA / 'doccano/download_label_ids.jsonl'}:1: the labels are doccano's label numbers "
                            "(2), not their names; export the project again from doccano (JSONL) so that each label "
                            "has its name"]


def test_doccano_conll_examples_tab_and_space_separated():
    batch, docs = imported("doccano/example.conll", "doccano/example.conll.txt")
    assert batch.errors == [] and skipped(batch) == []
    assert [(d[0], d[1], d[2], d[3]) for d in docs] == [
        ("example.conll #1", "JAPAN GET", [("JAPAN", "LOC")], "annotated"),
        ("example.conll #2", "Nadim Ladki", [("Nadim Ladki", "PER")], "annotated"),
        ("example.conll.txt #1", "EU rejects German call to boycott British lamb . Peter Blackburn",  # no blank line
         [("EU", "ORG"), ("German", "MISC"), ("British", "MISC"), ("Peter Blackburn", "PER")], "annotated")]


# -- Label Studio (Apache-2.0) ------------------------------------------------------------------------------

def test_label_studio_converter_completions_single_task():
    batch, [(title, text, spans, status, metadata)] = imported("labelstudio/completions_348.json")
    assert batch.errors == [] and skipped(batch) == [] and (status, metadata) == ("annotated", {})
    regions = json.loads((DATA / "labelstudio/completions_348.json").read_text())["completions"][0]["result"]
    stated = sorted((r["value"]["start"], r["value"]["text"].strip()) for r in regions)
    assert spans == [(t, "INGREDIENT") for _, t in stated] and len(spans) == 38
    assert spans[:3] == [("Aqua (Water)", "INGREDIENT"), ("Sodium Lauroyl Methyl Isethionate,", "INGREDIENT"),
                         ("Disodium Cocoamphodiacetate,", "INGREDIENT")]
    assert ("Polyquaternium-7", "INGREDIENT") in spans  # the region " Polyquaternium-7" loses its leading space
    assert text.startswith(" -Antioxidant Vitamins")


def test_label_studio_text_classification_predictions_come_in_to_tag_with_notes():
    batch, docs = imported("labelstudio/text_with_2_predictions.json")
    assert docs == [("text_with_2_predictions.json #1", "Test example phrase", [], "to tag", {})]
    assert skipped(batch) == ["line 1: 2 predictions; imported the latest (model_version_B) as suggestions",
                              "line 1: 1 result(s) of type 'choices' not imported (only entity spans are)"]


def test_label_studio_image_boxes_never_make_the_text_a_reviewed_empty_annotation():
    """Ground-truth annotations that box the task's image say nothing of its text's entities."""
    batch, docs = imported("labelstudio/three_tasks_two_gts.json")
    assert batch.errors == []
    assert [(d[1][:30], d[2], d[3], sorted(d[4])) for d in docs] == [
        ("Calif. wildfires signal the ar", [], "to tag", ["audio", "image"]),
        ("The Supreme Court won’t hear a", [], "to tag", ["audio", "image"]),
        ("HAPPENING NOW: Coverage of Sou", [], "to tag", ["audio", "image"])]
    assert skipped(batch) == [
        "line 2: 1 result(s) of type 'rectanglelabels' not imported (only entity spans are)",
        "line 2: the annotation labels no text spans; the text comes in unreviewed, for the model to tag",
        "line 69: 1 result(s) of type 'rectanglelabels' not imported (only entity spans are)",
        "line 69: the annotation labels no text spans; the text comes in unreviewed, for the model to tag",
        "line 136: 3 result(s) of type 'rectanglelabels' not imported (only entity spans are)",
        "line 136: the annotation labels no text spans; the text comes in unreviewed, for the model to tag"]


def test_label_studio_image_task_is_refused_naming_what_was_expected():
    batch, docs = imported("labelstudio/previous_export.json")
    assert docs == [] and batch.errors == [f"{DATA / 'labelstudio/previous_export.json'}:1: expected a task whose "
                                           '"data" holds the text (e.g. {"text": ...})']


# -- spaCy / Prodigy ----------------------------------------------------------------------------------------

def test_prodigy_ner_manual_output_from_spacy_projects():
    batch, docs = imported("prodigy/ner_tweets_demo.jsonl")
    assert batch.errors == [] and skipped(batch) == []
    assert docs == [("ner_tweets_demo.jsonl #1",
                     "I'm seeing Ed Sheeran on Wednesday in Miami so if you wanna meet up or say hi hmu!",
                     [("Ed Sheeran", "PERSON")], "annotated", {})]


def test_prodigy_answers_accept_only_and_unanswered_tasks_as_scored_suggestions():
    batch, docs = imported("prodigy/handwritten_answers.jsonl")
    assert [(d[1], d[2], d[3], d[4]) for d in docs] == [
        ("Patient reports fever and headache; started paracetamol 500 mg.",
         [("fever", "SYMPTOM"), ("headache", "SYMPTOM"), ("paracetamol", "DRUG")], "annotated", {"source": "ward-3"}),
        ("Cough for three days.", [("Cough", "SYMPTOM")], "suggested", {"score": "0.81", "pattern": "4"})]
    assert [e.confidence for e in batch.documents[1].entities] == [0.81]
    assert skipped(batch) == ["1 example(s) answered 'reject' in Prodigy not imported (line 2)",
                              "1 example(s) answered 'ignore' in Prodigy not imported (line 3)"]


# -- brat (MIT) ---------------------------------------------------------------------------------------------

ORG, MERGE = "Organization", "Merge-org"


def test_brat_tutorial_events_keep_every_text_bound_annotation_and_report_the_events():
    batch, docs = imported("brat/080-event-annotation.ann", "brat/080-event-annotation.txt")
    assert batch.errors == [] and len(docs) == 1 and len(batch.report.files) == 1
    title, text, spans, status, metadata = docs[0]
    assert (title, status, metadata) == ("080-event-annotation", "annotated", {})
    assert spans == [("merger", MERGE), ("YouTube", ORG), ("YouTube", ORG), ("merged", MERGE), ("Google", ORG),
                     ("Amazon", ORG), ("Apple", ORG), ("Google", ORG), ("Facebook", ORG), ("merged", MERGE),
                     ("YouTube", ORG), ("YouTube", ORG), ("Google", ORG), ("Amazon", ORG), ("Apple", ORG),
                     ("Google", ORG), ("Facebook", ORG), ("WikiNews", ORG), ("reports", MERGE), ("Google", ORG),
                     ("Facebook", ORG)]
    assert skipped(batch) == ["080-event-annotation.ann: 4 event(s) not imported (only entities are)"]


def test_brat_tutorial_attributes_are_reported():
    batch, docs = imported("brat/100-attribute_annotation.txt")
    spans = docs[0][2]
    assert len(spans) == 26 and spans[:4] == [("Somebody", "Person"), ("twitted", "Report"), ("YouTube", ORG),
                                              ("merge", MERGE)]
    assert skipped(batch) == ["100-attribute_annotation.ann: 6 attribute(s) not imported (only entities are)",
                              "100-attribute_annotation.ann: 10 event(s) not imported (only entities are)"]


def test_brat_pair_beside_a_damaged_manifest_says_so(tmp_path):
    for name in ("080-event-annotation.txt", "080-event-annotation.ann"):
        shutil.copy(DATA / "brat" / name, tmp_path / name)
    (tmp_path / "meder-documents.json").write_text('{"format": "bangla-meder brat documents", "documents": [',
                                                   encoding="utf-8")
    batch, docs = imported("080-event-annotation.txt", "meder-documents.json", folder=tmp_path)
    assert batch.errors == [] and [(d[0], d[3], len(d[2])) for d in docs] == [("080-event-annotation", "annotated", 21)]
    events, damaged, manifest = skipped(batch)
    assert events == "080-event-annotation.ann: 4 event(s) not imported (only entities are)"
    assert damaged.startswith("080-event-annotation.txt: meder-documents.json beside it cannot be read "
                              "(JSONDecodeError: Expecting value")
    assert damaged.endswith("; its title is the file name and it counts as reviewed")
    assert manifest == "the titles and review status of the BRAT files beside it, read with them; not a document"


# -- CoNLL-style corpora (flair, MIT) -----------------------------------------------------------------------

def test_flair_column_file_named_like_conll_2003_is_found_by_content():
    """eng.testb: no known suffix, four space-separated columns, no final newline, an em dash token."""
    batch, docs = imported("conll/fashion-eng.testb")
    assert batch.errors == [] and skipped(batch) == []
    assert docs == [("fashion-eng.testb #1",
                     "For my Nurse Ratched dress , I had brought two dyeing options — one more ambitious than the "
                     "other .", [("Nurse Ratched", "NamedOrganizationBrand"), ("dress", "NominalProduct")],
                     "annotated", {})]


def test_flair_space_separated_iob_in_txt():
    batch, docs = imported("conll/trivial_bioes-test.txt")
    assert [(d[1], d[2]) for d in docs] == [
        ("this is New York", [("New York", "LOC")]), ("this is Berlin", [("Berlin", "LOC")]),
        ("here is New York", [("New York", "LOC")]), ("here is Berlin", [("Berlin", "LOC")]),
        ("I like New York", [("New York", "LOC")]), ("I like Berlin", [("Berlin", "LOC")]),
        ("we like New York", [("New York", "LOC")]), ("we like Berlin", [("Berlin", "LOC")])]


# -- formats refused by name (INCEpTION, dkpro-cassis; Apache-2.0) ------------------------------------------

@pytest.mark.parametrize("name,kind", [("inception/testMultiTokenSpanWithFeatureValue.tsv", "WebAnno TSV"),
                                       ("inception/small_cas.xmi", "UIMA XMI")])
def test_webanno_tsv_and_uima_xmi_are_refused_naming_the_format(name, kind):
    batch, docs = imported(name)
    assert docs == [] and len(batch.errors) == 1
    assert f"this is a {kind} file, which this app cannot read" in batch.errors[0]
    assert "export the project from INCEpTION/WebAnno as CoNLL 2002 or as JSON" in batch.errors[0]
