"""Reading each text source kind: exact rows, texts, labels and skip counts on small generated files."""

import json

import pytest

from classifykit.errors import ClassifykitError
from classifykit.text.labels import LabelTable, canonical_label, sort_classes
from classifykit.text.read import read_records


def test_csv_quoting_bom_crlf_and_literal_missing_words(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(
        b"\xef\xbb\xbfReview,Sentiment\r\n"
        b'"Great, really ""great""\r\nfilm",pos\r\n'
        b"NA,neg\r\n"
        b"None, pos \r\n"
        b"null,neg\r\n"
        b",pos\r\n"
        b'"   ",neg\r\n'
        b"!!! ...,pos\r\n"
        b"fine,\r\n"
    )
    rec = read_records(path)
    assert rec.texts == ['Great, really "great"\r\nfilm', "NA", "None", "null"]
    assert rec.labels == ["pos", "neg", "pos", "neg"]
    assert rec.rows == [0, 1, 2, 3]
    assert rec.where == ["reviews.csv:2", "reviews.csv:4", "reviews.csv:5", "reviews.csv:6"]
    assert rec.skipped == [
        ("reviews.csv:7", "row 4: empty text"),
        ("reviews.csv:8", "row 5: whitespace-only text"),
        ("reviews.csv:9", "row 6: punctuation-only text (no letter or digit)"),
        ("reviews.csv:10", "row 7: missing label"),
    ]
    assert rec.skip_counts() == {"empty text": 1, "whitespace-only text": 1,
                                 "punctuation-only text (no letter or digit)": 1, "missing label": 1}


def test_tsv_keeps_stray_quotes(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text('sentence\tlabel\nhe said "wow\t1\n"quoted" start\t-1\n', encoding="utf-8")
    rec = read_records(path)
    assert rec.texts == ['he said "wow', '"quoted" start']
    assert rec.labels == ["1", "-1"]


def test_jsonl_values_of_any_type(tmp_path):
    path = tmp_path / "data.jsonl"
    lines = [{"content": "good", "target": 1.0}, {"content": "bad", "target": 0}, {},
             {"content": None, "target": 1}, {"content": "NA", "target": True}]
    path.write_text("\n".join(json.dumps(x) for x in lines[:2]) + "\n\n" +
                    "\n".join(json.dumps(x) for x in lines[2:]) + "\n", encoding="utf-8")
    rec = read_records(path)
    assert rec.texts == ["good", "bad", "NA"]
    assert rec.labels == ["1.0", "0", "true"]  # as written (issue 15 defect 7)
    assert rec.rows == [0, 1, 4]
    assert rec.skipped == [("data.jsonl:4", "row 2: missing label"), ("data.jsonl:5", "row 3: missing text")]


def test_class_folder(tmp_path):
    for label, names in {"neg": ["b.txt", "a.txt"], "pos": ["c.txt"], ".hidden": ["x.txt"]}.items():
        (tmp_path / label).mkdir()
        for name in names:
            (tmp_path / label / name).write_text(f"text {label} {name}", encoding="utf-8")
    (tmp_path / "pos" / "notes.md").write_text("ignored")
    rec = read_records(tmp_path)
    assert rec.where == ["neg/a.txt", "neg/b.txt", "pos/c.txt"]
    assert rec.texts == ["text neg a.txt", "text neg b.txt", "text pos c.txt"]
    assert rec.labels == ["neg", "neg", "pos"]


def test_undecodable_file_suggests_encoding(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncaf\xe9,pos\n".encode("latin-1"))
    with pytest.raises(ClassifykitError, match=r"latin.csv: not valid utf-8 .*line 2.*--encoding"):
        read_records(path)
    assert read_records(path, encoding="latin-1").texts == ["café"]


def test_unknown_columns_are_named(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("words,verdict\nhello,pos\n", encoding="utf-8")
    with pytest.raises(ClassifykitError, match=r"t.csv: cannot tell which column holds the texts \(columns: 'words', 'verdict'.*--text-column"):
        read_records(path)
    rec = read_records(path, text_column="words", label_column="verdict")
    assert (rec.texts, rec.labels) == (["hello"], ["pos"])
    with pytest.raises(ClassifykitError, match="no column 'nope'.*--label-column"):
        read_records(path, text_column="words", label_column="nope")


def test_canonical_labels_and_class_order():
    # labels are kept as written (issue 15 defect 7: "0.0"/"1.0" came back as "0"/"1"), only stripped
    assert [canonical_label(v) for v in [" pos ", "1", "1.0", 1, 1.0, "-1", "0.50", True, "", None, "Pos"]] == \
        ["pos", "1", "1.0", "1", "1.0", "-1", "0.50", "true", None, None, "Pos"]
    assert sort_classes(["10", "2", "-1", "2"]) == ["-1", "2", "10"]
    assert sort_classes(["b", "10", "a"]) == ["10", "a", "b"]
    table = LabelTable.from_labels(["rotten", "fresh", "fresh"])
    assert table.classes == ["fresh", "rotten"]
    assert table.encode(["rotten", "fresh"]).tolist() == [1, 0]
    assert table.encode(["fresh"]).dtype.name == "int64"
    with pytest.raises(ClassifykitError, match="label 'plot' is not one of the trained classes"):
        table.encode(["plot"])
    with pytest.raises(ClassifykitError, match="at least two"):
        LabelTable.from_labels(["pos", "pos"])


def _texts(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(f"review {folder.parent.name} {folder.name} {name}", encoding="utf-8")


def _acl_imdb(root):
    """aclImdb's layout in miniature: split folders, unsup/ beside the classes, loose files at each level."""
    _texts(root / "train" / "pos", ["0_9.txt", "1_7.txt"])
    _texts(root / "train" / "neg", ["2_1.txt"])
    _texts(root / "train" / "unsup", ["0_0.txt", "1_0.txt", "2_0.txt"])
    _texts(root / "test" / "pos", ["0_10.txt"])
    _texts(root / "test" / "neg", ["1_3.txt", "2_2.txt"])
    (root / "train" / "urls_pos.txt").write_text("http://www.imdb.com/title/tt0453418/usercomments\n")
    (root / "train" / "labeledBow.feat").write_text("9 0:9 1:1\n")
    (root / "imdb.vocab").write_text("the\nand\n")
    (root / "README").write_text("Large Movie Review Dataset v1.0\n")
    (root / "test" / "pos" / "1_8.txt").write_text("  ", encoding="utf-8")
    return root


def test_split_level_folders_are_read_with_the_inner_class(tmp_path):
    rec = read_records(_acl_imdb(tmp_path / "aclImdb"))
    assert rec.where == ["test/neg/1_3.txt", "test/neg/2_2.txt", "test/pos/0_10.txt",
                         "train/neg/2_1.txt", "train/pos/0_9.txt", "train/pos/1_7.txt"]
    assert rec.labels == ["neg", "neg", "pos", "neg", "pos", "pos"]
    assert rec.texts[0] == "review test neg 1_3.txt"
    assert rec.rows == [0, 1, 2, 4, 5, 6]
    assert sort_classes(rec.labels) == ["neg", "pos"]  # unsup is no class, nor are train/ and test/
    assert rec.skipped == [
        ("test/pos/1_8.txt", "row 3: whitespace-only text"),
        ("train/unsup/0_0.txt", "row 7: unlabelled text (unsup/ holds texts without a class)"),
        ("train/unsup/1_0.txt", "row 8: unlabelled text (unsup/ holds texts without a class)"),
        ("train/unsup/2_0.txt", "row 9: unlabelled text (unsup/ holds texts without a class)"),
    ]


def test_split_level_corpus_reports_unsup_in_the_skip_summary(tmp_path):
    from classifykit.tasks.text import skipped_summary
    from classifykit.text.corpus import load_corpus

    corpus = load_corpus(_acl_imdb(tmp_path / "aclImdb"))
    assert len(corpus) == 6 and corpus.rows.tolist() == [0, 1, 2, 4, 5, 6]
    assert skipped_summary(corpus) == ("4 records skipped (3 unlabelled text (unsup/ holds texts without a class), "
                                       "1 whitespace-only text); see skipped.csv")


def test_flat_folder_ignores_unsup_and_keeps_split_named_classes(tmp_path):
    _texts(tmp_path / "flat" / "pos", ["a.txt"])
    _texts(tmp_path / "flat" / "neg", ["b.txt"])
    _texts(tmp_path / "flat" / "Unsup", ["c.txt"])
    rec = read_records(tmp_path / "flat")
    assert (rec.where, rec.labels) == (["neg/b.txt", "pos/a.txt"], ["neg", "pos"])
    assert rec.rows == [1, 2]  # sorted by name: "Unsup" comes first
    assert rec.skipped == [("Unsup/c.txt", "row 0: unlabelled text (Unsup/ holds texts without a class)")]
    # class folders that happen to be named train/ and test/ (texts directly inside) stay classes
    _texts(tmp_path / "named" / "train", ["a.txt"])
    _texts(tmp_path / "named" / "test", ["b.txt"])
    assert read_records(tmp_path / "named").labels == ["test", "train"]
    # a split folder beside a non-split folder: no split level, as for images
    _texts(tmp_path / "mixed" / "train" / "pos", ["a.txt"])
    _texts(tmp_path / "mixed" / "extra", ["b.txt"])
    assert read_records(tmp_path / "mixed").where == ["extra/b.txt"]


def test_val_split_folder_any_case(tmp_path):
    _texts(tmp_path / "d" / "Train" / "pos", ["a.txt"])
    _texts(tmp_path / "d" / "Train" / "neg", ["b.txt"])
    _texts(tmp_path / "d" / "validation" / "pos", ["c.txt"])
    rec = read_records(tmp_path / "d")
    assert rec.where == ["Train/neg/b.txt", "Train/pos/a.txt", "validation/pos/c.txt"]
    assert rec.labels == ["neg", "pos", "pos"]


def test_only_unlabelled_texts_is_an_error(tmp_path):
    _texts(tmp_path / "d" / "train" / "unsup", ["a.txt"])
    with pytest.raises(ClassifykitError, match=r"no class subfolder holds \.txt files.*train/pos/"):
        read_records(tmp_path / "d")


def test_system_entries_are_ignored_as_for_images(tmp_path):
    # unzipping on macOS leaves __MACOSX/ beside the data, mirroring it with AppleDouble files
    root = _acl_imdb(tmp_path / "aclImdb")
    _texts(root / "__MACOSX" / "train" / "pos", ["._0_9.txt"])
    (root / "__MACOSX" / "notes.txt").write_text("resource fork", encoding="utf-8")
    (root / "train" / "pos" / "Thumbs.db").write_bytes(b"\x00")
    rec = read_records(root)
    assert rec.where == ["test/neg/1_3.txt", "test/neg/2_2.txt", "test/pos/0_10.txt",
                         "train/neg/2_1.txt", "train/pos/0_9.txt", "train/pos/1_7.txt"]
    # flat layout: a system folder holding .txt files is not a class, in any letter case
    _texts(tmp_path / "flat" / "pos", ["a.txt"])
    _texts(tmp_path / "flat" / "neg", ["b.txt"])
    _texts(tmp_path / "flat" / "__MACOSX", ["c.txt"])
    _texts(tmp_path / "flat" / "Desktop.ini", ["d.txt"])
    _texts(tmp_path / "flat" / "$RECYCLE.BIN", ["e.txt"])
    rec = read_records(tmp_path / "flat")
    assert (rec.where, rec.labels, rec.skipped) == (["neg/b.txt", "pos/a.txt"], ["neg", "pos"], [])


def test_unsup_beside_the_split_folders_is_unlabelled_not_a_reason_to_refuse_the_split(tmp_path):
    # imdb/{train,test}/{pos,neg} with imdb/unsup/*.txt was read as classes train/, test/ (no texts)
    # and refused: the split level needed every folder to be a split name.
    root = tmp_path / "imdb"
    _texts(root / "train" / "pos", ["a.txt"])
    _texts(root / "train" / "neg", ["b.txt"])
    _texts(root / "test" / "pos", ["c.txt"])
    _texts(root / "test" / "neg", ["d.txt"])
    _texts(root / "unsup", ["e.txt", "f.txt"])
    rec = read_records(root)
    assert rec.where == ["test/neg/d.txt", "test/pos/c.txt", "train/neg/b.txt", "train/pos/a.txt"]
    assert (rec.labels, rec.rows) == (["neg", "pos", "neg", "pos"], [0, 1, 2, 3])
    assert rec.skipped == [("unsup/e.txt", "row 4: unlabelled text (unsup/ holds texts without a class)"),
                           ("unsup/f.txt", "row 5: unlabelled text (unsup/ holds texts without a class)")]
    # another folder beside the splits still means no split level, as for images
    _texts(root / "extra", ["g.txt"])
    assert read_records(root).where == ["extra/g.txt"]
