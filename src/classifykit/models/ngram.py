"""The n-gram linear text model: tf-idf n-grams (:mod:`classifykit.text.ngram`) -> logistic regression.

Trained by scikit-learn (:func:`fit_ngram`: ``LogisticRegression``, C chosen on the val split),
then held as a torch module (:class:`NgramClassifier`, registry name ``ngram``) so it is saved
(safetensors), evaluated, predicted and exported (ONNX opset 17) like the recurrent models:
``logits[b] = sum_t weights[b, t] · W[ids[b, t]] + bias`` — a Gather, a Mul and a ReduceSum.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from torch import nn

from classifykit.text.ngram import NgramFeaturizer

C_GRID = (0.5, 1.0, 2.0, 4.0, 8.0)
IMBALANCE_RATIO = 1.5  # largest / smallest class count from which classes count as imbalanced


class NgramClassifier(nn.Module):
    """``forward(ids B×T int64, weights B×T float32) -> logits B×num_classes``.

    ``ids`` are feature columns (0..F-1), ``weights`` their tf-idf values; pads are column 0 with
    weight 0, so they add nothing. ``weights`` may be on another device than ``ids`` (the engine moves
    only the first input); it is moved to ``ids``'s device.

    Args:
        num_classes: K.
        num_features: F, the featurizer's column count (``NgramFeaturizer.num_features``).
    """

    def __init__(self, num_classes: int, num_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(num_features, num_classes))
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, ids: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        weights = weights.to(ids.device, self.weight.dtype)
        return (self.weight[ids] * weights.unsqueeze(-1)).sum(1) + self.bias

    @torch.no_grad()
    def load_linear(self, coef: np.ndarray, intercept: np.ndarray) -> None:
        """Copy scikit-learn's ``coef_`` (K×F, or 1×F for two classes) and ``intercept_``.

        For two classes scikit-learn keeps one score z for class 1; the logits become ``(-z/2, z/2)``,
        whose softmax is ``(1 - sigmoid(z), sigmoid(z))``, its ``predict_proba``.
        """
        coef, intercept = np.asarray(coef, dtype=np.float64), np.asarray(intercept, dtype=np.float64)
        if coef.shape[0] == 1:
            coef, intercept = np.concatenate([-coef / 2, coef / 2]), np.concatenate([-intercept / 2, intercept / 2])
        self.weight.copy_(torch.from_numpy(coef.T.astype(np.float32)))
        self.bias.copy_(torch.from_numpy(intercept.astype(np.float32)))


def ngram(num_classes: int, num_features: int, **kwargs) -> NgramClassifier:
    """The n-gram linear model; ``num_features`` from the saved featurizer (``ngram.json``)."""
    if kwargs:
        raise TypeError(f"ngram takes num_features only, not {sorted(kwargs)}")
    return NgramClassifier(num_classes, num_features)


@dataclass
class NgramInfo:
    """What :func:`fit_ngram` chose and measured.

    Attributes:
        C: inverse regularisation strength chosen on val (from :data:`C_GRID`).
        class_weight: ``"balanced"`` or None.
        val_accuracy, val_macro_f1: of the chosen C (fractions 0..1).
        selected_by: ``"accuracy"``, or ``"macro_f1"`` when the classes are imbalanced.
        num_features: n-gram columns F.
        grid: ``{C: val score}`` of every C tried.
        seconds: wall time of featurizing and every fit.
    """

    C: float
    class_weight: str | None
    val_accuracy: float
    val_macro_f1: float
    selected_by: str
    num_features: int
    grid: dict[float, float]
    seconds: float


def is_imbalanced(targets: np.ndarray, num_classes: int) -> bool:
    """True when the largest class has at least :data:`IMBALANCE_RATIO` times the smallest's count."""
    counts = np.bincount(targets, minlength=num_classes)
    return bool(counts.max() >= IMBALANCE_RATIO * max(counts.min(), 1))


def fit_ngram(train_texts: Sequence[str], train_y: np.ndarray, val_texts: Sequence[str], val_y: np.ndarray,
              num_classes: int, seed: int = 0, c_grid: Sequence[float] = C_GRID,
              featurizer: NgramFeaturizer | None = None) -> tuple[NgramClassifier, NgramFeaturizer, NgramInfo]:
    """Fit the featurizer on the train texts, a logistic regression per C in ``c_grid`` on train, and
    keep the C with the best val score (accuracy; macro-F1 when the classes are imbalanced, which
    also sets ``class_weight="balanced"``); ties go to the smaller C (stronger regularisation).

    Args:
        train_y, val_y: class indices (int64, 0..K-1).
        featurizer: unfitted settings to use (default :class:`NgramFeaturizer` with its defaults).

    Returns:
        ``(model in eval mode, fitted featurizer, NgramInfo)``; the model's softmax equals the chosen
        regression's ``predict_proba`` up to float32 rounding.
    """
    start = time.perf_counter()
    featurizer = (featurizer or NgramFeaturizer()).fit(list(train_texts))
    x_train, x_val = featurizer.transform_sparse(list(train_texts)), featurizer.transform_sparse(list(val_texts))
    train_y, val_y = np.asarray(train_y, dtype=np.int64), np.asarray(val_y, dtype=np.int64)
    if len(np.unique(train_y)) != num_classes:
        raise ValueError(f"the train split holds {len(np.unique(train_y))} of the {num_classes} classes")
    imbalanced = is_imbalanced(train_y, num_classes)
    class_weight = "balanced" if imbalanced else None
    best, grid = None, {}
    for c in sorted(c_grid):
        clf = LogisticRegression(C=c, class_weight=class_weight, max_iter=2000, random_state=seed)
        clf.fit(x_train, train_y)
        pred = clf.predict(x_val)
        acc, f1 = accuracy_score(val_y, pred), f1_score(val_y, pred, average="macro", labels=np.arange(num_classes))
        score = f1 if imbalanced else acc
        grid[float(c)] = float(score)
        if best is None or score > best[0]:
            best = (score, float(c), clf, float(acc), float(f1))
    _, c, clf, acc, f1 = best
    model = NgramClassifier(num_classes, featurizer.num_features)
    model.load_linear(clf.coef_, clf.intercept_)
    model.eval()
    info = NgramInfo(c, class_weight, acc, f1, "macro_f1" if imbalanced else "accuracy", featurizer.num_features,
                     grid, time.perf_counter() - start)
    return model, featurizer, info
