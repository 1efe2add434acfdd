"""Model selection and early stopping: which val metric picks the best epoch, and when patience counts.

Why patience waits for the anneal: one-cycle (Smith & Topin 2018) and cosine schedules make most of
their gain as the LR falls; while the LR is high, val scores are held at a noise floor the LR sets,
so epochs without a new best there say nothing about convergence. Measured in issue 13: patience 5
stopped a 20-epoch one-cycle at epoch 15 with the LR still at 28% of its peak. So with ``onecycle``
or ``cosine`` an epoch counts towards ``patience`` only when it lies wholly in the last 30% of its
schedule segment (one-cycle's own split: 30% rising, and this tail is where the LR falls below ~40%
of peak towards peak/1e4); a ``constant`` schedule counts every epoch. With the defaults (10 epochs,
patience 5) a decaying schedule therefore always runs to its end.
"""

from __future__ import annotations

from fractions import Fraction

ANNEAL_TAIL = Fraction(3, 10)

# --select-metric value -> key of engine.loop.evaluate's result (and the metrics.csv column after "val_").
SELECT_KEYS = {"accuracy": "acc", "macro_f1": "macro_f1", "balanced_accuracy": "balanced_acc"}
SELECT_NAMES = {"accuracy": "val accuracy", "macro_f1": "val macro-F1", "balanced_accuracy": "val balanced accuracy"}


def patience_counts(schedule: str, epoch: int, segment_start: int, epochs: int) -> bool:
    """Whether ``epoch`` (1-based) may count towards early stopping's patience.

    ``segment_start`` = epochs run before the current LR schedule segment began (0, or the old
    length of a run extended by ``fit(resume=True)``); ``epochs`` = where the segment ends.
    Example: onecycle over 20 epochs → epochs 15-20 count.
    """
    if schedule == "constant":
        return True
    return epoch - 1 - segment_start >= (1 - ANNEAL_TAIL) * (epochs - segment_start)
