"""Each diagnosis rule on the figures of issue 14 (it fires) and on a healthy run (it does not)."""

import numpy as np
import pytest

from classifykit.analysis.baselines import baseline_report
from classifykit.analysis.diagnosis import (
    Finding,
    at_chance,
    class_imbalance,
    diagnose,
    loses_to_baseline,
    near_duplicates,
    over_fitting,
    rare_classes,
    small_test_set,
    truncated_texts,
    under_training,
)


def _comparison(model_right, baseline_right, n):
    """A baseline_report block for n items of 2 balanced classes with the given correct counts."""
    targets = np.array([0, 1] * (n // 2))
    model = np.where(np.arange(n) < model_right, targets, 1 - targets)
    baseline = np.where(np.arange(n)[::-1] < baseline_right, targets, 1 - targets)
    return baseline_report(model, "n-gram", baseline, targets, 2)


def test_at_chance_issue_14_figures():
    f = at_chance(160, 300, 0.5)  # 53.3% on a balanced 2-class set of 300
    assert f.severity == "error" and f.code == "at_chance" and "53.3%" in f.detail and "p = 0.136" in f.detail
    assert at_chance(180, 300, 0.5) is None  # 60%: p = 0.0003
    # 68.0% looks fine but always answering the largest class gives 57.5%: 272 of 400 is above that
    assert at_chance(272, 400, 0.575) is None
    assert at_chance(235, 400, 0.575) is not None  # 58.8% vs 57.5%
    assert at_chance(0, 0, 0.5) is None


def test_loses_to_or_ties_with_baseline():
    worse = loses_to_baseline(_comparison(160, 257, 300))  # 53.3% vs 85.7%
    assert worse.severity == "error" and worse.code == "loses_to_baseline" and "85.7%" in worse.detail
    tie = loses_to_baseline(_comparison(236, 235, 300))
    assert tie.severity == "warning" and tie.code == "ties_with_baseline"
    assert loses_to_baseline(_comparison(290, 160, 300)) is None


def test_rare_classes_names_them():
    per_class = [
        {"class": "ok", "recall": 0.9, "support": 200, "precision": 0.6, "f1": 0.7},
        {"class": "crack", "recall": 0.0, "support": 30, "precision": 0.0, "f1": 0.0},
        {"class": "dent", "recall": 0.0, "support": 15, "precision": 0.0, "f1": 0.0},
        {"class": "scratch", "recall": 0.5, "support": 40, "precision": 0.5, "f1": 0.5},
    ]
    f = rare_classes(per_class)
    assert f.severity == "error" and f.title.startswith("2 of 4 classes never")
    assert "crack" in f.detail and "dent" in f.detail and "scratch" not in f.detail
    rare = rare_classes([{"class": "a", "recall": 0.05, "support": 20}, {"class": "b", "recall": 1.0, "support": 5}])
    assert rare.severity == "warning" and "rarely" in rare.title
    assert rare_classes([{"class": "a", "recall": 0.0, "support": 0}, {"class": "b", "recall": 0.3, "support": 9}]) is None


def test_class_imbalance():
    f = class_imbalance({"T-shirt_top": 1500, "Shirt": 300, "Pullover": 100, "Coat": 700})
    assert f.code == "class_imbalance" and "15.0:1" in f.title and "Pullover 100" in f.detail
    assert class_imbalance({"a": 100, "b": 34}) is None       # 2.9:1
    assert class_imbalance({"a": 100, "b": 33}) is not None   # 3.03:1
    assert class_imbalance({"a": 100, "b": 0}) is None


def test_truncated_texts():
    f = truncated_texts(886, 900, 256)  # issue 12: 886 of 900 reviews cut at 256 tokens (98%)
    assert f.severity == "error" and "98.4%" in f.title and "--max-length 256" in f.detail
    assert truncated_texts(100, 900, 256).severity == "warning"   # 11%
    assert truncated_texts(90, 900, 256) is None                  # exactly 10%
    assert truncated_texts(0, 0, 256) is None


def test_under_training():
    rising = under_training([0.55, 0.62], epochs_configured=2, stopped_early=False)  # a 2-epoch run
    assert rising.code == "under_training" and "still rising" in rising.detail
    cut = under_training([0.5, 0.6, 0.65, 0.66, 0.66, 0.66], epochs_configured=20, stopped_early=True)
    assert "before its learning-rate anneal" in cut.detail
    interrupted = under_training([0.5, 0.6, 0.61, 0.61], epochs_configured=30, stopped_early=False)
    assert "epoch 4 of 30 (interrupted)" in interrupted.detail
    converged = [0.5, 0.7, 0.8, 0.85, 0.87, 0.88, 0.885, 0.887, 0.888, 0.889]
    assert under_training(converged, epochs_configured=10, stopped_early=False) is None
    # early stopping with a schedule it cannot cut short is not under-training
    assert under_training([0.5, 0.6, 0.65, 0.64, 0.64], 20, True, schedule="constant") is None
    assert under_training([], 10, False) is None


def test_over_fitting_issue_14_figures():
    f = over_fitting([0.40, 0.67, 0.80], [0.45, 0.52, 0.50])  # best val epoch 2: train 67% vs val 52%
    assert f.code == "over_fitting" and "train 67.0% vs val 52.0%" in f.title and "epoch (2)" in f.detail
    assert over_fitting([0.60, 0.70], [0.58, 0.66]) is None
    assert over_fitting([0.9, 0.99], [0.8, 0.7], best_epoch=1) is None  # the best epoch's gap is 10 points


def test_small_test_set():
    f = small_test_set(0.80, [0.75, 0.85], 250, difference=0.02)
    assert f.code == "small_test_set" and "±5.0 points" in f.detail and "1537 test items" in f.fix
    assert small_test_set(0.80, [0.78, 0.82], 1600, difference=0.05) is None
    assert small_test_set(0.80, [0.75, 0.85], 250, difference=-0.02) is None  # no claim of being better


def test_near_duplicates_lists_pairs():
    pairs = [(f"test/{i}.png", f"train/{i}.png", 0) for i in range(12)] + [("test/0.png", "train/x.png", 3)]
    f = near_duplicates(pairs, n_test=300, kind="image")
    assert f.title.startswith("12 test images (4.0%)") and "test/0.png = train/0.png" in f.detail
    assert "and 3 more" in f.detail
    assert near_duplicates([], 300) is None


def test_diagnose_runs_every_rule_sorted_by_severity():
    per_class = [{"class": "fresh", "recall": 0.9, "support": 150}, {"class": "rotten", "recall": 0.167, "support": 150}]
    facts = {
        "test": {"n": 300, "correct": 160, "accuracy": 160 / 300, "ci95": [0.483, 0.583], "per_class": per_class},
        "majority": {"accuracy": 0.5},
        "baseline": _comparison(160, 257, 300),
        "train_counts": {"fresh": 450, "rotten": 450},
        "truncation": {"n_truncated": 886, "n_texts": 900, "max_length": 256},
        "history": {"train_metric": [0.55, 0.60, 0.67], "val_metric": [0.50, 0.51, 0.52], "epochs_configured": 3,
                    "stopped_early": False, "schedule": "onecycle"},
        "duplicates": {"pairs": [(3, 10)], "n_test": 300, "kind": "text"},
    }
    found = diagnose(facts)
    assert all(isinstance(f, Finding) for f in found)
    codes = [f.code for f in found]
    assert codes[:3] == ["at_chance", "loses_to_baseline", "truncated_texts"]
    # val 50 -> 52% over the last two epochs is still rising; train 67% vs val 52% over-fits
    assert set(codes[3:]) == {"under_training", "over_fitting", "near_duplicates"}
    assert [f.severity for f in found] == ["error"] * 3 + ["warning"] * 3
    assert found[0].to_dict().keys() == {"severity", "code", "title", "detail", "fix"}
    assert diagnose({}) == []
