"""report.write_report on synthetic run folders: sections, key numbers, embedded figures, escaping."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import classifykit.cli.report  # noqa: F401  (registers the command on the app)
from classifykit.cli.app import app
from classifykit.errors import ClassifykitError
from classifykit.report import plots, write_report
from classifykit.report.figures import CLASS_COUNTS, CONFUSION, GRAD_NORM, LEARNING_CURVES, LEARNING_RATE, PER_CLASS
from classifykit.report.sections import duration
from test_report_runfolder import EVIL, PIXEL, SPIKE_STEP, make_image_run, make_text_run

FIGURES = [LEARNING_CURVES, LEARNING_RATE, GRAD_NORM, CONFUSION, PER_CLASS, CLASS_COUNTS]


@pytest.fixture(scope="module")
def image_report(tmp_path_factory):
    run = make_image_run(tmp_path_factory.mktemp("img"))
    path = write_report(run)
    return run, path.read_text(encoding="utf-8")


def _data_uris(html: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_writes_html_and_every_figure(image_report):
    run, html = image_report
    assert (run / "report.html").is_file()
    embedded = _data_uris(html)
    for name in FIGURES:
        png = (run / name).read_bytes()
        assert png.startswith(b"\x89PNG") and png in embedded, name
    assert len(embedded) == len(FIGURES) + 3  # + three gallery thumbnails


def test_self_contained(image_report):
    _, html = image_report
    srcs = re.findall(r'\bsrc="([^"]*)"', html)
    hrefs = re.findall(r'\bhref="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert hrefs and all(h.startswith("#") for h in hrefs)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html


def test_user_strings_are_escaped(image_report):
    _, html = image_report
    assert "alert(1)" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html
    assert html.count("<script") == 1  # only the report's own image-count script
    assert "cat/broken&lt;1&gt;.png" in html  # skipped file name


def test_key_numbers(image_report):
    run, html = image_report
    ev = json.loads((run / "eval.json").read_text())
    lo, hi = ev["ci95"]
    assert '<div class="v" id="test-accuracy">66.7%</div>' in html
    assert f"95% CI {100 * lo:.1f}%–{100 * hi:.1f}% · n = 9" in html
    assert f"needs about <b>{ev['n_for_pm2']:,}</b> test items" in html and ev["n_for_pm2"] == 2135
    assert f"6 of 9 correct), 95% confidence interval {100 * lo:.1f}%–{100 * hi:.1f}% (Wilson score" in html
    assert "top-1 66.7%" in html and "top-5" not in html  # 3 classes: top-5 is always 100%


def test_duration_units():
    assert [duration(s) for s in (12.4, 89, 600, 5400, 9000)] == ["12 s", "89 s", "10.0 min", "1.5 h", "2.5 h"]


def test_best_epoch_row_and_diagnosis(image_report):
    _, html = image_report
    assert re.search(r'<tr class="best"><td class="n">3</td>', html)
    assert f"jumped to 100 at step {SPIKE_STEP}" in html
    assert "Clipping at 1 acted on 2.5% of steps" in html  # 1 of 40 steps had norm > 1


def test_gallery_most_confident_first_with_real_pixels(image_report):
    _, html = image_report
    thumbs = [base64.b64decode(b) for b in re.findall(r'<div class="tile"><img src="data:image/png;base64,([^"]+)"', html)]
    assert len(thumbs) == 3
    first = Image.open(io.BytesIO(thumbs[0]))
    assert first.size == (112, 112)  # 8×8 enlarged 14× with nearest neighbour
    assert set(np.asarray(first).ravel().tolist()) == {PIXEL[EVIL]}
    order = re.findall(r'<div class="p">pred: ([^<]*)</div>', html)
    assert order == ["dog (97.0%)", "&lt;script&gt;alert(1) (90.0%)", "cat (55.0%)"]


def test_text_run_shows_escaped_texts(tmp_path):
    html = write_report(make_text_run(tmp_path)).read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; rotten" in html  # Jinja2 (MarkupSafe) writes " as &#34;
    assert html.count("<script") == 1
    rows = re.findall(r'<div class="meta">row (\d+) ', html)
    assert rows == ["6", "8"]  # probability 0.91 before 0.66
    assert "Clipping was off" in html


def test_missing_evaluation_is_reported(tmp_path):
    run = make_image_run(tmp_path)
    for name in ("eval.json", "confusion.csv", "test_predictions.csv", "steps.csv"):
        (run / name).unlink()
    html = write_report(run).read_text(encoding="utf-8")
    assert "not evaluated yet" in html
    assert "No <code>eval.json</code> in this run folder yet — run classifykit evaluate" in html
    assert "No <code>test_predictions.csv</code>" in html and "No <code>steps.csv</code>" in html
    assert 'alt="Training and validation loss and accuracy per epoch"' in html  # metrics.csv is still there


def test_header_only_logs_say_no_rows_yet(tmp_path):
    run = make_image_run(tmp_path)
    (run / "metrics.csv").write_text((run / "metrics.csv").read_text().splitlines()[0] + "\n")
    (run / "steps.csv").write_text((run / "steps.csv").read_text().splitlines()[0] + "\n")
    html = write_report(run).read_text(encoding="utf-8")
    assert "<code>metrics.csv</code> has no rows yet — it is written by classifykit train after each epoch" in html
    assert "<code>steps.csv</code> has no rows yet" in html
    assert "66.7%" in html  # the evaluation is still shown


def test_missing_image_becomes_a_note(tmp_path):
    run = make_image_run(tmp_path)
    (tmp_path / "data" / "dog" / "5.png").unlink()
    html = write_report(run).read_text(encoding="utf-8")
    assert "cannot open " in html and "dog/5.png" in html
    assert len(_data_uris(html)) == len(FIGURES) + 2


def test_dollar_class_names_are_drawn_literally(tmp_path):
    classes = [r"$\frac{$", "plain"]  # invalid mathtext: would raise if parsed as math
    path = plots.confusion(tmp_path / "c.png", classes, np.array([[3, 1], [0, 4]]))
    assert Image.open(path).size[0] > 0


def test_confusion_layout_follows_class_count(tmp_path):
    few = Image.open(plots.confusion(tmp_path / "few.png", ["a", "b"], np.array([[3, 1], [0, 4]])))
    many = Image.open(plots.confusion(tmp_path / "many.png", [f"c{i}" for i in range(25)], np.eye(25, dtype=int)))
    assert few.width > few.height  # counts and row-normalised side by side
    assert many.height > many.width  # stacked, so each matrix keeps the full width


def test_cli_report(tmp_path):
    run = make_text_run(tmp_path)
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert f"report: {run / 'report.html'}" in result.output
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert isinstance(result.exception, ClassifykitError) and "no such folder" in str(result.exception)


def test_interrupted_run_report_says_where_training_stopped(tmp_path):
    run = make_image_run(tmp_path)
    saved = json.loads((run / "config.json").read_text())
    saved["config"].update(epochs=30, patience=5)
    (run / "config.json").write_text(json.dumps(saved))
    html = write_report(run).read_text(encoding="utf-8")
    assert "epoch 3 of 4; training stopped at epoch 4 of 30 (interrupted)" in html  # header: best val accuracy
    assert "<b>Training interrupted</b>Training stopped at epoch 4 of 30 (interrupted)" in html


def test_image_run_without_clipping_is_not_told_recurrent_advice(tmp_path):
    run = make_image_run(tmp_path)
    saved = json.loads((run / "config.json").read_text())
    saved["config"]["clip_grad_norm"] = None
    (run / "config.json").write_text(json.dumps(saved))
    html = write_report(run).read_text(encoding="utf-8")
    assert "Clipping was off (the default for image models)." in html and "Recurrent models" not in html
