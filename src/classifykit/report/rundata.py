"""Read a run folder (formats in docs/CONTRACTS.md) into one object the report sections share.

Every file except the folder itself is optional: a run that has trained but not been evaluated
has no ``eval.json`` yet, and its report says so instead of failing.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classifykit import runfolder as rf
from classifykit.errors import ClassifykitError

# config.json's select_metric -> the metrics.csv column fit selected on.
_SELECT_COLUMNS = {"accuracy": "val_acc", "macro_f1": "val_macro_f1", "balanced_accuracy": "val_balanced_acc"}
_KNOWN_FILES = (rf.CONFIG, rf.MANIFEST, rf.SPLIT, rf.CLASSES, rf.METRICS, rf.STEPS, rf.MODEL_META, rf.EVAL)


def replay_early_stopping(val_acc: Sequence[float], patience: int,
                          bad_epochs: Sequence[float] | None = None) -> tuple[int, bool]:
    """``(best epoch, stopped early)`` after these epochs' val scores (the run's select metric), as
    ``engine.trainer.fit`` decides them: a strictly better score is a new best (1-based epoch; 0 if
    none). ``bad_epochs`` (metrics.csv's column, runs since select_metric) is fit's own patience count,
    which counts only some epochs of a decaying schedule: patience > 0 reached there stopped training.
    Without it (older runs) ``patience`` epochs in a row without a new best did."""
    best, best_epoch, counted = -math.inf, 0, 0
    for epoch, acc in enumerate(val_acc, 1):
        if acc > best:
            best, best_epoch, counted = acc, epoch, 0
        else:
            counted += 1
    if bad_epochs is not None and len(bad_epochs) and not math.isnan(bad_epochs[-1]):
        counted = int(bad_epochs[-1])
    return best_epoch, patience > 0 and counted >= patience


@dataclass
class RunData:
    """Everything the report reads from one run folder; ``None`` (or empty) where a file is absent.

    ``metrics`` and ``steps`` map a column name to a float64 array (one value per epoch / step;
    empty cells are NaN, ``True``/``False`` are 1/0); ``steps`` keeps the file's column order, so the
    ``gn:<group>`` columns stay in model order (early layers first).
    """

    run_dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    model: dict[str, Any] | None = None
    classes: list[str] | None = None
    metrics: dict[str, np.ndarray] | None = None
    steps: dict[str, np.ndarray] | None = None
    eval: dict[str, Any] | None = None
    confusion: tuple[list[str], np.ndarray] | None = None
    predictions: list[dict[str, str]] | None = None
    split: list[dict[str, str]] | None = None
    manifest: list[dict[str, str]] | None = None
    skipped: list[dict[str, str]] | None = None

    @property
    def task(self) -> str:
        """``"image"``, ``"text"`` or ``"unknown"`` (from model.json, else the manifest's columns)."""
        if self.model and self.model.get("task") in ("image", "text"):
            return self.model["task"]
        if self.manifest:
            if "text" in self.manifest[0]:
                return "text"
            if "path" in self.manifest[0]:
                return "image"
        return "unknown"

    @property
    def clip_grad_norm(self) -> float | None:
        """The clipping threshold from ``config.json`` (``config.clip_grad_norm``), or None."""
        value = self.config.get("clip_grad_norm")
        return float(value) if value is not None else None

    @property
    def interrupted_at(self) -> tuple[int, int] | None:
        """``(epochs run, epochs configured)`` when training stopped short of ``config.json``'s
        ``epochs`` without early stopping (killed or Ctrl-C); None when it finished, stopped early
        (replayed from ``val_acc`` with the saved ``patience``), or the files do not say.
        ``eval.json``'s ``training_complete`` (written by ``classifykit evaluate``) is trusted when true."""
        epochs = self.config.get("epochs")
        m = self.metrics
        if (self.eval or {}).get("training_complete") is True or not isinstance(epochs, int) or not m or "val_acc" not in m:
            return None
        epochs_run = len(m["val_acc"])
        column = _SELECT_COLUMNS.get(self.config.get("select_metric") or "accuracy", "val_acc")
        scores = m[column] if column in m else m["val_acc"]
        bad = m["bad_epochs"].tolist() if "bad_epochs" in m else None
        _, stopped_early = replay_early_stopping(scores.tolist(), int(self.config.get("patience") or 0), bad)
        return (epochs_run, epochs) if epochs_run < epochs and not stopped_early else None

    @property
    def group_norm_columns(self) -> list[str]:
        """The ``gn:<group>`` columns of steps.csv in file (model) order."""
        return [c for c in (self.steps or {}) if c.startswith("gn:")]


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]] | None:
    if not path.is_file():
        return None
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _number(text: str | None, path: Path, row: int, column: str) -> float:
    text = (text or "").strip()
    if text == "":
        return math.nan
    lowered = text.lower()
    if lowered in ("true", "false"):
        return 1.0 if lowered == "true" else 0.0
    try:
        return float(text)
    except ValueError:
        raise ClassifykitError(
            f"{path}, row {row + 2}, column {column!r}: {text!r} is not a number; "
            f"the file is damaged — rerun the stage that wrote it."
        ) from None


def read_numeric_csv(path: Path) -> dict[str, np.ndarray] | None:
    """A CSV of numbers as ``{column: float64 array}`` in header order; None if the file is absent.

    Raises:
        ClassifykitError: a cell is neither empty, a number, nor True/False (names file, row, column).
    """
    table = _read_rows(path)
    if table is None:
        return None
    header, rows = table
    return {c: np.array([_number(r.get(c), path, i, c) for i, r in enumerate(rows)], dtype=np.float64)
            for c in header}


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ClassifykitError(f"{path}: not valid JSON ({e}); rerun the stage that wrote it.") from e


def _read_confusion(path: Path) -> tuple[list[str], np.ndarray] | None:
    if not path.is_file():
        return None
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return None
    labels = rows[0][1:]
    try:
        counts = np.array([[int(v) for v in r[1:]] for r in rows[1:]], dtype=np.int64)
    except ValueError as e:
        raise ClassifykitError(f"{path}: expected integer counts ({e}); rerun classifykit evaluate.") from e
    if counts.shape != (len(labels), len(labels)):
        raise ClassifykitError(f"{path}: expected a {len(labels)}×{len(labels)} table of counts, "
                               f"found {counts.shape[0]} rows; rerun classifykit evaluate.")
    return labels, counts


def load_run(run_dir: str | Path) -> RunData:
    """Read every report input of ``run_dir``; absent files become None.

    Raises:
        ClassifykitError: the folder does not exist or holds none of the run-folder files, or a
            file is damaged (the message names it).
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise ClassifykitError(f"{run}: no such folder; give the folder of a classifykit run (e.g. runs/<name>).")
    if not any((run / name).is_file() for name in _KNOWN_FILES):
        raise ClassifykitError(
            f"{run}: holds none of {', '.join(_KNOWN_FILES)}; is this a classifykit run folder?")
    data = RunData(run_dir=run)
    config = _read_json(run / rf.CONFIG) or {}
    data.config = config.get("config", {}) if isinstance(config, dict) else {}
    data.versions = config.get("versions", {}) if isinstance(config, dict) else {}
    data.model = _read_json(run / rf.MODEL_META)
    data.classes = _read_json(run / rf.CLASSES)
    data.metrics = read_numeric_csv(run / rf.METRICS)
    data.steps = read_numeric_csv(run / rf.STEPS)
    data.eval = _read_json(run / rf.EVAL)
    data.confusion = _read_confusion(run / rf.CONFUSION)
    for attr, name in (("predictions", rf.TEST_PREDICTIONS), ("split", rf.SPLIT),
                       ("manifest", rf.MANIFEST), ("skipped", rf.SKIPPED)):
        table = _read_rows(run / name)
        setattr(data, attr, table[1] if table is not None else None)
    return data
