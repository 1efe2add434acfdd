"""Majority and logistic-regression baselines, pixel and frozen features, the model-vs-baseline block."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from classifykit.analysis.baselines import (
    baseline_report,
    downscaled_pixels,
    frozen_features,
    linear_baseline,
    majority_baseline,
)
from classifykit.errors import ClassifykitError


def test_majority_baseline_hand_computed():
    r = majority_baseline([0, 0, 0, 1, 2], [0, 1, 1, 2], num_classes=3)
    assert r["predicted_class"] == 0 and r["name"] == "majority class"
    assert r["accuracy"] == 0.25 and r["n"] == 4 and r["correct"] == 1
    assert r["macro_f1"] == pytest.approx((2 * 1 / (1 + 4)) / 3)  # F1 of class 0 = 0.4; classes 1, 2 score 0
    assert r["ci95"][0] < 0.25 < r["ci95"][1]
    with pytest.raises(ClassifykitError, match="train split is empty"):
        majority_baseline([], [0], 2)


def _blobs(n_per_class, counts=None, seed=0, d=8):
    rng = np.random.default_rng(seed)
    counts = counts or [n_per_class] * 3
    centres = rng.normal(0, 3, size=(len(counts), d))
    x = np.concatenate([rng.normal(c, 1.0, size=(n, d)) for c, n in zip(centres, counts)])
    y = np.concatenate([np.full(n, k) for k, n in enumerate(counts)])
    return x * 50 + 1000, y  # far from standardised: the scaler must do its job


def test_linear_baseline_picks_c_on_val_and_returns_predictions():
    (xtr, ytr), (xva, yva), (xte, yte) = _blobs(100, seed=0), _blobs(40, seed=0), _blobs(40, seed=0)
    block, pred = linear_baseline(xtr, ytr, xva, yva, xte, yte, num_classes=3)
    assert pred.shape == (120,) and pred.dtype == np.int64
    assert block["accuracy"] == pytest.approx(float((pred == yte).mean())) and block["accuracy"] > 0.9
    assert block["C"] in (0.001, 0.01, 0.1, 1.0) and block["converged"] and block["select_metric"] == "accuracy"
    assert block["class_weight"] is None and block["features"] == 8 and block["val_score"] > 0.9
    assert block["macro_f1_ci95"][0] <= block["macro_f1"] <= block["macro_f1_ci95"][1]


def test_linear_baseline_balances_imbalanced_classes():
    xtr, ytr = _blobs(0, counts=[300, 60, 20], seed=1)
    xva, yva = _blobs(0, counts=[60, 12, 4], seed=1)
    block, _ = linear_baseline(xtr, ytr, xva, yva, xva, yva, num_classes=3)
    assert block["class_weight"] == "balanced" and block["select_metric"] == "macro_f1"


def test_linear_baseline_without_val_uses_c_1_and_refuses_one_class():
    xtr, ytr = _blobs(30, seed=2)
    block, _ = linear_baseline(xtr, ytr, np.zeros((0, 8)), [], xtr, ytr)
    assert block["C"] == 1.0 and block["val_score"] is None
    with pytest.raises(ClassifykitError, match="two classes"):
        linear_baseline(xtr, np.zeros(len(ytr)), xtr, ytr, xtr, ytr)


def test_downscaled_pixels_from_arrays_and_datasets():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 1, 28, 28), dtype=np.uint8)
    images[0] = 255
    x = downscaled_pixels(images, size=14)
    assert x.shape == (5, 196) and x.dtype == np.float32
    assert np.allclose(x[0], 1.0)
    # area averaging: each output pixel is the mean of a 2×2 block
    assert x[1, 0] == pytest.approx(images[1, 0, :2, :2].mean() / 255, abs=1e-6)
    ds = TensorDataset(torch.from_numpy(images).float() / 255, torch.zeros(5))
    assert np.allclose(downscaled_pixels(ds, size=14), x, atol=1e-6)
    assert downscaled_pixels(np.zeros((2, 3, 20, 20), np.uint8), size=32).shape == (2, 3 * 32 * 32)
    with pytest.raises(ClassifykitError, match="N×C×H×W"):
        downscaled_pixels(np.zeros((2, 28, 28), np.uint8))


def test_frozen_features_pools_batches_and_reports_progress():
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    backbone.train()
    images = torch.rand(10, 1, 8, 8)
    seen = []
    feats, targets = frozen_features(backbone, TensorDataset(images, torch.arange(10)), batch_size=4,
                                     progress=lambda done, total: seen.append((done, total)))
    assert feats.shape == (10, 4) and feats.dtype == np.float32
    assert targets.tolist() == list(range(10))
    assert seen == [(4, 10), (8, 10), (10, 10)]
    assert backbone.training  # mode restored
    backbone.eval()
    with torch.no_grad():
        expected = backbone(images).mean(dim=(2, 3)).numpy()
    assert np.allclose(feats, expected, atol=1e-5)


def test_baseline_report_verdicts():
    targets = np.array([0, 1] * 50)
    model = targets.copy()
    baseline = np.zeros(100, dtype=int)  # right on half
    r = baseline_report(model, "majority class", baseline, targets, num_classes=2)
    assert r["verdict"] == "better" and r["mcnemar"]["b"] == 50 and r["mcnemar"]["c"] == 0
    assert r["accuracy_difference"] == pytest.approx(0.5)
    assert r["model"]["accuracy"] == 1.0 and r["baseline_scores"]["accuracy"] == 0.5
    assert baseline_report(baseline, "m", model, targets, 2)["verdict"] == "worse"
    assert baseline_report(model, "same", model, targets, 2)["verdict"] == "tie"
    with pytest.raises(ClassifykitError, match="same test items"):
        baseline_report(model[:10], "m", baseline, targets, 2)
