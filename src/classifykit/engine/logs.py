"""``metrics.csv`` (one row per epoch) and ``steps.csv`` (one row per optimizer step) of a run.

metrics.csv is small and rewritten atomically every epoch; steps.csv grows by one block of rows per
epoch (appended). On resume both are cut back to the checkpoint's epoch, so rows from an epoch
that was interrupted, and is now run again, are not duplicated.
"""

from __future__ import annotations

import csv
from pathlib import Path

from classifykit import runfolder
from classifykit.io import read_csv_rows, write_csv

METRICS_HEADER = [
    "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "grad_norm_mean", "grad_norm_max",
    "clipped_frac", "seconds", "samples_per_s", "skipped", "val_macro_f1", "val_balanced_acc", "bad_epochs",
]


def steps_header(groups: list[str]) -> list[str]:
    """``steps.csv`` columns: step, epoch, loss, lr, grad_norm, clipped, skipped, then ``gn:<group>``."""
    return ["step", "epoch", "loss", "lr", "grad_norm", "clipped", "skipped", *[f"gn:{g}" for g in groups]]


class RunLogs:
    """Writes the two CSV logs into ``run_dir``; does nothing when ``enabled`` is False (ranks > 0)."""

    def __init__(self, run_dir: Path, steps_columns: list[str], enabled: bool = True) -> None:
        self.metrics_path = Path(run_dir) / runfolder.METRICS
        self.steps_path = Path(run_dir) / runfolder.STEPS
        self.steps_columns = steps_columns
        self.enabled = enabled

    def start(self) -> None:
        """A fresh run: both files with their header only."""
        if self.enabled:
            write_csv(self.metrics_path, METRICS_HEADER, [])
            write_csv(self.steps_path, self.steps_columns, [])

    def restore(self, metrics_rows: list[list], epoch: int) -> None:
        """Resuming after ``epoch``: metrics from the checkpoint, steps.csv cut to epochs ``<= epoch``."""
        if not self.enabled:
            return
        self.write_metrics(metrics_rows)
        kept = []
        if self.steps_path.is_file():
            kept = [[r.get(c, "") for c in self.steps_columns] for r in read_csv_rows(self.steps_path) if int(r["epoch"]) <= epoch]
        write_csv(self.steps_path, self.steps_columns, kept)

    def write_metrics(self, rows: list[list]) -> None:
        """Rewrite metrics.csv with ``rows`` (values in ``METRICS_HEADER`` order; rows of checkpoints
        written before the last columns existed get empty cells there)."""
        if self.enabled:
            write_csv(self.metrics_path, METRICS_HEADER, [[*r, *[""] * (len(METRICS_HEADER) - len(r))] for r in rows])

    def append_steps(self, rows: list[list]) -> None:
        """Append step rows (values in ``steps_header`` order)."""
        if self.enabled and rows:
            with open(self.steps_path, "a", encoding="utf-8", newline="") as f:
                csv.writer(f, lineterminator="\n").writerows(rows)
