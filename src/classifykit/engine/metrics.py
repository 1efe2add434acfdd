"""Test-set figures: accuracy with a Wilson interval, per-class P/R/F1, top-k.

Counting is done by scikit-learn (``precision_recall_fscore_support``, ``top_k_accuracy_score``) and the interval by SciPy (``binomtest(...).proportion_ci``), so the
figures match what a reader would compute with those libraries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.stats import binomtest, norm
from sklearn.metrics import precision_recall_fscore_support, top_k_accuracy_score

from classifykit.errors import ClassifykitError


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n`` (e.g. test accuracy), as fractions 0..1.

    Computed by ``scipy.stats.binomtest(k, n).proportion_ci(confidence, method="wilson")``
    (Wilson 1927, "Probable inference, the law of succession, and statistical inference", JASA 22).
    Unlike the normal ("Wald") interval it stays inside [0, 1] and keeps its coverage near 0 and 1.
    Example: 81 of 100 correct → (0.7222, 0.8749).

    Raises:
        ClassifykitError: ``n`` is 0 (no test items) or ``k`` is outside ``0..n``.
    """
    if n <= 0:
        raise ClassifykitError("The test split is empty: accuracy and its interval need at least one test item.")
    if not 0 <= k <= n:
        raise ClassifykitError(f"Correct count {k} is outside 0..{n}.")
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def n_for_halfwidth(p: float, halfwidth: float = 0.02, confidence: float = 0.95) -> int:
    """How many test items give a ``±halfwidth`` interval for an accuracy near ``p``.

    Formula (normal approximation, Cochran 1977, "Sampling Techniques", eq. 4.2):
    ``n = ceil(z² · p(1 − p) / halfwidth²)`` with ``z = Φ⁻¹(1 − (1 − confidence)/2)`` (1.96 for 95%).
    Example: p = 0.9, ±0.02 → 865 items. ``p`` is clipped to [0.01, 0.99] so a perfect or zero
    accuracy on a small test set does not claim that one item suffices.
    """
    if not 0 < halfwidth < 1:
        raise ClassifykitError(f"Interval half-width must be between 0 and 1 (got {halfwidth}).")
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = min(max(float(p), 0.01), 0.99)
    return math.ceil(z * z * p * (1 - p) / (halfwidth * halfwidth))


def top_k_accuracy(y_true: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Fraction of items whose true class is among the ``k`` highest ``scores`` (``N×K``).

    ``k >= K`` is trivially 1.0. Uses ``sklearn.metrics.top_k_accuracy_score`` (which takes the
    positive-class column alone when K = 2).
    """
    num_classes = scores.shape[1]
    if k >= num_classes:
        return 1.0
    labels = np.arange(num_classes)
    y_score = scores[:, 1] if num_classes == 2 else scores
    return float(top_k_accuracy_score(y_true, y_score, k=k, labels=labels))


def classification_report(
    y_true: Sequence[int] | np.ndarray | torch.Tensor,
    logits: np.ndarray | torch.Tensor,
    classes: Sequence[str],
    k: int = 5,
    split: str = "test",
) -> dict:
    """The ``eval.json`` body (see docs/CONTRACTS.md) for true classes ``N`` and ``logits`` ``N×K``.

    Keys: split, n, correct, accuracy, ci95 (Wilson), ci_method, top_k ({"1": .., str(k): ..}; ``str(k)``
    only when ``k`` < K, since the true class is always among K or more of K classes),
    macro_f1 (mean F1 over the classes with at least one item in the split), per_class
    (precision/recall/F1/support per class, 0 where undefined), n_for_pm2
    (test items a ±2-point 95% interval would need at this accuracy, :func:`n_for_halfwidth`).
    Accuracies are fractions 0..1.

    Raises:
        ClassifykitError: shapes disagree, ``logits`` has a column count other than ``len(classes)``,
            a true class is outside ``0..K-1``, or there are no items.
    """
    y = np.asarray(y_true.cpu() if isinstance(y_true, torch.Tensor) else y_true, dtype=np.int64).reshape(-1)
    scores = np.asarray(logits.float().cpu() if isinstance(logits, torch.Tensor) else logits, dtype=np.float64)
    num_classes = len(classes)
    if scores.ndim != 2 or scores.shape != (len(y), num_classes):
        raise ClassifykitError(
            f"Logits have shape {tuple(scores.shape)}, expected ({len(y)}, {num_classes}) for {num_classes} classes: "
            "the model and classes.json disagree; evaluate with the run's own model."
        )
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ClassifykitError(f"True class indices must be in 0..{num_classes - 1}; found {int(y.min())}..{int(y.max())}.")
    n = len(y)
    y_pred = scores.argmax(axis=1)
    correct = int((y_pred == y).sum())
    lo, hi = wilson_interval(correct, n)
    labels = np.arange(num_classes)
    precision, recall, f1, support = precision_recall_fscore_support(y, y_pred, labels=labels, zero_division=0)
    accuracy = correct / n
    return {
        "split": split,
        "n": n,
        "correct": correct,
        "accuracy": accuracy,
        "ci95": [lo, hi],
        "ci_method": "wilson",
        "top_k": {"1": accuracy, **({str(k): top_k_accuracy(y, scores, k)} if 1 < k < num_classes else {})},
        # Classes without a single item in this split have no F1 to measure (sklearn would count 0).
        "macro_f1": float(np.mean(f1[support > 0])) if (support > 0).any() else 0.0,
        "per_class": [
            {"class": str(c), "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for c, p, r, f, s in zip(classes, precision, recall, f1, support)
        ],
        "n_for_pm2": n_for_halfwidth(accuracy, 0.02),
    }


def confusion_scores(counts: np.ndarray) -> dict:
    """Accuracy, macro-F1, balanced accuracy and per-class recall from a ``K×K`` confusion matrix.

    ``counts[t, p]`` = items of true class ``t`` predicted as ``p``. Returns ``{"acc", "macro_f1",
    "balanced_acc": 0..1, "recall": [K floats, NaN where the class has no item], "support": [K ints]}``.
    macro-F1 averages F1 over the classes with at least one item, as :func:`classification_report`;
    balanced accuracy is the mean recall over those classes, as
    ``sklearn.metrics.balanced_accuracy_score`` (Brodersen et al. 2010). An empty matrix gives NaNs.
    """
    counts = np.asarray(counts, dtype=np.float64)
    support, predicted, hits = counts.sum(axis=1), counts.sum(axis=0), np.diag(counts)
    present = support > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(present, hits / support, np.nan)
        precision = np.where(predicted > 0, hits / predicted, 0.0)
        f1 = np.where(precision + np.nan_to_num(recall) > 0,
                      2 * precision * recall / (precision + recall), 0.0)
    total = counts.sum()
    return {
        "acc": float(hits.sum() / total) if total else math.nan,
        "macro_f1": float(f1[present].mean()) if present.any() else math.nan,
        "balanced_acc": float(recall[present].mean()) if present.any() else math.nan,
        "recall": recall.tolist(),
        "support": support.astype(np.int64).tolist(),
    }
