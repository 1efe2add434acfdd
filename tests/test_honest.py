"""Every run is measured against baselines on its own split, calibrated on val and diagnosed
(issue 14): baselines.json, duplicates.csv, model.json's temperature and eval.json's blocks."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from classifykit.config import ImageConfig, build_config
from classifykit.io import read_csv_rows, read_json
from classifykit.report.evalblocks import read_blocks
from classifykit.tasks.honest import calibration_block, evaluation_blocks
from classifykit.tasks.pipeline import evaluate, train
from test_text_task import _cfg as text_cfg

CLASSES = ["bright", "dark"]


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """Two separable classes of 30 noisy 20×20 images; 10 of them also saved under a second name,
    so some exact duplicates straddle train and test. Two epochs."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for c, base in zip(CLASSES, (190, 20)):
        (root / c).mkdir()
        for i in range(30):
            a = (base + rng.integers(0, 50, (20, 20))).astype(np.uint8)
            Image.fromarray(a, "L").save(root / c / f"{i:02d}.png")
        for i in range(5):
            shutil.copy(root / c / f"{i:02d}.png", root / c / f"copy{i}.png")
    cfg = build_config(ImageConfig, data=str(root), runs_dir=str(tmp_path_factory.mktemp("runs")), name="r",
                       model="smallcnn", epochs=2, batch_size=16, lr=3e-3, augment="none", num_workers=0,
                       quiet=True, device="cpu", threads=1)
    return train(cfg)


def test_image_run_has_baselines_temperature_and_duplicates(image_run):
    saved = read_json(image_run / "baselines.json")
    names = [b["name"] for b in saved["baselines"]]
    assert names == ["majority class", "logistic regression on 16×16 pixels"]
    test = [r["item"] for r in read_csv_rows(image_run / "split.csv") if r["split"] == "test"]
    for b in saved["baselines"]:
        assert sorted(b["predictions"]) == sorted(test)
    assert saved["train_counts"] == dict(Counter(r["label"] for r in read_csv_rows(image_run / "split.csv")
                                                 if r["split"] == "train"))
    # Every copy pair split across train and test is listed (distance 0), and nothing else at distance 0.
    split = {r["item"]: r["split"] for r in read_csv_rows(image_run / "split.csv")}
    expected = set()
    for c in CLASSES:
        for i in range(5):
            a, b = f"{c}/{i:02d}.png", f"{c}/copy{i}.png"
            if {split[a], split[b]} == {"train", "test"}:
                expected.add((a, b) if split[a] == "test" else (b, a))
    rows = read_csv_rows(image_run / "duplicates.csv")
    assert expected and expected <= {(r["test"], r["train"]) for r in rows if r["distance"] == "0"}
    meta = read_json(image_run / "model.json")
    assert meta["temperature"] == pytest.approx(saved["temperature"]) and meta["temperature"] > 0


def test_eval_json_shows_the_model_beside_the_baselines(image_run):
    ev = read_json(image_run / "eval.json")
    blocks = read_blocks(ev)  # the report's reader accepts every block
    assert [b.name for b in blocks.baselines] == ["majority class", "logistic regression on 16×16 pixels"]
    majority = ev["baselines"][0]
    assert majority["accuracy"] == pytest.approx(max(Counter(r["label"] for r in read_csv_rows(image_run / "split.csv")
                                                             if r["split"] == "test").values()) / ev["n"], abs=0.1)
    for b in ev["baselines"]:
        t = b["paired_test"]
        right = sum(int(r["correct"]) for r in read_csv_rows(image_run / "test_predictions.csv"))
        assert right - t["model_only"] + t["baseline_only"] == round(b["accuracy"] * ev["n"])
        assert t["method"].startswith("McNemar exact") and 0 <= t["p_value"] <= 1
    lo, hi = ev["macro_f1_ci95"]
    assert lo <= ev["macro_f1"] <= hi
    cal = ev["calibration"]
    assert cal["temperature"] == pytest.approx(read_json(image_run / "model.json")["temperature"])
    assert sum(cal["reliability_after"]["count"]) == ev["n"]
    codes = {f["code"] for f in ev["findings"]}
    assert "near_duplicates" in codes
    dup = next(f for f in ev["findings"] if f["code"] == "near_duplicates")
    assert len(dup["items"]) == len(read_csv_rows(image_run / "duplicates.csv"))


def test_evaluate_reattaches_the_saved_baselines_without_refitting(image_run):
    before = read_json(image_run / "eval.json")
    stamp = (image_run / "baselines.json").stat().st_mtime_ns
    report, _ = evaluate(image_run, device="cpu", threads=1)
    assert (image_run / "baselines.json").stat().st_mtime_ns == stamp
    assert report["baselines"] == before["baselines"]
    assert [f["code"] for f in report["findings"]] == [f["code"] for f in before["findings"]]


def test_evaluate_data_says_baselines_are_not_recomputed(image_run):
    report, _ = evaluate(image_run, str(read_json(image_run / "config.json")["config"]["data"]), device="cpu",
                           threads=1)
    assert "baselines" not in report and "not recomputed" in report["baselines_note"]
    assert "calibration" in report


def test_text_run_has_the_ngram_baseline_truncation_and_duplicates(tmp_path):
    run = train(text_cfg(tmp_path, epochs=1))
    saved = read_json(run / "baselines.json")
    assert [b["name"] for b in saved["baselines"]] == ["majority class", "n-gram logistic regression"]
    assert saved["truncation"]["max_length"] == 6 and saved["truncation"]["n_truncated"] > 0
    # The short texts of the table repeat: every test text equal to a train text is listed.
    text = {r["row"]: r["text"] for r in read_csv_rows(run / "manifest.csv")}
    split = read_csv_rows(run / "split.csv")
    train_texts = {text[r["item"]].lower() for r in split if r["split"] == "train"}
    dup_tests = {r["test"] for r in read_csv_rows(run / "duplicates.csv")}
    assert dup_tests == {r["item"] for r in split if r["split"] == "test" and text[r["item"]].lower() in train_texts}
    ev = read_json(run / "eval.json")
    assert {"near_duplicates", "truncated_texts"} <= {f["code"] for f in ev["findings"]}


def test_calibration_block_measures_before_and_after_the_temperature():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 2000)
    logits = rng.normal(0, 1, (2000, 3))
    logits[np.arange(2000), y] += 1.0
    over = logits * 4  # over-confident: the right temperature is about 4
    block = calibration_block(over, y, 4.0)
    assert block["ece_after"] < block["ece_before"] / 2
    assert block["ece_after"] == pytest.approx(calibration_block(logits, y, 1.0)["ece_before"])


def test_at_chance_model_is_flagged_against_the_majority(tmp_path):
    """A model that always answers one class on a balanced split: at chance, rare classes (errors)."""
    from classifykit.io import write_csv, write_json

    run = tmp_path / "run"
    run.mkdir()
    n = 100
    y = np.arange(n) % 2
    items = [str(i) for i in range(n)]
    write_json(run / "baselines.json", {"baselines": [{"name": "majority class", "seconds": 0.0,
                                                       "predictions": dict.fromkeys(items, 0)}],
                                        "train_counts": {"a": 50, "b": 50}, "truncation": None})
    write_csv(run / "duplicates.csv", ["test", "train", "distance"], [])
    logits = torch.zeros(n, 2)
    logits[:, 0] = 1.0
    report = {"n": n, "correct": 50, "accuracy": 0.5, "ci95": [0.4, 0.6],
              "per_class": [{"class": "a", "recall": 1.0, "support": 50}, {"class": "b", "recall": 0.0, "support": 50}]}
    out = evaluation_blocks(run, report, items, logits, torch.as_tensor(y), 1.0, True)
    codes = [(f["severity"], f["code"]) for f in out["findings"]]
    assert ("error", "at_chance") in codes and ("error", "rare_classes") in codes
    assert "near_duplicates" not in {c for _, c in codes}


def test_an_ngram_run_is_not_judged_against_its_own_refit(tmp_path):
    """Found by a new-user try: `train text --model ngram` warned 'The model is no better than the
    n-gram logistic regression baseline' — itself refitted. It is listed, with its note, but not judged."""
    run = train(text_cfg(tmp_path, model="ngram", max_length=None))
    ev = read_json(run / "eval.json")
    ngram = [b for b in ev["baselines"] if b["name"] == "n-gram logistic regression"]
    assert len(ngram) == 1 and "same model" in ngram[0]["note"]
    assert not {"loses_to_baseline", "ties_with_baseline"} & {f["code"] for f in ev.get("findings", [])}
