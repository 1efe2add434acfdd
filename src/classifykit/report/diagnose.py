"""Plain-language training diagnoses from the per-step gradient norms and per-epoch metrics.

Pure functions on NumPy arrays (no files, no plotting) so each rule is unit-tested on synthetic
series. Each :class:`Finding` says what was seen, at which steps, and what to change.

Background: exploding and vanishing gradients — Bengio, Simard & Frasconi (1994), "Learning
long-term dependencies with gradient descent is difficult"; Pascanu, Mikolov & Bengio (2013),
"On the difficulty of training recurrent neural networks" (ICML), which proposes clipping the
global gradient norm.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

PASCANU = 'Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent neural networks"'

SPIKE_FACTOR = 10.0     # a step's norm above this × the running median is a spike
SPIKE_WINDOW = 50       # running median over this many previous finite steps
SPIKE_MIN_HISTORY = 5   # no verdict before this many finite steps have been seen
VANISH_RATIO = 1e-3     # an earlier group's median norm below this × the last group's is vanishing
OVERFIT_RISE = 0.10     # val loss this fraction above its minimum at the end counts as rising


@dataclass(frozen=True)
class Finding:
    """One diagnosis. ``level`` is ``"warning"`` (act on it), ``"info"`` (worth knowing) or ``"ok"``."""

    level: str
    title: str
    message: str
    steps: tuple[int, ...] = ()


def running_median(values: np.ndarray, window: int = SPIKE_WINDOW,
                   min_history: int = SPIKE_MIN_HISTORY) -> np.ndarray:
    """Median of the up-to-``window`` previous finite values for each position (the value itself excluded).

    Args:
        values: float array of shape ``N`` (NaN/inf are ignored as history).

    Returns:
        float64 array of shape ``N``; NaN where fewer than ``min_history`` finite values precede.
    """
    x = np.asarray(values, dtype=np.float64)
    history = np.where(np.isfinite(x), x, np.nan)
    padded = np.concatenate([np.full(window, np.nan), history[:-1] if x.size else history])
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)[: x.size]
    counts = np.isfinite(windows).sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows at the start
        med = np.nanmedian(windows, axis=1) if x.size else np.empty(0)
    return np.where(counts >= min_history, med, np.nan)


def find_spikes(grad_norm: np.ndarray, factor: float = SPIKE_FACTOR, window: int = SPIKE_WINDOW) -> np.ndarray:
    """Indices of steps whose finite norm exceeds ``factor`` × the running median of the previous steps."""
    x = np.asarray(grad_norm, dtype=np.float64)
    med = running_median(x, window)
    with np.errstate(invalid="ignore"):
        return np.flatnonzero(np.isfinite(x) & np.isfinite(med) & (x > factor * med))


def _list_steps(steps: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(s)) for s in steps[:limit])
    return shown + (f" and {len(steps) - limit} more" if len(steps) > limit else "")


def _explode_advice(clip: float | None) -> str:
    clip_text = (f"clipping was on at {clip:g}, so these updates were bounded, but the spikes still mean "
                 f"the loss surface is steep here" if clip is not None else
                 "clip the global gradient norm (--clip-grad-norm 1.0)")
    return (f"What to change: lower the learning rate (--lr, e.g. by 3×); {clip_text} ({PASCANU}); "
            f"warm the learning rate up (--schedule cosine --warmup-epochs 1); keep normalization "
            f"layers (BatchNorm/LayerNorm) in the model.")


def diagnose_explosion(step: np.ndarray, grad_norm: np.ndarray, skipped: np.ndarray | None = None,
                       clip: float | None = None) -> list[Finding]:
    """Warnings for gradient-norm spikes, non-finite norms and skipped steps.

    Args:
        step: step numbers, shape ``N`` (used to name steps in the messages).
        grad_norm: global L2 gradient norm before clipping, shape ``N``.
        skipped: 1 where the optimizer step was skipped (non-finite loss), shape ``N``, or None.
        clip: the clipping threshold, or None when clipping was off.

    Returns:
        Zero or more ``"warning"`` findings, each naming the first steps concerned.
    """
    step = np.asarray(step)
    x = np.asarray(grad_norm, dtype=np.float64)
    findings = []
    spikes = find_spikes(x)
    if spikes.size:
        med = running_median(x)
        first = spikes[0]
        findings.append(Finding(
            "warning", "Exploding gradients",
            f"The gradient norm jumped to {x[first]:.3g} at step {int(step[first])}, "
            f"{x[first] / med[first]:.0f}× the median of the previous {SPIKE_WINDOW} steps "
            f"({len(spikes)} such spike{'s' if len(spikes) > 1 else ''}: steps {_list_steps(step[spikes])}). "
            + _explode_advice(clip),
            tuple(int(s) for s in step[spikes])))
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        findings.append(Finding(
            "warning", "Non-finite gradients",
            f"The gradient norm was NaN or infinite at {bad.size} step{'s' if bad.size > 1 else ''} "
            f"(steps {_list_steps(step[bad])}): the loss or the gradients overflowed. With fp16 mixed "
            f"precision a few such steps at the very start are the loss scaler calibrating and are harmless; "
            f"later ones are not. " + _explode_advice(clip),
            tuple(int(s) for s in step[bad])))
    if skipped is not None:
        sk = np.flatnonzero(np.nan_to_num(np.asarray(skipped, dtype=np.float64)) > 0)
        if sk.size:
            findings.append(Finding(
                "warning", "Skipped steps",
                f"{sk.size} optimizer step{'s were' if sk.size > 1 else ' was'} skipped because the loss "
                f"was not finite (steps {_list_steps(step[sk])}); those batches taught the model nothing. "
                + _explode_advice(clip),
                tuple(int(s) for s in step[sk])))
    return findings


def group_medians(group_norms: dict[str, np.ndarray]) -> dict[str, float]:
    """Median positive finite norm of each layer group; groups that never had a gradient are left out.

    A group whose norms are all 0 or NaN was frozen (or unused) for the whole run.
    """
    out = {}
    for name, values in group_norms.items():
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v) & (v > 0)]
        if v.size:
            out[name] = float(np.median(v))
    return out


def diagnose_vanishing(group_norms: dict[str, np.ndarray], ratio: float = VANISH_RATIO) -> list[Finding]:
    """A warning when earlier layer groups get a tiny gradient compared with the last group.

    Args:
        group_norms: ``{group: norms over steps}`` in model order (early layers first, the head
            last), e.g. the ``gn:*`` columns of steps.csv without the prefix.
        ratio: the threshold on ``median(group) / median(last group)``.

    Returns:
        One ``"warning"`` naming the starved groups and their ratios, or nothing.
    """
    medians = group_medians(group_norms)
    names = list(medians)
    if len(names) < 2:
        return []
    last = names[-1]
    starved = [(n, medians[n] / medians[last]) for n in names[:-1] if medians[n] < ratio * medians[last]]
    if not starved:
        return []
    detail = ", ".join(f"{n} at {r:.1e}×" for n, r in starved)
    return [Finding(
        "warning", "Vanishing gradients",
        f"Early layers get almost no gradient: median gradient norm relative to the last group "
        f"({last}, {medians[last]:.3g}): {detail}. Those layers barely learn. What to change: residual "
        f"connections and normalization layers keep gradients flowing through depth (He et al. 2016; "
        f"Ioffe & Szegedy 2015); for sequences use an LSTM or GRU rather than a plain RNN, with the "
        f"forget-gate bias at 1 (Gers et al. 2000; Jozefowicz et al. 2015), and shorter inputs "
        f"(--max-length); initialise with He/Kaiming init; avoid saturating activations (sigmoid/tanh "
        f"stacks). Background: Bengio, Simard & Frasconi 1994; {PASCANU}.")]


def clipped_fraction(grad_norm: np.ndarray, clipped: np.ndarray | None, clip: float | None) -> float | None:
    """Fraction of steps where clipping acted: the ``clipped`` column if logged, else ``norm > clip``.

    None when clipping was off. Arrays have shape ``N``.
    """
    if clip is None:
        return None
    if clipped is not None and np.isfinite(np.asarray(clipped, dtype=np.float64)).any():
        c = np.asarray(clipped, dtype=np.float64)
        return float(np.mean(c[np.isfinite(c)] > 0))
    x = np.asarray(grad_norm, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(np.mean(x > clip)) if x.size else 0.0


def diagnose_clipping(grad_norm: np.ndarray, clipped: np.ndarray | None, clip: float | None, *,
                      recurrent: bool = False) -> Finding:
    """How often clipping acted, with advice when it acts on most steps (or, for a ``recurrent``
    model, is off)."""
    x = np.asarray(grad_norm, dtype=np.float64)
    finite = x[np.isfinite(x)]
    if clip is None:  # only a note: a spike, if any, gets its own warning recommending clipping
        if recurrent:
            return Finding("ok", "No gradient clipping",
                           "Clipping was off (--clip-grad-norm none). Recurrent models usually want it "
                           f"(e.g. --clip-grad-norm 1.0, the text default; {PASCANU}).")
        return Finding("ok", "No gradient clipping", "Clipping was off (the default for image models).")
    frac = clipped_fraction(x, clipped, clip)
    median = float(np.median(finite)) if finite.size else float("nan")
    if frac > 0.5:
        return Finding("info", "Clipping on most steps",
                       f"Clipping at {clip:g} acted on {100 * frac:.0f}% of steps (median norm {median:.3g}): "
                       f"it then works as a smaller learning rate rather than a guard against spikes. "
                       f"That is fine, but --clip-grad-norm near {median:.2g} or a lower --lr gives the "
                       f"same updates with clipping kept for the rare spike ({PASCANU}).")
    return Finding("ok", "Gradient clipping",
                   f"Clipping at {clip:g} acted on {100 * frac:.1f}% of steps (median norm {median:.3g}).")


def stopped_text(interrupted_at: tuple[int, int]) -> str:
    """``"training stopped at epoch 7 of 30 (interrupted)"`` for ``(epochs run, epochs configured)``."""
    epochs_run, epochs = interrupted_at
    if epochs_run == 0:
        return f"training stopped during epoch 1 of {epochs} (interrupted)"
    return f"training stopped at epoch {epochs_run} of {epochs} (interrupted)"


def diagnose_interrupted(interrupted_at: tuple[int, int] | None) -> list[Finding]:
    """A warning when training stopped short of its configured epochs without early stopping."""
    if interrupted_at is None:
        return []
    epochs_run, epochs = interrupted_at
    if epochs_run == 0:
        advice = "no epoch finished, so there is no model and no checkpoint: train it again."
    else:
        advice = (f"the curves, the diagnosis and the saved model cover only those epochs. Continue it with "
                  f"--resume (classifykit train ... --resume <run folder>) to run the other {epochs - epochs_run}.")
    return [Finding("warning", "Training interrupted", f"{stopped_text(interrupted_at).capitalize()}: {advice}")]


def diagnose_epochs(epoch: np.ndarray, train_loss: np.ndarray, val_loss: np.ndarray,
                    val_acc: np.ndarray, interrupted_at: tuple[int, int] | None = None) -> list[Finding]:
    """Overfitting (val loss rising from its minimum while train loss falls) and "still improving"
    (which, when ``interrupted_at`` = ``(epochs run, epochs configured)``, points to resuming).

    All arrays have shape ``E`` (one value per epoch, accuracies as fractions).
    """
    epoch, tl, vl, va = (np.asarray(a, dtype=np.float64) for a in (epoch, train_loss, val_loss, val_acc))
    findings = []
    if len(epoch) >= 3 and np.isfinite(vl).any():
        best = int(np.nanargmin(vl))
        if best < len(vl) - 1 and vl[-1] > (1 + OVERFIT_RISE) * vl[best] and tl[-1] < tl[best]:
            findings.append(Finding(
                "warning", "Overfitting",
                f"Validation loss rose from {vl[best]:.3f} (epoch {int(epoch[best])}) to {vl[-1]:.3f} "
                f"(epoch {int(epoch[-1])}) while training loss kept falling: the model is memorising the "
                f"training set. The saved weights are from the best validation epoch. What to change: "
                f"stronger augmentation (--augment strong), more weight decay, label smoothing "
                f"(--label-smoothing 0.1), earlier stopping (--patience), or more data."))
    if len(epoch) >= 2 and np.isfinite(va[-2:]).all() and va[-1] >= np.nanmax(va) and va[-1] - va[-2] > 0.005:
        advice = ("more epochs (--epochs) would likely help" if interrupted_at is None else
                  f"{stopped_text(interrupted_at)}, so resuming it (--resume) to run the other "
                  f"{interrupted_at[1] - interrupted_at[0]} would likely help")
        findings.append(Finding(
            "info", "Still improving",
            f"Validation accuracy rose by {100 * (va[-1] - va[-2]):.1f} points in the last epoch and is at its "
            f"best: {advice}."))
    return findings


def diagnose_run(steps: dict[str, np.ndarray] | None, metrics: dict[str, np.ndarray] | None,
                 clip: float | None, *, recurrent: bool = False,
                 interrupted_at: tuple[int, int] | None = None) -> list[Finding]:
    """All diagnoses for one run, from steps.csv and metrics.csv columns (either may be None).

    ``recurrent``: the model is an RNN (text runs), which wants clipping; ``interrupted_at``:
    ``(epochs run, epochs configured)`` of a run that stopped short (``RunData.interrupted_at``).
    """
    findings: list[Finding] = diagnose_interrupted(interrupted_at)
    if steps and "grad_norm" in steps and len(steps["grad_norm"]):
        step = steps.get("step", np.arange(1, len(steps["grad_norm"]) + 1))
        findings += diagnose_explosion(step, steps["grad_norm"], steps.get("skipped"), clip)
        groups = {c[3:]: v for c, v in steps.items() if c.startswith("gn:")}
        findings += diagnose_vanishing(groups)
        findings.append(diagnose_clipping(steps["grad_norm"], steps.get("clipped"), clip, recurrent=recurrent))
    if metrics and all(k in metrics for k in ("epoch", "train_loss", "val_loss", "val_acc")):
        findings += diagnose_epochs(metrics["epoch"], metrics["train_loss"], metrics["val_loss"], metrics["val_acc"],
                                    interrupted_at)
    return findings
