"""Numeric labels keep the user's spelling (issue 15, defect 7); spellings of one number are one class, said."""

from __future__ import annotations

from classifykit.text.corpus import load_corpus
from classifykit.text.inference import labelled_texts
from classifykit.text.labels import LabelTable, align_labels, unify_numeric_labels


def test_float_labels_come_back_as_written(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("text,label\ngood film,1.0\nbad film,0.0\nfine film,1.0\ndull film,0.0\n", encoding="utf-8")
    corpus = load_corpus(path)
    assert corpus.labels == ["1.0", "0.0", "1.0", "0.0"] and corpus.label_notes == []
    assert LabelTable.from_labels(corpus.labels).classes == ["0.0", "1.0"]


def test_json_floats_keep_their_decimal_point(tmp_path):
    path = tmp_path / "scores.jsonl"
    path.write_text('{"text": "good", "label": 1.0}\n{"text": "bad", "label": 0.0}\n', encoding="utf-8")
    assert load_corpus(path).labels == ["1.0", "0.0"]


def test_spellings_of_one_number_are_one_class_and_a_note_says_so(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("text,label\na film,1\nb film,1\nc film,1.0\nd film,0\ne film, 2.50\nf film,2.5\ng film,x\n",
                    encoding="utf-8")
    corpus = load_corpus(path)
    assert corpus.labels == ["1", "1", "1", "0", "2.5", "2.5", "x"]
    assert corpus.label_notes == [
        "labels '1' (2 rows) and '1.0' (1 row) are the same number; they are one class, '1'.",
        "labels '2.5' (1 row) and '2.50' (1 row) are the same number; they are one class, '2.5'.",
    ]


def test_unify_leaves_text_nan_and_distinct_numbers_alone():
    labels = ["nan", "NaN", "inf", "1", "2", "pos"]
    assert unify_numeric_labels(labels) == (labels, [])


def test_new_data_spelling_a_trained_number_maps_onto_the_class(tmp_path):
    assert align_labels(["1", "0", "0.0", "pos"], ["0.0", "1.0"]) == ["1.0", "0.0", "0.0", "pos"]
    path = tmp_path / "eval.csv"
    path.write_text("text,label\ngood,1\nbad,0\n", encoding="utf-8")
    _, _, targets, _ = labelled_texts(path, ["0.0", "1.0"])
    assert targets.tolist() == [1, 0]
