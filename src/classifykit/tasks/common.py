"""Pieces every task shares: the run folder's config, class list, and writing test-set evaluation."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import sys
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from classifykit import runfolder as rf
from classifykit.config import config_to_dict
from classifykit.data.scan import ScanResult, reason_kind
from classifykit.data.split import SmallClassWarning
from classifykit.errors import ClassifykitError
from classifykit.io import read_json, write_csv, write_json


WARNING_PREFIXES = ("warning:", "note:")  # lines that are data warnings: always said, on stderr


def say(cfg: Any, line: str, *, summary: bool = False) -> None:
    """Print one status line (rank 0 only: other ranks never print).

    ``--quiet`` keeps only the summary lines (``summary=True``: test accuracy, report, run folder).
    A line that starts with ``warning:`` or ``note:`` is a data warning: it goes to :func:`warn`.
    """
    if line.startswith(WARNING_PREFIXES):
        warn(cfg, line)
        return
    from classifykit.engine.distributed import dist_info

    if (summary or not getattr(cfg, "quiet", False)) and dist_info().is_main:
        print(line, flush=True)


def warn(cfg: Any, line: str) -> None:
    """Print one data warning (skipped files, empty or tiny classes, label collisions, ignored
    options) on stderr, with or without ``--quiet``: quiet hides progress, never what is wrong with
    the data (issue 15, defect 3). Rank 0 only. ``line`` starts with ``warning:`` or ``note:``;
    ``cfg`` is unused but keeps the call shaped as :func:`say`'s."""
    from classifykit.engine.distributed import dist_info

    if dist_info().is_main:
        print(line, file=sys.stderr, flush=True)


def prepare_run_dir(cfg: Any, prefix: str, resume: str | None) -> Path:
    """Return the run folder: ``resume`` if given (must hold ``checkpoints/last.pt``), else a new one.

    A new run refuses a named folder that already holds a trained model, so nothing is overwritten.

    Raises:
        ClassifykitError: ``--resume`` names a folder without a checkpoint, or ``--name`` names a
            folder that already holds a run.
    """
    if resume is not None:
        run = Path(resume)
        if not (run / rf.LAST_CHECKPOINT).is_file():
            raise ClassifykitError(f"--resume {run}: no {rf.LAST_CHECKPOINT} there; give the folder of an earlier run.")
        return run
    run = rf.new_run_dir(cfg.runs_dir, cfg.name, prefix)
    if (run / rf.MODEL_META).exists() or (run / rf.LAST_CHECKPOINT).exists():
        raise ClassifykitError(
            f"--name {cfg.name}: {run} already holds a run; choose another name, or continue it with --resume {run}."
        )
    return run


def scan_warnings(result: ScanResult, skipped_path: Path) -> list[str]:
    """The ``warning:`` lines of an image scan: files skipped (counted by kind, e.g. ``2 not an
    image, 1 truncated``) and classes left without a usable image; none for a clean scan."""
    lines = []
    if result.skipped:
        kinds = Counter(reason_kind(r) for _, r in result.skipped)
        lines.append(f"warning: {len(result.skipped)} file(s) skipped "
                     f"({', '.join(f'{n} {k}' for k, n in kinds.most_common())}); see {skipped_path}")
    if result.empty_classes:
        lines.append(f"warning: empty classes (no usable image; left out): {', '.join(result.empty_classes)}")
    return lines


@contextlib.contextmanager
def small_class_warnings_said(cfg: Any):
    """Say each :class:`~classifykit.data.split.SmallClassWarning` raised in the block as a
    ``warning: ...`` line on stderr (:func:`warn`, also under ``--quiet``) instead of a raw Python warning on stderr, every time
    (Python would show one per call site only once). Other warnings raised in the block are said the
    same way."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SmallClassWarning)
        yield
    for w in caught:
        warn(cfg, f"warning: {w.message}")


@contextlib.contextmanager
def remove_on_error(run: Path):
    """Delete the new run folder ``run`` if the block raises a user error (bad data, bad option),
    so a failed start leaves no half-made run behind. Only used before training writes anything."""
    try:
        yield
    except ClassifykitError:
        shutil.rmtree(run, ignore_errors=True)
        raise


def save_config(run: Path, cfg: Any) -> None:
    """Write ``config.json``: the resolved configuration plus library versions."""
    write_json(run / rf.CONFIG, config_to_dict(cfg))


def load_saved_config(run: Path, cls: type) -> Any:
    """Read ``config.json`` back into dataclass ``cls`` (for ``--resume``)."""
    values = read_json(run / rf.CONFIG)["config"]
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def resumed_config(run: Path, cls: type, epochs: int | None = None) -> Any:
    """The saved ``config.json`` of a run being resumed (dataclass ``cls``), with ``epochs`` (None:
    as saved) in place of the saved ``epochs``. More epochs extend a finished, stopped or interrupted
    run to ``epochs`` in all: the trainer starts a new one-cycle/cosine segment over the epochs added
    and says so (``engine.trainer.fit``).

    Raises:
        ClassifykitError: ``epochs`` the config refuses (below 1), or fewer than the run has
            already trained.
    """
    from classifykit.tasks.progress import training_progress

    cfg = load_saved_config(run, cls)
    if epochs is None:
        return cfg
    cfg = dataclasses.replace(cfg, epochs=epochs)
    progress = training_progress(run)
    if progress is not None and epochs < progress.epochs_run:
        raise ClassifykitError(f"--epochs {epochs}: {run} has already trained {progress.epochs_run} epochs; give "
                               f"--epochs {progress.epochs_run + 1} or more to train further, or evaluate the run as it is.")
    return cfg


def write_classes(run: Path, classes: list[str]) -> None:
    """Write ``classes.json`` once; refuses to change an existing, different class list."""
    path = run / rf.CLASSES
    if path.exists():
        old = read_json(path)
        if old != classes:
            raise ClassifykitError(f"{path} lists classes {old}, but the data now has {classes}; start a new run.")
        return
    write_json(path, classes)


def write_evaluation(run: Path, items: list[str], targets: torch.Tensor, logits: torch.Tensor,
                     classes: list[str], *, split: str = "test", prefix: str = "", extra: dict | None = None,
                     blocks: Callable[[dict], dict] | None = None) -> dict:
    """Write ``eval.json``, ``confusion.csv`` and ``test_predictions.csv`` for one evaluated split.

    Args:
        items: manifest keys (paths or row numbers) in the order of ``logits`` rows.
        targets: true class indices, int64 ``N``.
        logits: ``N×K`` float.
        prefix: file-name prefix (``""`` for the run's own test split; e.g. ``"external-"`` for --data).
        extra: more eval.json fields (e.g. ``training_complete`` from ``classifykit evaluate``).
        blocks: called with the report so far; returns more eval.json blocks (baselines, calibration,
            findings: :func:`classifykit.tasks.honest.evaluation_blocks`).

    Returns the eval.json body (see docs/CONTRACTS.md).
    """
    from classifykit.engine.metrics import classification_report

    report = classification_report(targets.numpy(), logits.numpy(), classes)
    report = {**report, "split": split, **(extra or {})}
    if blocks is not None:
        report.update(blocks(report))
    write_json(run / f"{prefix}{rf.EVAL}", report)
    from sklearn.metrics import confusion_matrix

    preds = logits.argmax(1)
    cm = confusion_matrix(targets.numpy(), preds.numpy(), labels=list(range(len(classes))))
    write_csv(run / f"{prefix}{rf.CONFUSION}", ["true\\pred", *classes],
              ([c, *map(int, row)] for c, row in zip(classes, cm)))
    probs = torch.softmax(logits.float(), 1)
    conf = probs.max(1).values
    write_csv(run / f"{prefix}{rf.TEST_PREDICTIONS}", ["item", "label", "pred", "prob", "correct"],
              ([item, classes[t], classes[p], f"{c:.6f}", int(t == p)]
               for item, t, p, c in zip(items, targets.tolist(), preds.tolist(), conf.tolist())))
    return report


def format_accuracy(report: dict) -> str:
    """One line: ``test accuracy 91.3% (95% CI 90.1–92.4%, n=2500)``."""
    lo, hi = report["ci95"]
    return (f"{report['split']} accuracy {100 * report['accuracy']:.1f}% "
            f"(95% Wilson CI {100 * lo:.1f}–{100 * hi:.1f}%, n={report['n']})")
