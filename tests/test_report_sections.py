"""The report's optional parts (eval.json's baselines, findings, calibration, candidates) from
hand-written eval.json blocks, and escaping of the user's strings everywhere they appear."""

from __future__ import annotations

import base64
import json
import re

import pytest
from PIL import Image

from classifykit.errors import ClassifykitError
from classifykit.report import write_report
from classifykit.report.evalblocks import PairedTest, read_blocks
from classifykit.report.figures import RELIABILITY
from test_report_runfolder import make_image_run

NASTY = "<script>x&y"  # opens a script element and starts an entity if not escaped
ESCAPED = "&lt;script&gt;x&amp;y"

BASELINES = [
    {"name": "majority class", "accuracy": 1 / 3, "ci95": [0.121, 0.646], "macro_f1": 0.1667, "seconds": 0.002,
     "paired_test": {"method": "McNemar exact", "model_only": 4, "baseline_only": 1, "p_value": 0.375}},
    {"name": "fast baseline", "accuracy": 0.5, "ci95": [0.2, 0.8], "macro_f1": 0.45, "macro_f1_ci95": [0.2, 0.7],
     "seconds": 9.1,
     "paired_test": {"method": "McNemar exact", "model_only": 30, "baseline_only": 4, "p_value": 0.00002}},
    {"name": "no test", "accuracy": 0.4, "ci95": [0.1, 0.7], "macro_f1": 0.3},
]
FINDINGS = [
    {"severity": "info", "title": "Class imbalance", "detail": "The largest class has 3× the smallest."},
    {"severity": "warning", "title": "Near-duplicates across train and test",
     "detail": "2 test images are near-copies of train images.", "fix": "Remove them from train.",
     "items": ["cat/3.png ~ cat/0.png", "dog/4.png ~ dog/1.png"]},
    {"severity": "warning", "title": "Exploding gradients", "detail": "From eval.json.", "fix": "Lower --lr."},
]
CALIBRATION = {"method": "temperature scaling", "temperature": 1.84, "fitted_on": "val", "n_bins": 15,
               "ece_before": 0.0813, "ece_after": 0.0192,
               "reliability_before": {"confidence": [0.55, 0.75, 0.95], "accuracy": [0.5, 0.6, 0.7],
                                      "count": [2, 3, 4]},
               "reliability_after": {"confidence": [0.5, 0.62, 0.71], "accuracy": [0.5, 0.6, 0.7],
                                     "count": [2, 3, 4]}}
CANDIDATES = [
    {"name": "ngram-linear", "val_accuracy": 0.71, "val_macro_f1": 0.70, "test_accuracy": 0.69,
     "test_macro_f1": 0.68, "seconds": 9.1},
    {"name": "lstm", "val_accuracy": 0.75, "val_macro_f1": 0.74, "test_accuracy": 0.667, "test_macro_f1": 0.667,
     "seconds": 600.0, "chosen": True},
    {"name": "minilm-probe", "val_accuracy": 0.73, "seconds": 40.0},
]


def _with_blocks(tmp_path, **blocks):
    run = make_image_run(tmp_path)
    ev = json.loads((run / "eval.json").read_text())
    ev.update(blocks)
    (run / "eval.json").write_text(json.dumps(ev))
    return run, write_report(run).read_text(encoding="utf-8")


def _nav(html: str) -> list[str]:
    return re.findall(r'<a href="#([a-z]+)">', re.search(r"<nav>(.*?)</nav>", html).group(1))


def test_without_blocks_no_new_section_appears(tmp_path):
    run, html = _with_blocks(tmp_path)
    assert _nav(html) == ["diagnosis", "training", "gradients", "results", "mistakes", "data", "config"]
    assert 'class="compare"' not in html and 'id="calibration"' not in html and 'id="candidates"' not in html
    assert not (run / RELIABILITY).exists()


def test_headline_shows_the_model_beside_its_baselines(tmp_path):
    _, html = _with_blocks(tmp_path, baselines=BASELINES, macro_f1_ci95=[0.41, 0.89])
    block = re.search(r'<div class="compare" id="baselines">(.*?)</div>', html, re.S).group(1)
    rows = [re.findall(r"<td[^>]*>([^<]*)</td>", r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", block)[1:]]
    assert rows == [
        ["resnet18-small (this run)", "66.7%", "35.4–87.9%", "0.667", "0.410–0.890", "12 s"],
        ["majority class", "33.3%", "12.1–64.6%", "0.167", "–", "0 s"],
        ["fast baseline", "50.0%", "20.0–80.0%", "0.450", "0.200–0.700", "9 s"],
        ["no test", "40.0%", "10.0–70.0%", "0.300", "–", "–"],
    ]
    assert re.search(r'<tr class="model"><td>resnet18-small', block)
    lines = re.findall(r'<p class="paired (\w+)">(.*?)</p>', block)
    assert lines == [
        ("same", "Against majority class (McNemar exact, p = 0.38): the model is right on 4 items majority class "
               "gets wrong, and wrong on 1 it gets right — no clear difference at the 5% level."),
        ("better", "Against fast baseline (McNemar exact, p &lt; 0.001): the model is right on 30 items fast "
                   "baseline gets wrong, and wrong on 4 it gets right — significantly better."),
    ]


def test_paired_test_verdict():
    assert PairedTest("McNemar exact", 3, 20, 0.001).verdict == "worse"
    assert PairedTest("McNemar exact", 20, 3, 0.001).verdict == "better"
    assert PairedTest("McNemar exact", 20, 3, 0.05).verdict == "no clear difference"  # not below 5%


def test_diagnosis_shows_findings_with_fix_and_items(tmp_path):
    _, html = _with_blocks(tmp_path, findings=FINDINGS)
    section = re.search(r'<section id="diagnosis">(.*?)</section>', html, re.S).group(1)
    titles = re.findall(r'<div class="finding (\w+)"><b>([^<]*)</b>', section)
    # eval.json's warnings first, in file order; its "Exploding gradients" replaces the training one
    assert titles == [("warning", "Near-duplicates across train and test"), ("warning", "Exploding gradients"),
                      ("info", "Class imbalance"), ("ok", "Gradient clipping")]
    assert "<b>Exploding gradients</b>From eval.json.<div class=\"fix\">Fix: Lower --lr.</div>" in section
    assert "jumped to 100" not in section
    assert ('<details><summary>2 listed</summary><ul><li>cat/3.png ~ cat/0.png</li><li>dog/4.png ~ dog/1.png</li>'
            '</ul></details>') in section


def test_error_findings_come_first_and_are_named_in_the_header(tmp_path):
    error = {"severity": "error", "title": "The model is at chance", "detail": "53.3% (160 of 300).",
             "fix": "Check the labels."}
    _, html = _with_blocks(tmp_path, findings=[*FINDINGS, error])
    section = re.search(r'<section id="diagnosis">(.*?)</section>', html, re.S).group(1)
    titles = re.findall(r'<div class="finding (\w+)"><b>([^<]*)</b>', section)
    assert titles[0] == ("error", "The model is at chance")
    header = re.search(r"<header>(.*?)</header>", html, re.S).group(1)
    assert 'id="errors">Do not trust this result yet: The model is at chance' in header
    _, clean = _with_blocks(tmp_path / "clean", findings=FINDINGS)
    assert 'id="errors"' not in clean


def test_calibration_section_and_reliability_diagram(tmp_path):
    run, html = _with_blocks(tmp_path, calibration=CALIBRATION)
    assert _nav(html) == ["diagnosis", "training", "gradients", "results", "calibration", "mistakes", "data",
                          "config"]
    section = re.search(r'<section id="calibration">(.*?)</section>', html, re.S).group(1)
    assert '<b id="ece-before">8.1%</b> with the raw softmax, <b id="ece-after">1.9%</b> after temperature ' \
           'scaling (temperature 1.84, fitted on val)' in section
    assert "15 equal-width confidence bins) on the test split" in section
    png = (run / RELIABILITY).read_bytes()
    embedded = re.search(r'<img src="data:image/png;base64,([^"]+)" alt="Reliability diagram', section).group(1)
    assert base64.b64decode(embedded) == png
    assert Image.open(run / RELIABILITY).size[0] > 300


def test_calibration_without_bins_has_no_diagram(tmp_path):
    cal = {k: v for k, v in CALIBRATION.items() if not k.startswith("reliability")}
    run, html = _with_blocks(tmp_path, calibration=cal)
    assert 'id="ece-after">1.9%<' in html and "Reliability diagram" not in html
    assert not (run / RELIABILITY).exists()


def test_candidates_table(tmp_path):
    _, html = _with_blocks(tmp_path, candidates=CANDIDATES)
    assert _nav(html)[-4:] == ["candidates", "mistakes", "data", "config"]
    section = re.search(r'<section id="candidates">(.*?)</section>', html, re.S).group(1)
    rows = re.findall(r"<tr( class=\"best\")?>(.*?)</tr>", section)[1:]
    cells = [(bool(best), re.findall(r"<td[^>]*>([^<]*)</td>", r)) for best, r in rows]
    assert cells == [(False, ["ngram-linear", "71.0%", "0.700", "69.0%", "0.680", "9 s"]),
                     (True, ["lstm", "75.0%", "0.740", "66.7%", "0.667", "10.0 min"]),
                     (False, ["minilm-probe", "73.0%", "–", "–", "–", "40 s"])]
    assert "Test scores are shown for reference only" in section


@pytest.mark.parametrize("blocks, where", [
    ({"baselines": [{**BASELINES[0], "accuracy": "high"}]}, "baselines[0].accuracy is 'high', expected a finite number"),
    ({"baselines": [{**BASELINES[1], "paired_test": {"method": "McNemar", "model_only": -1, "baseline_only": 2,
                                                     "p_value": 0.5}}]}, "baselines[0].paired_test.model_only"),
    ({"findings": [{**FINDINGS[0], "severity": "fatal"}]}, "findings[0].severity is 'fatal'"),
    ({"calibration": {**CALIBRATION, "reliability_after": {"confidence": [0.5], "accuracy": [], "count": []}}},
     "calibration.reliability_after."),
    ({"calibration": {**CALIBRATION, "reliability_after": {"confidence": [0.5], "accuracy": [None], "count": [1]}}},
     r"calibration.reliability_after.accuracy\[0\] is None"),
    ({"candidates": {"name": "lstm"}}, "candidates is"),
])
def test_malformed_block_names_the_key(blocks, where):
    with pytest.raises(ClassifykitError, match=re.escape(where) if "\\" not in where else where) as e:
        read_blocks({"accuracy": 0.5, **blocks})
    assert "eval.json" in str(e.value)


def test_user_strings_with_script_and_ampersand_are_escaped_everywhere(tmp_path):
    """Class name, file names and every string of the eval.json blocks hold `<script>` and `&`."""
    run = make_image_run(tmp_path, evil=NASTY, skipped_file=f"cat/{NASTY}.png")
    ev = json.loads((run / "eval.json").read_text())
    ev.update(baselines=[{**BASELINES[1], "name": NASTY, "paired_test": {**BASELINES[1]["paired_test"],
                                                                         "method": NASTY}}],
              findings=[{"severity": "warning", "title": NASTY, "detail": NASTY, "fix": NASTY, "items": [NASTY]}],
              calibration={**CALIBRATION, "method": NASTY, "fitted_on": NASTY},
              candidates=[{"name": NASTY, "val_accuracy": 0.5, "chosen": True}])
    (run / "eval.json").write_text(json.dumps(ev))
    saved = json.loads((run / "config.json").read_text())
    saved["config"]["note"] = NASTY
    saved["versions"][NASTY] = NASTY
    (run / "config.json").write_text(json.dumps(saved))
    html = write_report(run).read_text(encoding="utf-8")
    assert NASTY not in html and "x&y" not in html
    assert html.count("<script") == 1  # the report's own image-count script only
    contexts = {
        "per-class and class-count tables": f"<td>{ESCAPED}</td>",
        "gallery true label": f'<div class="t">true: {ESCAPED}</div>',
        "gallery prediction": f'<div class="p">pred: {ESCAPED} (90.0%)</div>',
        "gallery file name": f'alt="{ESCAPED}/3.png"',
        "gallery caption": f'<div class="f">{ESCAPED}/3.png</div>',
        "skipped file": f"<td>cat/{ESCAPED}.png</td>",
        "baseline row": f"<tr><td>{ESCAPED}</td>",
        "paired test": f"Against {ESCAPED} ({ESCAPED}, p &lt; 0.001)",
        "finding": f"<b>{ESCAPED}</b>{ESCAPED}<div class=\"fix\">Fix: {ESCAPED}</div>",
        "finding items": f"<li>{ESCAPED}</li>",
        "calibration": f"after {ESCAPED} (temperature 1.84, fitted on {ESCAPED})",
        "candidate": f'<tr class="best"><td>{ESCAPED}</td>',
        "config value": f"<td><code>note</code></td><td>{ESCAPED}</td>",
        "library versions": f"<tr><td>{ESCAPED}</td><td>{ESCAPED}</td></tr>",
    }
    missing = [where for where, text in contexts.items() if text not in html]
    assert missing == []
    assert html.count(f"<td>{ESCAPED}</td>") >= 4  # per-class, class counts, baseline, candidate
