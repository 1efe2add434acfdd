"""The image demo on real Fashion-MNIST (Debian package): scan -> train -> test -> predict held-out files."""

import csv
import json

import pytest

from classifykit.tasks.demo import demo_images


@pytest.mark.integration
def test_small_demo_learns_real_fashion_mnist(tmp_path):
    run = demo_images(per_class=120, out=str(tmp_path / "fm"), runs_dir=str(tmp_path / "runs"), holdout=3,
                      epochs=4, quiet=True, device="cpu")
    report = json.loads((run / "eval.json").read_text())
    assert report["n"] == 300  # 25% of 10 × 120, stratified
    assert report["accuracy"] >= 0.65  # chance is 0.10; 4 short epochs on 720 images
    lo, hi = report["ci95"]
    assert hi - lo > 0.05  # 300 items: the interval is wide, and it says so
    rows = list(csv.DictReader(open(run / "holdout_predictions.csv", encoding="utf-8")))
    assert len(rows) == 30 and all(r["error"] == "" for r in rows)
    classes = json.loads((run / "classes.json").read_text())
    assert {r["label"] for r in rows} <= set(classes)
