"""Starting a text run: what config.json saves, and what a start that cannot train says and leaves behind."""

import pytest
from test_text_task import _cfg

from classifykit import runfolder as rf
from classifykit.errors import ClassifykitError
from classifykit.io import read_json
from classifykit.tasks.pipeline import train as train_text


def test_resume_from_another_folder_finds_the_data(tmp_path, monkeypatch):
    # `classifykit train text data/reviews.csv`, then `--resume runs/r` from elsewhere failed:
    # config.json kept the data path as typed (relative), images kept it absolute.
    monkeypatch.chdir(tmp_path)
    cfg = _cfg(tmp_path, epochs=1)
    run = train_text(_cfg(tmp_path, epochs=1, data="reviews.csv", runs_dir="runs"))
    saved = read_json(tmp_path / run / rf.CONFIG)["config"]
    assert saved["data"] == str((tmp_path / "reviews.csv").resolve())
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert train_text(cfg, resume=str(tmp_path / run)) == tmp_path / run
    assert len((tmp_path / run / rf.METRICS).read_text().splitlines()) == 2  # header + the one epoch


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("case, match", [
    ("empty file", "the file is empty"),
    ("wrong column", "no column 'lab'"),
    ("one class", r"Found 1 class\(es\) \['pos'\]"),
    ("val ratio 0", "--val-ratio 0: training keeps the epoch with the best val accuracy"),
    ("classes too small", "no text went to the val split: a class needs at least 3 texts"),
    ("missing vectors", "--embeddings"),
])
def test_a_start_that_fails_leaves_no_run_folder(tmp_path, capsys, case, match):
    options = {
        "empty file": dict(data=_write(tmp_path / "empty.csv", "")),
        "wrong column": dict(label_column="lab"),
        "one class": dict(data=_write(tmp_path / "one.csv", "text,label\n" + "good film,pos\n" * 20)),
        "val ratio 0": dict(val_ratio=0.0),
        "classes too small": dict(data=_write(tmp_path / "small.csv", "text,label\ngood,pos\nfine,pos\nbad,neg\n")),
        "missing vectors": dict(embeddings=str(tmp_path / "no-such-vectors.txt")),
    }[case]
    with pytest.raises(ClassifykitError, match=match):
        train_text(_cfg(tmp_path, name=None, **options))
    assert list((tmp_path / "runs").glob("*")) == []  # runs/ itself may exist, empty
    out = capsys.readouterr()
    assert "Run folder:" not in out.out + out.err  # it used to name the folder it then removed


def test_messages_say_what_is_wrong_in_our_words(tmp_path):
    def error(**options):
        with pytest.raises(ClassifykitError) as e:
            train_text(_cfg(tmp_path, name=None, **options))
        assert list((tmp_path / "runs").glob("*")) == []
        return str(e.value)

    # the same column for both: said up front (it used to end in "The validation data is empty")
    assert error(text_column="text", label_column="text") == (
        "--text-column text and --label-column text name the same column; the labels must be in a column of their own.")
    # a header and no rows (it used to say "Found 0 class(es) []")
    header = _write(tmp_path / "header.csv", "text,label\r\n")
    assert error(data=header) == (
        f"{header}: no data rows, only the header ('text', 'label'); add one row per text with its label.")
    skipped = _write(tmp_path / "skipped.csv", "text,label\n,pos\n!!,neg\n")
    assert error(data=skipped) == (
        f"{skipped}: no usable text: every record was skipped (1 empty text, 1 punctuation-only text (no letter or "
        "digit); the first is skipped.csv:2, row 0: empty text).")
    # 6 rows: scikit-learn's "The test_size = 1 should be greater or equal to the number of classes = 2" was quoted
    six = _write(tmp_path / "six.csv", "text,label\n" + "good film,pos\nbad film,neg\n" * 3)
    assert error(data=six) == (
        f"{six}: 6 texts in 2 classes are too few for a stratified train/val/test split (--val-ratio 0.15, "
        "--test-ratio 0.25): the val split would get 1 text for 2 classes, and it needs one of each. "
        "Give each class at least 4 texts (now: neg 3, pos 3).")
    eight = _write(tmp_path / "eight.csv", "text,label\n" + "good film,pos\nbad film,neg\n" * 4)
    assert train_text(_cfg(tmp_path, data=eight, name="eight", epochs=1)).is_dir()  # 4 per class is enough


def test_too_few_to_split_names_the_short_split_and_the_size_that_splits():
    from classifykit.data.split import stratified_split
    from classifykit.tasks.text import split_shortfall

    assert split_shortfall(6, 2, 0.15, 0.25) == ("val", 1)
    assert split_shortfall(4, 2, 0.15, 0.0) == ("val", 1)
    assert split_shortfall(8, 2, 0.5, 0.4) == ("train", 0)  # test 4, then val ceil(5/6 · 4) = 4 of the 4 left
    for k in (2, 3, 5):  # the rule agrees with stratified_split on classes of equal size
        for c in range(3, 15):
            labels = [str(i % k) for i in range(k * c)]
            try:
                stratified_split(list(range(k * c)), labels, val_ratio=0.15, test_ratio=0.25)
                splits = True
            except ClassifykitError:
                splits = False
            assert splits == (split_shortfall(k * c, k, 0.15, 0.25) is None), (k, c)
