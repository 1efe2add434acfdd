"""Decide which figures a run supports and write them as PNGs into the run folder.

A figure whose inputs are absent (no steps.csv yet, no eval.json yet) is simply not made; the
HTML section then says which file is missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classifykit.report import plots
from classifykit.report.diagnose import clipped_fraction, find_spikes, running_median
from classifykit.report.evalblocks import Calibration
from classifykit.report.rundata import RunData

LEARNING_CURVES = "learning_curves.png"
LEARNING_RATE = "learning_rate.png"
GRAD_NORM = "grad_norm.png"
CONFUSION = "confusion.png"
PER_CLASS = "per_class.png"
CLASS_COUNTS = "class_counts.png"
RELIABILITY = "reliability.png"


def _column(table: dict[str, np.ndarray], name: str, n: int) -> np.ndarray:
    return table[name] if name in table else np.full(n, np.nan)


def best_epoch(run: RunData) -> int | None:
    """The best epoch: model.json's ``best_epoch``, else the epoch of the highest val accuracy."""
    if run.model and isinstance(run.model.get("best_epoch"), int) and run.model["best_epoch"] > 0:
        return run.model["best_epoch"]
    m = run.metrics
    if m and "val_acc" in m and "epoch" in m and np.isfinite(m["val_acc"]).any():
        return int(m["epoch"][int(np.nanargmax(m["val_acc"]))])
    return None


def split_counts(run: RunData) -> tuple[list[str], dict[str, np.ndarray]] | None:
    """``(classes, {split: count per class})`` from split.csv, splits in train/val/test order."""
    if not run.split:
        return None
    labels = run.classes or sorted({r.get("label", "") for r in run.split})
    index = {c: i for i, c in enumerate(labels)}
    extra = sorted({r.get("label", "") for r in run.split} - set(index))
    for c in extra:  # labels not in classes.json still get counted, after the known ones
        index[c] = len(index)
    labels = labels + extra
    splits = [s for s in ("train", "val", "test") if any(r.get("split") == s for r in run.split)]
    splits += sorted({r.get("split", "") for r in run.split} - set(splits))
    counts = {s: np.zeros(len(labels), dtype=np.int64) for s in splits}
    for r in run.split:
        counts[r.get("split", "")][index[r.get("label", "")]] += 1
    return labels, counts


def make_figures(run: RunData, calibration: Calibration | None = None) -> dict[str, Path]:
    """Write every figure the run's files (and eval.json's ``calibration`` block, read by
    :func:`classifykit.report.evalblocks.read_blocks`) support; returns ``{file name: path}`` in report order."""
    out: dict[str, Path] = {}
    d = run.run_dir
    m = run.metrics
    if m and "epoch" in m and len(m["epoch"]):
        n = len(m["epoch"])
        out[LEARNING_CURVES] = plots.learning_curves(
            d / LEARNING_CURVES, m["epoch"], _column(m, "train_loss", n), _column(m, "val_loss", n),
            _column(m, "train_acc", n), _column(m, "val_acc", n), best_epoch(run))
    s = run.steps
    has_steps = bool(s and "step" in s and len(s["step"]))
    if has_steps and "lr" in s:
        starts = None
        if "epoch" in s:
            starts = s["step"][np.flatnonzero(np.diff(s["epoch"], prepend=s["epoch"][0]) != 0)]
        out[LEARNING_RATE] = plots.learning_rate(d / LEARNING_RATE, s["step"], s["lr"], "step", starts)
    elif m and "lr" in m and len(m["lr"]):
        out[LEARNING_RATE] = plots.learning_rate(d / LEARNING_RATE, m["epoch"], m["lr"], "epoch")
    if has_steps and "grad_norm" in s:
        g = s["grad_norm"]
        groups = {c[3:]: s[c] for c in run.group_norm_columns}
        out[GRAD_NORM] = plots.grad_norms(
            d / GRAD_NORM, s["step"], g, run.clip_grad_norm,
            clipped_fraction(g, s.get("clipped"), run.clip_grad_norm), running_median(g), find_spikes(g), groups)
    if run.confusion is not None:
        out[CONFUSION] = plots.confusion(d / CONFUSION, *run.confusion)
    per_class = (run.eval or {}).get("per_class")
    if per_class:
        out[PER_CLASS] = plots.per_class(
            d / PER_CLASS, [str(r["class"]) for r in per_class],
            *(np.array([float(r[k]) for r in per_class]) for k in ("precision", "recall", "f1")))
    counts = split_counts(run)
    if counts is not None:
        out[CLASS_COUNTS] = plots.class_counts(d / CLASS_COUNTS, *counts)
    if calibration is not None:
        curves = {f"{label} (ECE {100 * ece:.1f}%)": (r.confidence, r.accuracy, r.count)
                  for label, r, ece in (("raw softmax", calibration.reliability_before, calibration.ece_before),
                                        (f"after {calibration.method}", calibration.reliability_after,
                                         calibration.ece_after))
                  if r is not None}
        if curves:
            out[RELIABILITY] = plots.reliability(d / RELIABILITY, curves)
    return out
