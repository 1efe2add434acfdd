"""Temperature scaling, ECE and reliability diagrams (classifykit.analysis.calibration)."""

import numpy as np
import pytest
from scipy.special import softmax

from classifykit.analysis.calibration import (
    apply_temperature,
    calibration_summary,
    expected_calibration_error,
    fit_temperature,
    plot_reliability,
    reliability_diagram,
)
from classifykit.errors import ClassifykitError


def _calibrated(n, k, seed):
    """Logits N×K and targets drawn from softmax(logits): the true probabilities, calibrated by construction."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.5, size=(n, k))
    p = softmax(logits, axis=1)
    targets = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return logits, targets


def test_ece_hand_computed():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    targets = np.array([0, 1, 1])
    # bins of 0.1: 0.9 right -> |1 - 0.9|; 0.6 wrong -> |0 - 0.6|; 0.7 right -> |1 - 0.7|; each 1/3 of items
    assert expected_calibration_error(probs, targets, n_bins=10) == pytest.approx((0.1 + 0.6 + 0.3) / 3)
    d = reliability_diagram(probs, targets, n_bins=10)
    filled = {(round(b["lower"], 1), round(b["upper"], 1)): b for b in d["bins"] if b["count"]}
    assert set(filled) == {(0.5, 0.6), (0.6, 0.7), (0.8, 0.9)}
    assert filled[(0.5, 0.6)]["accuracy"] == 0.0 and filled[(0.6, 0.7)]["confidence"] == pytest.approx(0.7)
    assert sum(b["count"] for b in d["bins"]) == 3 and d["n"] == 3 and d["n_bins"] == 10
    assert all(b["confidence"] is None and b["accuracy"] is None for b in d["bins"] if not b["count"])


def test_calibrated_data_has_ece_near_zero():
    logits, targets = _calibrated(20000, 4, seed=1)
    assert expected_calibration_error(softmax(logits, axis=1), targets) < 0.015
    assert fit_temperature(logits, targets) == pytest.approx(1.0, abs=0.06)


def test_over_confident_model_gets_t_near_4_and_lower_ece():
    val_logits, val_targets = _calibrated(10000, 4, seed=2)
    test_logits, test_targets = _calibrated(10000, 4, seed=3)
    t = fit_temperature(4 * val_logits, val_targets)
    assert t == pytest.approx(4.0, rel=0.08)
    before = expected_calibration_error(apply_temperature(4 * test_logits, 1.0), test_targets)
    after = expected_calibration_error(apply_temperature(4 * test_logits, t), test_targets)
    assert before > 0.1 and after < 0.02
    summary = calibration_summary(4 * val_logits, val_targets, 4 * test_logits, test_targets)
    assert summary["temperature"] == pytest.approx(t)
    assert summary["test_ece_before"] == pytest.approx(before) and summary["test_ece_after"] == pytest.approx(after)
    assert summary["test_nll_after"] < summary["test_nll_before"]
    # scaling never changes the predicted class
    assert (apply_temperature(test_logits, t).argmax(1) == test_logits.argmax(1)).all()


@pytest.mark.parametrize("logits,targets", [
    (np.zeros((0, 3)), np.zeros(0, dtype=int)),        # empty val
    (np.ones((5, 1)), np.zeros(5, dtype=int)),          # one class
    (np.array([[5.0, 0.0], [0.0, 5.0]]), [0, 1]),       # every item right: NLL falls forever as T shrinks
    (np.array([[np.nan, 0.0], [0.0, 1.0]]), [0, 1]),    # non-finite logits
])
def test_fit_temperature_degenerate_val_gives_1(logits, targets):
    assert fit_temperature(logits, targets) == 1.0


def test_fit_temperature_stays_in_bounds():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 3)) * 100  # wildly over-confident, random labels
    t = fit_temperature(logits, rng.integers(0, 3, 200))
    assert 0.05 <= t <= 20.0 and t > 10


def test_errors_name_the_problem():
    with pytest.raises(ClassifykitError, match="empty"):
        expected_calibration_error(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ClassifykitError, match="positive"):
        apply_temperature(np.zeros((1, 2)), 0.0)


def test_plot_reliability_writes_png(tmp_path):
    logits, targets = _calibrated(2000, 3, seed=4)
    before = reliability_diagram(softmax(4 * logits, axis=1), targets)
    after = reliability_diagram(softmax(logits, axis=1), targets)
    path = plot_reliability(before, tmp_path / "reliability.png", after=after)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
