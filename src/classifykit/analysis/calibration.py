"""Calibrated probabilities: temperature scaling, expected calibration error and reliability diagrams.

Source: Guo, Pleiss, Sun & Weinberger (2017), "On Calibration of Modern Neural Networks" (ICML).
Temperature scaling divides every logit by one scalar ``T > 0`` fitted on the validation split by
minimising the negative log-likelihood; the argmax, and so the accuracy, is unchanged. The expected
calibration error (ECE, their eq. 3) sorts the predictions into ``M`` equal-width confidence bins
``((m-1)/M, m/M]`` and sums ``|acc(B_m) - conf(B_m)| · |B_m| / n``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from classifykit.errors import ClassifykitError
from classifykit.report.plots import ACCENT, BAD, _figure  # the report's figure style and atomic PNG write

T_MIN, T_MAX = 0.05, 20.0
N_BINS = 15  # Guo et al. use 15 bins throughout


def _logits_targets(logits, targets) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(targets, dtype=np.int64).reshape(-1)
    if z.ndim != 2 or z.shape[0] != y.shape[0]:
        raise ClassifykitError(f"Logits of shape {z.shape} do not match {y.shape[0]} targets: expected N×K and N.")
    return z, y


def nll(logits, targets, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood (nats) of ``targets`` ``N`` under ``softmax(logits / temperature)``, ``N×K``."""
    z, y = _logits_targets(logits, targets)
    if y.size == 0:
        return float("nan")
    return float(-log_softmax(z / temperature, axis=1)[np.arange(y.size), y].mean())


def fit_temperature(logits, targets) -> float:
    """The temperature ``T`` in ``[0.05, 20]`` minimising the validation NLL of ``softmax(logits / T)``.

    Args:
        logits: ``N×K`` validation logits (NumPy array or anything ``np.asarray`` takes).
        targets: ``N`` true class indices in ``0..K-1``.

    Returns:
        ``T`` as a float (T > 1 softens over-confident probabilities). 1.0 (no change) when there is
        nothing to fit on: no validation items, fewer than 2 classes, non-finite logits, or every
        item correct with the NLL still falling as ``T`` shrinks (perfectly separable validation
        logits would otherwise drive ``T`` to its lower bound).

    Method: bounded scalar minimisation (``scipy.optimize.minimize_scalar``, method ``bounded``)
    over ``log T``, where the NLL is smooth and the search interval symmetric-ish around 0.
    """
    z, y = _logits_targets(logits, targets)
    if y.size == 0 or z.shape[1] < 2 or not np.isfinite(z).all():
        return 1.0
    if (z.argmax(axis=1) == y).all():
        return 1.0
    result = minimize_scalar(lambda log_t: nll(z, y, math.exp(log_t)), bounds=(math.log(T_MIN), math.log(T_MAX)),
                             method="bounded", options={"xatol": 1e-4})
    t = float(math.exp(result.x))
    # Keep 1.0 unless scaling actually lowers the NLL (a flat objective gives an arbitrary T).
    return t if nll(z, y, t) < nll(z, y, 1.0) else 1.0


def apply_temperature(logits, temperature: float) -> np.ndarray:
    """Calibrated probabilities ``softmax(logits / temperature)``, ``N×K`` float64 (rows sum to 1)."""
    if not temperature > 0:
        raise ClassifykitError(f"Temperature {temperature}: must be a positive number; refit it on val.")
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def _bin_stats(probs, targets, n_bins: int):
    p, y = _logits_targets(probs, targets)
    if y.size == 0:
        raise ClassifykitError("Calibration needs at least one test item; the test split is empty.")
    if n_bins < 1:
        raise ClassifykitError(f"n_bins={n_bins}: use at least 1 bin.")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    # Bin m holds confidences in (edges[m], edges[m+1]] (as Guo et al.'s reference code, with
    # linspace edges); a confidence of exactly 0 goes to the first bin.
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    conf_sum = np.bincount(idx, weights=conf, minlength=n_bins)
    acc_sum = np.bincount(idx, weights=correct, minlength=n_bins)
    return count, conf_sum, acc_sum, y.size


def expected_calibration_error(probs, targets, n_bins: int = N_BINS) -> float:
    """ECE (Guo et al. 2017, eq. 3) of probabilities ``N×K`` against ``targets`` ``N``, a fraction 0..1.

    Equal-width confidence bins ``((m-1)/M, m/M]`` on the top-class probability; each bin's
    ``|accuracy - mean confidence|`` weighted by its share of the items.

    Raises:
        ClassifykitError: no items, shapes disagree, or ``n_bins < 1``.
    """
    count, conf_sum, acc_sum, n = _bin_stats(probs, targets, n_bins)
    return float(np.abs(acc_sum - conf_sum).sum() / n)


def reliability_diagram(probs, targets, n_bins: int = N_BINS) -> dict:
    """The reliability diagram's data (Guo et al. 2017, Fig. 1), JSON-ready.

    Returns:
        ``{"n": int, "n_bins": int, "ece": float, "bins": [{"lower": float, "upper": float,
        "count": int, "confidence": float|null, "accuracy": float|null}]}`` — one entry per bin
        ``(lower, upper]``; confidence and accuracy are the bin's means, null for an empty bin.

    Raises:
        ClassifykitError: as :func:`expected_calibration_error`.
    """
    count, conf_sum, acc_sum, n = _bin_stats(probs, targets, n_bins)
    bins = []
    for m in range(n_bins):
        c = int(count[m])
        bins.append({
            "lower": m / n_bins,
            "upper": (m + 1) / n_bins,
            "count": c,
            "confidence": float(conf_sum[m] / c) if c else None,
            "accuracy": float(acc_sum[m] / c) if c else None,
        })
    return {"n": int(n), "n_bins": n_bins, "ece": float(np.abs(acc_sum - conf_sum).sum() / n), "bins": bins}


def calibration_summary(val_logits, val_targets, test_logits, test_targets, n_bins: int = N_BINS) -> dict:
    """Fit ``T`` on val and measure test calibration before and after, as one JSON-ready block.

    Returns:
        ``{"method": "temperature scaling (Guo et al. 2017)", "temperature": float, "fitted_on": "val",
        "n_val": int, "test_ece_before": float, "test_ece_after": float, "test_nll_before": float,
        "test_nll_after": float, "reliability_before": {...}, "reliability_after": {...}}``
        (reliability blocks as :func:`reliability_diagram`).
    """
    t = fit_temperature(val_logits, val_targets)
    before = reliability_diagram(apply_temperature(test_logits, 1.0), test_targets, n_bins)
    after = reliability_diagram(apply_temperature(test_logits, t), test_targets, n_bins)
    return {
        "method": "temperature scaling (Guo et al. 2017)",
        "temperature": t,
        "fitted_on": "val",
        "n_val": int(np.asarray(val_targets).size),
        "test_ece_before": before["ece"],
        "test_ece_after": after["ece"],
        "test_nll_before": nll(test_logits, test_targets, 1.0),
        "test_nll_after": nll(test_logits, test_targets, t),
        "reliability_before": before,
        "reliability_after": after,
    }


def plot_reliability(diagram: dict, path: str | Path, after: dict | None = None,
                     labels: tuple[str, str] = ("before scaling", "after scaling")) -> Path:
    """Write a reliability diagram PNG: accuracy against mean confidence per bin, the diagonal = calibrated.

    Args:
        diagram: a :func:`reliability_diagram` dict (drawn as the first curve).
        after: optionally a second one (e.g. after temperature scaling), drawn on the same axes.
        labels: legend labels of the two curves; each gets its ECE appended.

    Returns:
        ``path`` as a Path (written atomically).
    """
    path = Path(path)
    with _figure(path, 4.2, 4.0) as (fig, axes):
        ax = axes[0, 0]
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
        for d, label, colour in ((diagram, labels[0], BAD), (after, labels[1], ACCENT)):
            if d is None:
                continue
            pts = [(b["confidence"], b["accuracy"]) for b in d["bins"] if b["count"]]
            xs, ys = zip(*pts) if pts else ((), ())
            ax.plot(xs, ys, marker="o", markersize=3, color=colour, label=f"{label} (ECE {d['ece']:.3f})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top-class probability)")
        ax.set_ylabel("accuracy")
        ax.set_title("Reliability on test")
        ax.legend(loc="upper left")
    return path
