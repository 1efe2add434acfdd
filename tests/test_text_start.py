"""Starting a text run: what config.json saves, and what a start that cannot train says and leaves behind."""

from pathlib import Path

from test_text_task import _cfg

from classifykit import runfolder as rf
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
