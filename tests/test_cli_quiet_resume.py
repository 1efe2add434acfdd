"""Issue 15 through the CLI: ``--quiet`` keeps data warnings (on stderr; defect 3), and ``--resume RUN
--epochs N`` extends a finished run (defect 15), for images and text."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from classifykit.cli.app import app
from classifykit.io import read_csv_rows, read_json

COMMON = ["--epochs", "2", "--batch-size", "8", "--num-workers", "0", "--device", "cpu", "--patience", "0",
          "--quiet"]


def _image_folder(root):
    """Two usable classes, a class of one image (too small to split), an empty class, a broken file."""
    rng = np.random.default_rng(0)
    for c, n, level in (("bright", 10, 200), ("dark", 10, 20), ("rare", 1, 120)):
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray((level + rng.integers(0, 30, (12, 12))).astype(np.uint8), "L").save(root / c / f"{i}.png")
    (root / "empty").mkdir()
    (root / "dark" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def _text_table(path):
    """Two classes, labels that differ only in case, a label of one row, two unusable rows."""
    rows = [[f"good great film {i}", "pos"] for i in range(12)] + [[f"bad awful film {i}", "neg"] for i in range(12)]
    rows += [["lovely film", "Pos"], ["superb film", "Pos"], ["fine film", "Pos"], ["odd film", "rare"],
             ["", "pos"], ["no label here", ""]]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def _summary_only(stdout: str) -> None:
    """Under --quiet, stdout holds just the run folder, one line per epoch, the best epoch, test
    accuracy, its calibration and baselines (issue 14's summary) and report lines: no warning, no data summary."""
    firsts = [line.split(" ")[0] for line in stdout.splitlines() if line.strip()]
    assert firsts[:5] == ["Run", "epoch", "epoch", "best", "test"] and firsts[-1] == "Report:", stdout
    assert firsts[5] == "Calibration:" and set(firsts[6:-1]) == {"Baseline"} and len(firsts) == 9, stdout


def test_quiet_image_run_still_warns_on_stderr(tmp_path):
    data = _image_folder(tmp_path / "photos")
    result = invoke("train", "images", data, "--runs-dir", tmp_path / "runs", "--name", "r", "--model", "smallcnn",
                    *COMMON)
    _summary_only(result.stdout)
    assert f"warning: 1 file(s) skipped (1 truncated or corrupt); see {tmp_path / 'runs' / 'r' / 'skipped.csv'}" \
        in result.stderr
    assert "warning: empty classes (no usable image; left out): empty" in result.stderr
    assert "'rare' (1)" in result.stderr and "too few for one in each split" in result.stderr


def test_quiet_text_run_still_warns_on_stderr(tmp_path):
    data = _text_table(tmp_path / "reviews.csv")
    result = invoke("train", "text", data, "--runs-dir", tmp_path / "runs", "--model", "lstm", "--embed-dim", "8", "--hidden-size", "8",
                    "--min-freq", "1", *COMMON)
    _summary_only(result.stdout)
    assert "warning: labels 'Pos' (3 rows) and 'pos' (12 rows) differ only in case" in result.stderr
    assert "warning: 2 records skipped (1 empty text, 1 missing label); see skipped.csv" in result.stderr
    assert "'rare' (1)" in result.stderr


@pytest.mark.parametrize("task", ["images", "text"])
def test_resume_with_more_epochs_extends_a_finished_run(tmp_path, task):
    if task == "images":
        data, extra = _image_folder(tmp_path / "photos"), ["--model", "smallcnn"]
    else:
        data, extra = _text_table(tmp_path / "reviews.csv"), ["--model", "lstm", "--embed-dim", "8", "--hidden-size", "8", "--min-freq", "1"]
    invoke("train", task, data, "--runs-dir", tmp_path / "runs", "--name", "r", *extra, *COMMON)
    run = tmp_path / "runs" / "r"
    assert len(read_csv_rows(run / "metrics.csv")) == 2
    result = invoke("train", task, "--resume", run, "--epochs", "3", "--lr", "0.5")
    assert [r["epoch"] for r in read_csv_rows(run / "metrics.csv")] == ["1", "2", "3"]
    assert "extending 2 → 3 epochs: a new one-cycle cycle over epochs 3–3 at peak lr" in result.stdout
    assert "note: --lr is ignored with --resume" in result.stderr  # only --epochs is taken
    assert read_json(run / "config.json")["config"]["epochs"] == 3
    assert read_json(run / "config.json")["config"]["lr"] != 0.5
    assert (run / "eval.json").is_file() and (run / "report.html").is_file()


def test_resume_with_fewer_epochs_than_run_is_refused(tmp_path):
    data = _text_table(tmp_path / "reviews.csv")
    invoke("train", "text", data, "--runs-dir", tmp_path / "runs", "--name", "r", "--model", "lstm", "--embed-dim", "8", "--hidden-size", "8",
           "--min-freq", "1", *COMMON)
    run = tmp_path / "runs" / "r"
    result = CliRunner().invoke(app, ["train", "text", "--resume", str(run), "--epochs", "1"])
    assert str(result.exception) == (f"--epochs 1: {run} has already trained 2 epochs; give --epochs 3 or more to train "
                                     "further, or evaluate the run as it is.")
    assert read_json(run / "config.json")["config"]["epochs"] == 2  # nothing changed
