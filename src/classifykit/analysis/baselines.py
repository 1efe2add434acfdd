"""Baselines on the run's own split: the majority class and a standardised logistic regression.

A model is only as good as what it beats. :func:`majority_baseline` always answers the most common
training class; :func:`linear_baseline` is scikit-learn's ``LogisticRegression`` on standardised
features (downscaled pixels from :func:`downscaled_pixels`, or frozen pretrained features from
:func:`frozen_features`; for texts the task's n-gram model is the baseline). :func:`baseline_report`
puts the model beside a baseline's test predictions with intervals and McNemar's paired test.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from classifykit.analysis.significance import accuracy_interval, macro_f1, macro_f1_interval, mcnemar
from classifykit.errors import ClassifykitError

C_GRID = (0.001, 0.01, 0.1, 1.0)
MAX_ITER = 300  # lbfgs iterations per C; a baseline must stay fast, "converged" in the result says if it sufficed
IMBALANCE_RATIO = 3.0  # largest / smallest training class count from which classes count as imbalanced


def scores(y_true, y_pred, num_classes: int, seed: int = 0) -> dict:
    """Test figures of predictions ``N`` against ``y_true`` ``N``, JSON-ready.

    Returns:
        ``{"n", "correct", "accuracy", "ci95": [lo, hi], "ci_method": "wilson", "macro_f1",
        "macro_f1_ci95": [lo, hi], "macro_f1_ci_method": "percentile bootstrap, 1000 resamples, seed 0"}``.
    """
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    out = accuracy_interval(t == p)
    out["macro_f1"] = macro_f1(t, p, num_classes)
    out["macro_f1_ci95"] = list(macro_f1_interval(t, p, num_classes, seed=seed))
    out["macro_f1_ci_method"] = f"percentile bootstrap, 1000 resamples, seed {seed}"
    return out


def is_imbalanced(targets, num_classes: int, ratio: float = IMBALANCE_RATIO) -> bool:
    """Whether the largest class has at least ``ratio`` × the items of the smallest present class."""
    counts = np.bincount(np.asarray(targets, dtype=np.int64), minlength=num_classes)
    present = counts[counts > 0]
    return present.size > 1 and present.max() >= ratio * present.min()


def majority_baseline(train_targets, test_targets, num_classes: int) -> dict:
    """Always answer the most common training class (ties: the lowest index); score it on test.

    Returns:
        :func:`scores` plus ``{"name": "majority class", "predicted_class": int}``; its accuracy is
        the majority rate the at-chance test compares with.

    Raises:
        ClassifykitError: no training targets, or no test items.
    """
    train = np.asarray(train_targets, dtype=np.int64).reshape(-1)
    if train.size == 0:
        raise ClassifykitError("The majority baseline needs training items; the train split is empty.")
    cls = int(np.bincount(train, minlength=num_classes).argmax())
    test = np.asarray(test_targets, dtype=np.int64).reshape(-1)
    return {"name": "majority class", "predicted_class": cls,
            **scores(test, np.full(test.shape, cls), num_classes)}


def linear_baseline(train_X, train_y, val_X, val_y, test_X, test_y, num_classes: int | None = None,
                    c_grid: Sequence[float] = C_GRID, seed: int = 0) -> tuple[dict, np.ndarray]:
    """Logistic regression on standardised features, ``C`` picked on val; scored on test.

    Args:
        train_X, val_X, test_X: feature matrices ``N×D`` (float); the scaler is fitted on train only.
        train_y, val_y, test_y: class indices ``N``.
        num_classes: ``K`` (default: one more than the largest index seen).
        c_grid: inverse regularisation strengths tried; each model is fitted on train, the one with
            the best val score (macro-F1 when the training classes are imbalanced, else accuracy;
            ties: the smaller C) is scored on test. No val items: ``C = 1``. The grid is searched
            from small to large C with warm starts (lbfgs, tol 1e-3, at most 300 iterations each)
            and stops at the first C whose val score falls below the best so far.

    Returns:
        ``(block, test_pred)``: ``block`` = :func:`scores` plus ``{"name": "logistic regression",
        "C": float, "class_weight": "balanced"|null, "select_metric": "accuracy"|"macro_f1",
        "val_score": float|null, "converged": bool, "features": D, "seconds": float}``; ``test_pred`` = int64 ``N`` test
        predictions, for :func:`baseline_report`. Uses ``sklearn.linear_model.LogisticRegression``
        after ``sklearn.preprocessing.StandardScaler`` fitted on train.

    Raises:
        ClassifykitError: fewer than two classes in the training targets, or mismatched shapes.
    """
    start = time.perf_counter()
    arrays = [np.asarray(a, dtype=np.float32) for a in (train_X, val_X, test_X)]
    labels = [np.asarray(a, dtype=np.int64).reshape(-1) for a in (train_y, val_y, test_y)]
    for name, x, y in zip(("train", "val", "test"), arrays, labels):
        if x.ndim != 2 or x.shape[0] != y.size:
            raise ClassifykitError(f"Baseline {name} features have shape {x.shape} for {y.size} targets; expected N×D.")
    (xtr, xva, xte), (ytr, yva, yte) = arrays, labels
    if np.unique(ytr).size < 2:
        raise ClassifykitError("The linear baseline needs at least two classes in the train split.")
    k = num_classes or int(max(y.max() for y in labels if y.size)) + 1
    imbalanced = is_imbalanced(ytr, k)
    weight = "balanced" if imbalanced else None
    metric = "macro_f1" if imbalanced else "accuracy"

    scaler = StandardScaler().fit(xtr)
    xtr, xva, xte = (scaler.transform(x) if len(x) else x for x in (xtr, xva, xte))
    # One model refitted along the C path from strong to weak regularisation, each fit starting from
    # the previous solution (warm start): on 32×32 pixels a cold lbfgs fit per C takes several times longer.
    model = LogisticRegression(class_weight=weight, max_iter=MAX_ITER, tol=1e-3, warm_start=True, random_state=seed)
    best, best_c, best_val, converged = None, 1.0, None, True
    for c in sorted(c_grid) if yva.size else [best_c]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.set_params(C=c).fit(xtr, ytr)
        pred_val = model.predict(xva) if yva.size else None
        s = None if pred_val is None else (macro_f1(yva, pred_val, k) if imbalanced else float((pred_val == yva).mean()))
        if best is not None and s < best_val:
            break  # past the best C: weaker regularisation only costs more iterations from here
        if best is None or s > best_val:
            best, best_c, best_val = copy.deepcopy(model), float(c), s
            converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    pred = best.predict(xte).astype(np.int64)
    block = {"name": "logistic regression", "C": best_c, "class_weight": weight, "select_metric": metric,
             "val_score": best_val, "converged": converged, "features": int(xtr.shape[1]), **scores(yte, pred, k)}
    block["seconds"] = time.perf_counter() - start
    return block, pred


def _as_tensor(image) -> torch.Tensor:
    """One image as a float ``C×H×W`` tensor: a Tensor as given, a PIL image or ``H×W[×C]`` array converted."""
    if isinstance(image, torch.Tensor):
        return image if image.dim() == 3 else image.unsqueeze(0)
    a = np.asarray(image)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(a))


def downscaled_pixels(images, size: int = 32, batch_size: int = 256) -> np.ndarray:
    """Images as flat pixel vectors at ``size×size``: the classic pixels baseline's features.

    Args:
        images: uint8 or float array/tensor ``N×C×H×W`` (uint8 is scaled to 0..1), or a Dataset
            whose items are ``(image, target)`` with the image a ``C×H×W`` Tensor (as the task's
            eval dataset gives) or a PIL image.
        size: output side in pixels; area averaging (``F.interpolate(mode="area")``) when shrinking,
            bilinear when enlarging.

    Returns:
        float32 array ``N×(C·size·size)``.

    Raises:
        ClassifykitError: an array that is not 4-D, or a Dataset with no items.
    """
    if isinstance(images, (np.ndarray, torch.Tensor)):
        if images.ndim != 4:
            raise ClassifykitError(f"Images for the pixel baseline must be N×C×H×W, got shape {tuple(images.shape)}.")
        # Per-batch copies: arrays read from IDX files are read-only, which torch.as_tensor warns about.
        batches = (torch.as_tensor(np.array(images[i:i + batch_size]) if isinstance(images, np.ndarray)
                                   else images[i:i + batch_size]) for i in range(0, images.shape[0], batch_size))
    else:
        if len(images) == 0:
            raise ClassifykitError("The pixel baseline got a dataset with no items.")
        batches = (torch.stack([_as_tensor(images[j][0]) for j in range(i, min(i + batch_size, len(images)))])
                   for i in range(0, len(images), batch_size))
    out = []
    for b in batches:
        scale = 255.0 if b.dtype == torch.uint8 else 1.0
        b = b.float() / scale
        mode = "area" if b.shape[-1] >= size and b.shape[-2] >= size else "bilinear"
        b = F.interpolate(b, size=(size, size), mode=mode, **({"align_corners": False} if mode == "bilinear" else {}))
        out.append(b.flatten(1).numpy())
    return np.concatenate(out).astype(np.float32, copy=False)


def frozen_features(backbone: nn.Module, data: Dataset | DataLoader, device: torch.device | str = "cpu",
                    batch_size: int = 64, progress: Callable[[int, int], None] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Features of a frozen pretrained ``backbone`` for every item: the linear probe's input.

    Args:
        backbone: a module mapping ``B×C×H×W`` to features ``B×D`` (or ``B×D×h×w``, averaged over
            ``h×w``), e.g. ``timm.create_model(..., num_classes=0)``. Run in eval mode under
            ``torch.inference_mode``; its train/eval mode is restored afterwards.
        data: a Dataset of ``(image C×H×W, target)`` (batched here, in order) or a DataLoader.
        progress: called as ``progress(items_done, items_total)`` after every batch, so a long
            extraction can show progress and an estimate.

    Returns:
        ``(features N×D float32, targets N int64)`` as NumPy arrays.

    Raises:
        ClassifykitError: the data yields no items.
    """
    loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=batch_size, shuffle=False)
    total = len(loader.dataset)
    was_training = backbone.training
    backbone.eval()
    feats, targets, done = [], [], 0
    try:
        with torch.inference_mode():
            for inputs, y in loader:
                f = backbone(inputs.to(device))
                if f.dim() == 4:
                    f = f.mean(dim=(2, 3))
                feats.append(f.flatten(1).float().cpu().numpy())
                targets.append(np.asarray(y, dtype=np.int64))
                done += len(y)
                if progress is not None:
                    progress(done, total)
    finally:
        backbone.train(was_training)
    if not feats:
        raise ClassifykitError("Frozen features: the data yielded no items.")
    return np.concatenate(feats), np.concatenate(targets)


def baseline_report(model_pred, baseline_name: str, baseline_pred, targets, num_classes: int) -> dict:
    """The eval.json block putting the model beside one baseline on the same test items.

    Args:
        model_pred, baseline_pred: predicted classes ``N`` of the model and the baseline.
        targets: true classes ``N``.

    Returns:
        ``{"baseline": name, "n": N, "model": scores, "baseline_scores": scores,
        "accuracy_difference": model − baseline, "macro_f1_difference": model − baseline,
        "mcnemar": {...}, "verdict": "better"|"worse"|"tie"}`` with ``scores`` as :func:`scores` and
        ``mcnemar`` as :func:`~classifykit.analysis.significance.mcnemar` (a = model, b = baseline).
        The verdict is "tie" unless McNemar's p < 0.05, then the side with more discordant wins.

    Raises:
        ClassifykitError: the three arrays differ in length.
    """
    t = np.asarray(targets, dtype=np.int64).reshape(-1)
    m = np.asarray(model_pred, dtype=np.int64).reshape(-1)
    b = np.asarray(baseline_pred, dtype=np.int64).reshape(-1)
    if not t.size == m.size == b.size:
        raise ClassifykitError(f"Model ({m.size}), baseline ({b.size}) and targets ({t.size}) must cover the same test items.")
    ms, bs = scores(t, m, num_classes), scores(t, b, num_classes)
    test = mcnemar(m == t, b == t)
    verdict = "tie" if not test["significant"] else ("better" if test["b"] > test["c"] else "worse")
    return {"baseline": baseline_name, "n": int(t.size), "model": ms, "baseline_scores": bs,
            "accuracy_difference": ms["accuracy"] - bs["accuracy"],
            "macro_f1_difference": ms["macro_f1"] - bs["macro_f1"],
            "mcnemar": test, "verdict": verdict}
