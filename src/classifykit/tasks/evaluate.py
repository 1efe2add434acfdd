"""``classifykit evaluate RUN [--data DIR|manifest]``: test figures from the saved split and class list.

Without ``--data`` the run's own test split (``split.csv``) is evaluated again; with ``--data`` every
item of another labelled folder or manifest is, its labels mapped onto the saved class list by name
(never a rebuilt index). Writes ``eval.json``, ``confusion.csv`` and ``test_predictions.csv`` (for
``--data``, into ``RUN/eval-<data name>/``). A run whose training was interrupted is evaluated too
(its best model so far); :func:`training_note` says so and how to resume. A run stopped during its
first epoch has no model: :func:`check_has_model` says so instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from classifykit import runfolder as rf
from classifykit.config import ImageConfig
from classifykit.data.dataset import loader_kwargs
from classifykit.engine.device import select_device
from classifykit.engine.loop import predict_logits
from classifykit.errors import ClassifykitError
from classifykit.io import read_csv_rows, read_json
from classifykit.tasks.common import load_classes, load_saved_config, write_evaluation


def run_task(run: Path) -> str:
    """``"image"`` or ``"text"``, from the run's ``model.json``."""
    path = Path(run) / rf.MODEL_META
    if not path.is_file():
        raise ClassifykitError(f"{run}: no {rf.MODEL_META}; give the folder of a finished classifykit run.")
    return read_json(path)["task"]


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
    task = "text" if run_task(run) == "text" else "images"
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
    task = "text" if run_task(run) == "text" else "images"
    return (f"note: training of this run stopped after epoch {progress.epochs_run} of {progress.epochs} "
            f"(interrupted?); evaluating the best model so far (epoch {progress.best_epoch}). "
            f"Resume with: classifykit train {task} --resume {run}")


def evaluate_images(run: Path, data: str | None = None, *, batch_size: int = 256, device: str = "auto",
                    num_workers: int = -1, extra: dict | None = None) -> tuple[dict, Path]:
    """Evaluate an image run; returns ``(eval.json body, folder the files were written to)``.
    ``extra``: more eval.json fields (see :func:`classifykit.tasks.common.write_evaluation`).

    Raises:
        ClassifykitError: not a run folder, no test split, or ``--data`` labels outside the class list.
    """
    from classifykit.data.scan import scan_folder, verify_items
    from classifykit.data.manifest import manifest_root, read_manifest
    from classifykit.models.saved import load_saved_model
    from classifykit.tasks.image import data_root, eval_dataset, load_data

    run = Path(run)
    classes = load_classes(run)
    dev = select_device(device)
    model, meta = load_saved_model(run, dev)
    if data is None:
        cfg = load_saved_config(run, ImageConfig)
        image_data = load_data(run, data_root(cfg))
        paths, targets = image_data.subset("test")
        root, out_dir, split = image_data.root, run, "test"
        if not paths:
            raise ClassifykitError(f"{run}: the saved split has no test items (trained with --test-ratio 0); pass --data.")
    else:
        source = Path(data)
        if source.is_dir():
            result, root = scan_folder(source, progress=False), source
        elif source.is_file():
            root = manifest_root(source)
            result = verify_items(root, read_manifest(source), progress=False)
        else:
            raise ClassifykitError(f"--data {data}: no such folder or manifest file.")
        unknown = sorted({it.label for it in result.items} - set(classes))
        if unknown:
            raise ClassifykitError(
                f"--data {data}: labels {', '.join(map(repr, unknown))} are not among the model's classes "
                f"({', '.join(map(repr, classes))}); remove those items or rename their folders."
            )
        index = {c: i for i, c in enumerate(classes)}
        paths = [it.path for it in result.items]
        targets = [index[it.label] for it in result.items]
        out_dir, split = run / f"eval-{source.stem or 'data'}", f"data:{source.name}"
        out_dir.mkdir(exist_ok=True)
    loader = DataLoader(eval_dataset(meta, root, paths, targets), batch_size=batch_size, **loader_kwargs(num_workers, dev))
    logits, y = predict_logits(model, loader, dev)
    return write_evaluation(out_dir, paths, y, logits, classes, split=split, extra=extra), out_dir


def evaluate_run(run: Path, data: str | None = None, *, batch_size: int = 256, device: str = "auto") -> tuple[dict, Path]:
    """Evaluate an image or text run (dispatch on ``model.json``'s task); see :func:`evaluate_images`.

    ``eval.json`` also gets ``"training_complete"``: False when training was interrupted (the best
    model so far was evaluated), None when the run folder does not say (see :func:`training_progress`).

    Raises:
        ClassifykitError: see :func:`check_has_model` and :func:`evaluate_images`.
    """
    if batch_size < 1:
        raise ClassifykitError(f"--batch-size {batch_size}: must be at least 1.")
    progress = training_progress(run)
    check_has_model(run, progress)
    extra = {"training_complete": None if progress is None else progress.complete}
    if run_task(run) == "text":
        from classifykit.tasks.text import evaluate_text

        return evaluate_text(Path(run), data, batch_size=batch_size, device=device, extra=extra)
    return evaluate_images(Path(run), data, batch_size=batch_size, device=device, extra=extra)


def predict_run(run: Path, inputs: list[str], texts: list[str], out: Path, *, top_k: int = 3, batch_size: int = 64,
                device: str = "auto", encoding: str | None = None) -> tuple[int, list[tuple[str, str]]]:
    """Predict with an image or text run; returns ``(number predicted, [(input, error), ...])``.

    ``encoding`` (``--encoding``) is how a text run's input files are read (None: the run's own).

    Raises:
        ClassifykitError: ``--text`` or ``--encoding`` given to an image run, or no inputs for an image run.
    """
    if batch_size < 1 or top_k < 1:
        raise ClassifykitError(f"--batch-size {batch_size} / --top-k {top_k}: both must be at least 1.")
    if run_task(run) == "text":
        from classifykit.tasks.text import predict_text

        return predict_text(Path(run), inputs, texts, out, top_k=top_k, batch_size=batch_size, device=device,
                            encoding=encoding)
    if encoding is not None:
        raise ClassifykitError(f"--encoding: {run} is an image run; --encoding sets how a text run's input files are read.")
    if texts:
        raise ClassifykitError(f"--text: {run} is an image run; give image files, folders or a manifest.")
    if not inputs:
        raise ClassifykitError("Give the images to predict: files, folders or a manifest CSV after the run folder.")
    from classifykit.tasks.predict import predict_images

    return predict_images(Path(run), inputs, out, top_k=top_k, batch_size=batch_size, device=device)
