"""The report's figures as PNG files (matplotlib, Agg canvas; no pyplot global state).

Each function takes arrays, writes one PNG and returns its path. Text from the user's data
(class names) is drawn with mathtext off (``parse_math=False``), so a class named ``$5`` is drawn
as written, and with a CJK fallback font (:mod:`classifykit.report.fonts`), so ``猫`` is not a box.
"""

from __future__ import annotations

import io
import warnings
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator

from classifykit.io import atomic_write_bytes
from classifykit.report.fonts import font_family, note_missing_glyphs

TRAIN, VAL, ACCENT, BAD = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"
_STYLE = {
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titleweight": "bold",
    "axes.titlesize": 10,
    "legend.frameon": False,
    "legend.fontsize": 8,
}
DPI = 110


@contextmanager
def _figure(path: Path, width: float, height: float, nrows: int = 1, ncols: int = 1, **kw):
    """Yield ``(fig, axes 2-D array)`` of a ``width``×``height`` inch figure (at :data:`DPI` pixels per inch)
    and save it atomically as a PNG at ``path`` on exit."""
    with warnings.catch_warnings(record=True) as caught, rc_context({**_STYLE, "font.family": list(font_family())}):
        warnings.simplefilter("always")
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
        yield fig, axes
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    note_missing_glyphs(caught)
    atomic_write_bytes(path, buf.getvalue())


def _positive(values: np.ndarray) -> np.ndarray:
    """NaN where a value cannot be drawn on a log axis (≤ 0 or non-finite)."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(v) & (v > 0), v, np.nan)


class _PlainLogFormatter(LogFormatter):
    """matplotlib's choice of which log ticks to label, written as plain numbers (``0.6``, not ``6e−01``)."""

    def __call__(self, x, pos=None):
        return f"{x:g}" if super().__call__(x, pos) else ""


def _log_y(ax) -> None:
    """Log y axis labelled with plain numbers; minor ticks are labelled too when the range is short."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_PlainLogFormatter(labelOnlyBase=False))
    ax.yaxis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1.5, 0.5)))


def learning_curves(path: Path, epoch: np.ndarray, train_loss: np.ndarray, val_loss: np.ndarray,
                    train_acc: np.ndarray, val_acc: np.ndarray, best_epoch: int | None) -> Path:
    """Loss and accuracy (%) per epoch for train and val, the best epoch marked. Arrays of shape ``E``."""
    with _figure(path, 9, 3.4, 1, 2) as (fig, axes):
        loss_ax, acc_ax = axes[0]
        for ax, (tr, va), title, scale in ((loss_ax, (train_loss, val_loss), "Loss", 1),
                                           (acc_ax, (train_acc, val_acc), "Accuracy (%)", 100)):
            ax.plot(epoch, scale * np.asarray(tr), "o-", color=TRAIN, ms=3, label="train")
            ax.plot(epoch, scale * np.asarray(va), "o-", color=VAL, ms=3, label="val")
            ax.set_title(title)
            ax.set_xlabel("epoch")
            if best_epoch is not None:
                ax.axvline(best_epoch, color=ACCENT, ls="--", lw=1, label=f"best epoch {best_epoch}")
            ax.legend()
        if best_epoch is not None and best_epoch in set(np.asarray(epoch).astype(int).tolist()):
            i = int(np.flatnonzero(np.asarray(epoch).astype(int) == best_epoch)[0])
            if np.isfinite(val_acc[i]):
                acc_ax.annotate(f"{100 * val_acc[i]:.1f}%", (best_epoch, 100 * val_acc[i]),
                                textcoords="offset points", xytext=(4, -12), color=ACCENT)
        if len(epoch) <= 20:
            for ax in axes[0]:
                ax.set_xticks(np.asarray(epoch).astype(int))
    return path


def learning_rate(path: Path, x: np.ndarray, lr: np.ndarray, xlabel: str,
                  epoch_starts: np.ndarray | None = None) -> Path:
    """Learning rate against steps (or epochs); dotted lines at each epoch's first step."""
    with _figure(path, 9, 2.6) as (fig, axes):
        ax = axes[0, 0]
        if epoch_starts is not None:
            for i, s in enumerate(epoch_starts):
                ax.axvline(s, color="0.55", lw=0.8, ls=":", zorder=0, label="epoch start" if i == 0 else None)
        ax.plot(x, lr, color=TRAIN, lw=1.2, label="lr")
        if epoch_starts is not None and len(epoch_starts):
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
        ax.set_title("Learning rate (param group 0)")
        ax.set_xlabel(xlabel)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    return path


def grad_norms(path: Path, step: np.ndarray, grad_norm: np.ndarray, clip: float | None,
               clipped_frac: float | None, median: np.ndarray, spikes: np.ndarray,
               group_norms: dict[str, np.ndarray]) -> Path:
    """Global gradient norm before clipping (log scale) with threshold, spikes and non-finite steps;
    below it, when given, one line per layer group (``group_norms``: name → norms of shape ``N``)."""
    nrows = 2 if group_norms else 1
    with _figure(path, 9, 3.0 * nrows, nrows, 1, sharex=True) as (fig, axes):
        ax = axes[0, 0]
        ax.plot(step, _positive(grad_norm), color=TRAIN, lw=0.8, label="grad norm (before clipping)")
        ax.plot(step, _positive(median), color="0.4", lw=1, ls=":", label="running median")
        if clip is not None:
            frac = "" if clipped_frac is None else f" — {100 * clipped_frac:.1f}% of steps clipped"
            ax.axhline(clip, color=BAD, ls="--", lw=1, label=f"clip threshold {clip:g}{frac}")
        if spikes.size:
            ax.plot(step[spikes], grad_norm[spikes], "v", color=BAD, ms=6, label="spike (>10× median)")
        bad = ~np.isfinite(np.asarray(grad_norm, dtype=np.float64))
        for i, s in enumerate(np.asarray(step)[bad]):
            ax.axvline(s, color=BAD, lw=0.8, alpha=0.6, label="NaN / inf" if i == 0 else None)
        _log_y(ax)
        ax.set_title("Gradient norm per step (global L2, before clipping)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
        if group_norms:
            gax = axes[1, 0]
            palette = matplotlib.colormaps["tab10" if len(group_norms) <= 10 else "tab20"]
            colors = [palette(i % palette.N) for i in range(len(group_norms))]
            for (name, values), color in zip(group_norms.items(), colors):
                gax.plot(step, _positive(values), lw=0.8, color=color, label=name)
            _log_y(gax)
            gax.set_title("Gradient norm per layer group (early layers first in the legend)")
            gax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), ncols=1 if len(group_norms) <= 16 else 2)
        axes[-1, 0].set_xlabel("step")
    return path


def confusion(path: Path, classes: list[str], counts: np.ndarray) -> Path:
    """Confusion matrix ``K×K`` (rows true, columns predicted): counts and row-normalised side by side."""
    k = len(classes)
    side = min(max(3.6, 0.42 * k + 1.6), 14)
    rows = counts.sum(axis=1, keepdims=True)
    norm = np.divide(counts, rows, out=np.zeros(counts.shape, dtype=np.float64), where=rows > 0)
    label_size = 8 if k <= 20 else max(4, 8 - k // 20)
    stacked = k > 20  # side by side, many classes would leave each matrix too small to read
    shape = (2, 1) if stacked else (1, 2)
    size = (side + 1.4, 2 * side) if stacked else (2 * side + 1.4, side)
    with _figure(path, *size, *shape) as (fig, axes):
        for ax, values, title, fmt, vmax in ((axes.flat[0], counts, "Counts", "d", None),
                                             (axes.flat[1], norm, "Row-normalised (recall)", ".2f", 1)):
            im = ax.imshow(values, cmap="Blues", vmin=0, vmax=vmax)
            ax.set_title(title)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_xticks(range(k), classes, rotation=45 if k > 3 else 0, ha="right" if k > 3 else "center",
                          fontsize=label_size, parse_math=False)
            ax.set_yticks(range(k), classes, fontsize=label_size, parse_math=False)
            ax.grid(False)
            bar = fig.colorbar(im, ax=ax, shrink=0.8)
            if vmax is None:
                bar.locator = MaxNLocator(integer=True)
                bar.update_ticks()
            if k <= 15:
                top = values.max() if values.size else 0
                for i in range(k):
                    for j in range(k):
                        v = values[i, j]
                        ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=7,
                                color="white" if top and v > 0.6 * top else "black")
    return path


def per_class(path: Path, classes: list[str], precision: np.ndarray, recall: np.ndarray, f1: np.ndarray) -> Path:
    """Horizontal bars of precision, recall and F1 per class (fractions drawn as %), shape ``K`` each."""
    k = len(classes)
    y = np.arange(k)
    with _figure(path, 5.2, max(2.4, 0.32 * k + 1.3)) as (fig, axes):
        ax = axes[0, 0]
        h = 0.26
        for off, values, name, color in ((-h, precision, "precision", TRAIN), (0, recall, "recall", VAL),
                                         (h, f1, "F1", ACCENT)):
            ax.barh(y + off, 100 * np.asarray(values), height=h, color=color, label=name)
        ax.set_yticks(y, classes, fontsize=8 if k <= 30 else 6, parse_math=False)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("%")
        ax.set_title("Per-class precision, recall and F1 (test)")
        fig.legend(loc="outside lower center", ncols=3)
    return path


def class_counts(path: Path, classes: list[str], counts: dict[str, np.ndarray]) -> Path:
    """Stacked horizontal bars of items per class in each split (``counts``: split → shape ``K``)."""
    k = len(classes)
    y = np.arange(k)
    colors = {"train": TRAIN, "val": VAL, "test": ACCENT}
    with _figure(path, 5.2, max(2.2, 0.28 * k + 1.3)) as (fig, axes):
        ax = axes[0, 0]
        left = np.zeros(k)
        for split, values in counts.items():
            ax.barh(y, values, left=left, color=colors.get(split, "0.5"), label=split, height=0.7)
            left = left + values
        ax.set_yticks(y, classes, fontsize=8 if k <= 30 else 6, parse_math=False)
        ax.invert_yaxis()
        ax.set_xlabel("items")
        ax.set_title("Items per class and split")
        fig.legend(loc="outside lower center", ncols=len(counts))
    return path


def reliability(path: Path, curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Path:
    """Reliability diagram (Guo et al. 2017): accuracy (%) against mean confidence (%) per bin, one line
    per entry of ``curves`` (label → ``(confidence, accuracy, count)``, shape ``B`` each, fractions),
    marker area proportional to the bin's item count, and the diagonal of perfect calibration."""
    colors = [BAD, ACCENT, TRAIN, VAL]
    with _figure(path, 4.6, 4.2) as (fig, axes):
        ax = axes[0, 0]
        ax.plot([0, 100], [0, 100], color="0.5", ls="--", lw=1, label="perfectly calibrated")
        for (label, (conf, acc, n)), color in zip(curves.items(), colors):
            n = np.asarray(n, dtype=np.float64)
            size = 12 + 140 * n / n.max() if n.size and n.max() > 0 else 12
            ax.plot(100 * np.asarray(conf), 100 * np.asarray(acc), "-", color=color, lw=1.2, label=label)
            ax.scatter(100 * np.asarray(conf), 100 * np.asarray(acc), s=size, color=color, alpha=0.7, zorder=3)
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.set_aspect("equal")
        ax.set_xlabel("confidence (%)")
        ax.set_ylabel("accuracy (%)")
        ax.set_title("Reliability (marker area: items per bin)")
        ax.legend(loc="upper left")
    return path
