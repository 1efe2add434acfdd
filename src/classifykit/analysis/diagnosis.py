"""What is wrong with a run, in plain words, and what to do about it.

Each rule is a pure function of a few figures that returns a :class:`Finding` or None;
:func:`diagnose` runs every rule whose facts are given. Thresholds are module constants so the
report can quote them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binomtest

from classifykit.engine.metrics import n_for_halfwidth

ALPHA = 0.05               # significance level of the at-chance and baseline tests
RARE_RECALL = 0.1          # a class with test recall below this is "never or rarely predicted"
IMBALANCE_RATIO = 3.0      # largest / smallest training class
TRUNCATED_SHARE = 0.10     # share of training texts cut at max_length
STILL_IMPROVING = 0.01     # val metric gain over the last epochs (fraction) that counts as still rising
IMPROVING_WINDOW = 2       # ... over this many last epochs
OVERFIT_GAP = 0.15         # train − val metric at the best epoch (fraction)
LISTED = 10                # items named in a finding's detail

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    """One diagnosis: ``severity`` ``"error"`` (the result is not to be trusted or used as is),
    ``"warning"`` (act on it) or ``"info"``; ``code`` a stable identifier (e.g. ``"at_chance"``);
    ``title`` one line; ``detail`` the figures seen; ``fix`` what to do, in words."""

    severity: str
    code: str
    title: str
    detail: str
    fix: str

    def to_dict(self) -> dict:
        """JSON-ready ``{"severity", "code", "title", "detail", "fix"}``."""
        return asdict(self)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:LISTED])
    return shown + (f" and {len(items) - LISTED} more" if len(items) > LISTED else "")


def at_chance(correct: int, n: int, majority_rate: float, alpha: float = ALPHA) -> Finding | None:
    """Test accuracy not significantly above always answering the majority class.

    One-sided exact binomial test (``scipy.stats.binomtest(correct, n, majority_rate,
    alternative="greater")``): a Finding when ``p ≥ alpha``. Example (issue 14): 160 of 300 (53.3%)
    against 0.5 gives p = 0.13, at chance.
    """
    if n <= 0 or not 0 < majority_rate < 1:
        return None
    p = float(binomtest(int(correct), int(n), float(majority_rate), alternative="greater").pvalue)
    if p < alpha:
        return None
    return Finding(
        "error", "at_chance", "The model is at chance",
        f"Test accuracy {_pct(correct / n)} ({correct} of {n}) is not above the {_pct(majority_rate)} of always "
        f"answering the largest class (one-sided binomial test, p = {p:.3g}).",
        "The model learned nothing usable. Check that the labels match the inputs, then try the baseline "
        "model or a pretrained one; for long texts raise --max-length; train longer or with another --lr.",
    )


def loses_to_baseline(comparison: Mapping) -> Finding | None:
    """The model is worse than, or not significantly better than, a baseline.

    Args:
        comparison: a :func:`classifykit.analysis.baselines.baseline_report` block (its ``verdict``,
            ``mcnemar`` and scores).
    """
    verdict = comparison["verdict"]
    if verdict == "better":
        return None
    name = comparison["baseline"]
    m, b = comparison["model"]["accuracy"], comparison["baseline_scores"]["accuracy"]
    test = comparison["mcnemar"]
    figures = (f"Model {_pct(m)} vs {name} {_pct(b)} on the same {comparison['n']} test items; McNemar's test "
               f"({test['method']}): model alone right on {test['b']}, {name} alone right on {test['c']}, "
               f"p = {test['p_value']:.3g}.")
    if verdict == "worse":
        return Finding("error", "loses_to_baseline", f"The model loses to the {name} baseline", figures,
                       f"Use the {name} model, or find why the model falls short (truncation, too few epochs, "
                       "no pretrained weights) before trusting it.")
    return Finding("warning", "ties_with_baseline", f"The model is no better than the {name} baseline", figures,
                   f"The difference could be chance: prefer the simpler {name} model unless the model wins on "
                   "a larger test set, or try a stronger (pretrained) model.")


def rare_classes(per_class: Sequence[Mapping], threshold: float = RARE_RECALL) -> Finding | None:
    """Classes with test recall below ``threshold`` (among classes with test items).

    Args:
        per_class: eval.json's ``per_class`` list (``class``, ``recall``, ``support``).
    """
    rare = [c for c in per_class if c["support"] > 0 and c["recall"] < threshold]
    if not rare:
        return None
    never = [c for c in rare if c["recall"] == 0]
    listed = _names([f"{c['class']} (recall {c['recall']:.2f}, {c['support']} test items)" for c in rare])
    return Finding(
        "error" if never else "warning", "rare_classes",
        f"{len(rare)} of {len(per_class)} classes {'never' if len(never) == len(rare) else 'rarely'} predicted",
        f"Test recall below {threshold:g}: {listed}.",
        "Weight the loss by class (--class-weights balanced) or sample classes evenly, select the model on "
        "macro-F1, and collect more examples of these classes.",
    )


def class_imbalance(counts: Mapping[str, int], ratio: float = IMBALANCE_RATIO) -> Finding | None:
    """Largest / smallest training class count ≥ ``ratio`` (classes with 0 items ignored).

    Args:
        counts: training items per class name (from split.csv's train rows).
    """
    present = {k: int(v) for k, v in counts.items() if v > 0}
    if len(present) < 2:
        return None
    big, small = max(present, key=present.get), min(present, key=present.get)
    r = present[big] / present[small]
    if r < ratio:
        return None
    listed = ", ".join(f"{k} {v}" for k, v in sorted(present.items(), key=lambda kv: -kv[1]))
    return Finding(
        "warning", "class_imbalance", f"Classes are imbalanced ({r:.1f}:1)",
        f"Training items per class: {listed}; {big} has {r:.1f}× the items of {small}.",
        "Accuracy favours the large classes: read macro-F1 and per-class recall, weight the loss "
        "(--class-weights balanced) and select on macro-F1; collect more of the small classes.",
    )


def truncated_texts(n_truncated: int, n_texts: int, max_length: int, threshold: float = TRUNCATED_SHARE
                    ) -> Finding | None:
    """More than ``threshold`` of the training texts were cut at ``max_length`` tokens."""
    if n_texts <= 0 or n_truncated / n_texts <= threshold:
        return None
    share = n_truncated / n_texts
    return Finding(
        "error" if share > 0.5 else "warning", "truncated_texts", f"{_pct(share)} of the training texts were truncated",
        f"{n_truncated} of {n_texts} training texts are longer than --max-length {max_length} tokens and "
        "lost their ends.",
        "Raise --max-length (and use mean pooling), use a long-document strategy, or use the n-gram model, "
        "which reads the whole text.",
    )


def under_training(val_metric: Sequence[float], epochs_configured: int, stopped_early: bool,
                   schedule: str = "onecycle", window: int = IMPROVING_WINDOW,
                   min_gain: float = STILL_IMPROVING) -> Finding | None:
    """The run ended before it converged.

    Any of: the val metric still rising at the end (the last epoch is the best and gained at least
    ``min_gain`` over the last ``window`` epochs); training interrupted (fewer epochs than
    configured without an early stop); early stopping that cut a one-cycle schedule before its
    anneal (the low-LR epochs that usually give the best model).

    Args:
        val_metric: per-epoch val metric (metrics.csv ``val_acc``, or the selection metric), fractions.
        epochs_configured: config.json ``epochs``; epochs run = ``len(val_metric)``.
        stopped_early: whether early stopping ended training.
        schedule: config.json ``schedule``.
    """
    v = [float(x) for x in val_metric]
    if not v:
        return None
    run = len(v)
    reasons = []
    if run >= 2:
        w = min(window, run - 1)
        gain = v[-1] - v[-1 - w]
        if v[-1] >= max(v) and gain >= min_gain:
            reasons.append(f"val still rising at the end (+{100 * gain:.1f} points over the last {w} epoch"
                           f"{'s' if w > 1 else ''}, best at the last epoch {run})")
    if run < epochs_configured and not stopped_early:
        reasons.append(f"training stopped at epoch {run} of {epochs_configured} (interrupted)")
    if run < epochs_configured and stopped_early and schedule == "onecycle":
        reasons.append(f"early stopping ended one-cycle at epoch {run} of {epochs_configured}, before its "
                       "learning-rate anneal")
    if not reasons:
        return None
    detail = "; ".join(reasons)
    return Finding(
        "warning", "under_training", "Training ended before the model converged", detail[0].upper() + detail[1:] + ".",
        "Train longer (more --epochs, or --resume an interrupted run); with early stopping raise --patience "
        "or use a schedule it cannot cut short.",
    )


def over_fitting(train_metric: Sequence[float], val_metric: Sequence[float], best_epoch: int | None = None,
                 gap: float = OVERFIT_GAP) -> Finding | None:
    """Train metric at least ``gap`` above val at the best epoch (1-based; default: best val epoch).

    Args:
        train_metric, val_metric: per-epoch metrics.csv ``train_acc`` and ``val_acc`` (fractions).
    """
    tr, va = np.asarray(train_metric, dtype=float), np.asarray(val_metric, dtype=float)
    if tr.size == 0 or tr.size != va.size:
        return None
    e = int(np.argmax(va)) + 1 if best_epoch is None else int(best_epoch)
    diff = tr[e - 1] - va[e - 1]
    if diff < gap - 1e-9:  # 67% vs 52% is a 15-point gap despite binary rounding
        return None
    return Finding(
        "warning", "over_fitting", f"Over-fitting: train {_pct(tr[e - 1])} vs val {_pct(va[e - 1])}",
        f"At the best epoch ({e}) the train metric is {100 * diff:.1f} points above val.",
        "Add augmentation or regularisation (weight decay, dropout), use a smaller or pretrained model with a "
        "frozen backbone, or collect more training data.",
    )


def small_test_set(accuracy: float, ci95: Sequence[float], n: int, difference: float) -> Finding | None:
    """The test interval is wider than the model–baseline accuracy difference it is meant to support.

    Args:
        accuracy, ci95, n: the model's test accuracy, Wilson interval and test items (eval.json).
        difference: model − baseline accuracy (positive: the model claims to be better).
    """
    half = (ci95[1] - ci95[0]) / 2
    if difference <= 0 or half <= difference:
        return None
    need = n_for_halfwidth(accuracy, difference)
    return Finding(
        "warning", "small_test_set", "The test set is too small for the difference claimed",
        f"The model leads by {100 * difference:.1f} points, but its 95% interval is ±{100 * half:.1f} points "
        f"on {n} test items.",
        f"About {need} test items would give a ±{100 * difference:.1f}-point interval; use a larger test "
        "split or more data before claiming the model is better.",
    )


def near_duplicates(pairs: Sequence[Sequence], n_test: int, kind: str = "image") -> Finding | None:
    """Test items duplicated in train (:mod:`classifykit.analysis.duplicates` output).

    Args:
        pairs: ``(test, train[, distance])`` tuples, test first (paths or indices).
        n_test: test items searched.
    """
    if not pairs:
        return None
    tests = list(dict.fromkeys(p[0] for p in pairs))
    share = len(tests) / n_test if n_test else 0.0
    listed = _names([f"{p[0]} = {p[1]}" for p in pairs])
    return Finding(
        "warning", "near_duplicates", f"{len(tests)} test {kind}s ({_pct(share)}) are near-duplicates of train {kind}s",
        f"Test accuracy is inflated by items the model has seen: {listed}.",
        "Remove the duplicates from the data (keep one copy) and rerun, so that test measures unseen items.",
    )


def diagnose(facts: Mapping) -> list[Finding]:
    """Run every rule whose facts are present; findings sorted error, warning, info.

    ``facts`` keys (each optional):

    - ``"test"``: eval.json's body (``n``, ``correct``, ``accuracy``, ``ci95``, ``per_class``);
    - ``"majority"``: :func:`~classifykit.analysis.baselines.majority_baseline` (``accuracy`` = majority rate);
    - ``"baseline"``: :func:`~classifykit.analysis.baselines.baseline_report` of the task's fast baseline;
    - ``"train_counts"``: ``{class: training items}``;
    - ``"truncation"``: ``{"n_truncated", "n_texts", "max_length"}`` (text runs);
    - ``"history"``: ``{"train_metric": [...], "val_metric": [...], "best_epoch": int|None,
      "epochs_configured": int, "stopped_early": bool, "schedule": str}``;
    - ``"duplicates"``: ``{"pairs": [...], "n_test": int, "kind": "image"|"text"}``.
    """
    found: list[Finding | None] = []
    test = facts.get("test")
    if test and facts.get("majority"):
        found.append(at_chance(test["correct"], test["n"], facts["majority"]["accuracy"]))
    if facts.get("baseline"):
        base = facts["baseline"]
        found.append(loses_to_baseline(base))
        model = base["model"]
        found.append(small_test_set(model["accuracy"], model["ci95"], model["n"], base["accuracy_difference"]))
    if test and test.get("per_class"):
        found.append(rare_classes(test["per_class"]))
    if facts.get("train_counts"):
        found.append(class_imbalance(facts["train_counts"]))
    if facts.get("truncation"):
        t = facts["truncation"]
        found.append(truncated_texts(t["n_truncated"], t["n_texts"], t["max_length"]))
    if facts.get("history"):
        h = facts["history"]
        found.append(under_training(h["val_metric"], h["epochs_configured"], h["stopped_early"],
                                    h.get("schedule", "onecycle")))
        if h.get("train_metric") is not None:
            found.append(over_fitting(h["train_metric"], h["val_metric"], h.get("best_epoch")))
    if facts.get("duplicates"):
        d = facts["duplicates"]
        found.append(near_duplicates(d["pairs"], d["n_test"], d.get("kind", "image")))
    return sorted((f for f in found if f is not None), key=lambda f: SEVERITY_ORDER[f.severity])
