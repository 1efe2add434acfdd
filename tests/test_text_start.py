"""Starting a text run: what config.json saves, and what a start that cannot train says and leaves behind."""

import pytest
from test_text_task import _cfg

from classifykit import runfolder as rf
from classifykit.errors import ClassifykitError
from classifykit.io import read_json
from classifykit.tasks.text import train_text


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
def test_a_start_that_fails_leaves_no_run_folder(tmp_path, case, match):
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
