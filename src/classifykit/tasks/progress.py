"""How far a run's training got: read from its checkpoint or logs, for ``classifykit evaluate``'s note
and its refusal of a run that never finished an epoch.

A run whose training was interrupted is evaluated too (its best model so far); :func:`training_note`
says so and how to resume. A run stopped during its first epoch has no model: :func:`check_has_model`
says so instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from classifykit import runfolder as rf
from classifykit.errors import ClassifykitError
from classifykit.io import read_csv_rows, read_json
from classifykit.models.meta import ModelMeta
from classifykit.tasks.adapter import get_adapter


def _train_command(run: Path) -> str:
    """``images`` or ``text``: the ``classifykit train`` word of the run's task."""
    return get_adapter(ModelMeta.load(run).task).train_command


@dataclass(frozen=True)
class TrainingProgress:
    """How far a run's training got: ``epochs_run`` of the ``epochs`` configured, the epoch of the
    saved best model (1-based; 0 if none), and whether early stopping (``--patience``) ended it."""

    epochs_run: int
    epochs: int
    best_epoch: int
    stopped_early: bool

    @property
    def complete(self) -> bool:
        """Training ended by itself: every configured epoch ran, or early stopping ended it."""
        return self.stopped_early or self.epochs_run >= self.epochs


def training_progress(run: Path) -> TrainingProgress | None:
    """Read how far training got from the run folder; None when its files do not say.

    ``checkpoints/last.pt`` (written after every epoch) records the epoch, the configured epochs, the
    best epoch and whether training stopped early; it is read memory-mapped, so its tensors are not
    loaded. Without a readable checkpoint (deleted to save space, say), ``metrics.csv`` (one row per
    finished epoch) is compared with ``config.json``'s ``epochs``, and early stopping is replayed from
    its ``val_acc`` column with the saved ``patience``, as ``engine.trainer.fit`` decides it.
    """
    run = Path(run)
    try:
        saved = torch.load(run / rf.LAST_CHECKPOINT, map_location="cpu", weights_only=True, mmap=True)
        return TrainingProgress(int(saved["epoch"]), int(saved["epochs"]), int(saved["best_epoch"]),
                                bool(saved["stopped_early"]))
    except Exception:  # missing, truncated or foreign file (torch raises many types): try the logs
        pass
    try:
        config = read_json(run / rf.CONFIG)["config"]
        val_acc = [float(row["val_acc"]) for row in read_csv_rows(run / rf.METRICS)]
        epochs, patience = int(config["epochs"]), int(config.get("patience") or 0)
    except (OSError, KeyError, TypeError, ValueError, ClassifykitError):
        return None  # the note is advice: a damaged log must not stop the evaluation
    from classifykit.report.rundata import replay_early_stopping

    best_epoch, stopped_early = replay_early_stopping(val_acc, patience)
    return TrainingProgress(len(val_acc), epochs, best_epoch, stopped_early)


def check_has_model(run: Path, progress: TrainingProgress | None = None) -> None:
    """Refuse a run that never finished an epoch: it has no ``model.safetensors`` (the best model is
    saved at the end of an epoch) and no ``checkpoints/last.pt`` to resume from. ``progress``: the
    run's :func:`training_progress`, if already read.

    Raises:
        ClassifykitError: naming the run, where training stopped and how to start it again.
    """
    run = Path(run)
    if (run / rf.WEIGHTS).is_file():
        return
    progress = progress or training_progress(run)
    if progress is None or progress.epochs_run > 0:
        return  # the weights file went missing later, or the folder does not say: loading it says so
    task = _train_command(run)
    try:
        data = read_json(run / rf.CONFIG)["config"]["data"] or "DATA"
    except (OSError, KeyError, TypeError, ClassifykitError):
        data = "DATA"
    raise ClassifykitError(
        f"{run} has no finished epoch (training stopped during epoch 1 of {progress.epochs}): there is no model to evaluate, "
        f"and no checkpoint to resume from. Train it again: classifykit train {task} {data}")


def training_note(run: Path) -> str | None:
    """The note printed before evaluating a run whose training did not finish (None if it did, if
    no epoch finished (:func:`check_has_model` refuses such a run), or if the run folder does not
    say): how far it got, which epoch's model is evaluated, how to resume."""
    progress = training_progress(run)
    if progress is None or progress.complete or progress.epochs_run == 0:
        return None
    task = _train_command(run)
    return (f"note: training of this run stopped after epoch {progress.epochs_run} of {progress.epochs} "
            f"(interrupted?); evaluating the best model so far (epoch {progress.best_epoch}). "
            f"Resume with: classifykit train {task} --resume {run}")
