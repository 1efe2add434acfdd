"""One pipeline for every task: ``train``, ``evaluate`` and ``predict``.

Each stage is written once and asks the run's task adapter (:mod:`classifykit.tasks.adapter`) only
for what differs between tasks. Training's test stage is :func:`evaluate`; every logit that becomes a
probability is divided by ``model.json``'s ``temperature`` first; evaluation and prediction use
autocast exactly when the run trained with ``--amp`` (``engine.loop.predict_logits``: on CUDA only).
"""

from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path
from typing import Any

import torch

from classifykit import runfolder as rf
from classifykit.data.dataset import resolve_num_workers
from classifykit.engine.device import configure_cpu_threads, select_device
from classifykit.engine.distributed import all_gather_objects, barrier, init_distributed
from classifykit.engine.loop import predict_logits
from classifykit.engine.seed import seed_everything
from classifykit.io import read_csv_rows, write_csv
from classifykit.models.meta import ModelMeta, record_best
from classifykit.models.saved import load_saved_model
from classifykit.tasks import image, image_auto, text  # noqa: F401  (the built-in adapters register on import)
from classifykit.tasks.adapter import adapter_for_config, get_adapter
from classifykit.tasks.baselines import after_training
from classifykit.tasks.common import (format_accuracy, load_saved_config, prepare_run_dir, remove_on_error,
                                      resumed_config, save_config, say, write_evaluation)
from classifykit.tasks.honest import evaluation_blocks, say_honest
from classifykit.tasks.predictor import Predictor
from classifykit.tasks.progress import check_has_model, training_progress

PREDICTION_COLUMNS = ("label", "probability", "top_k", "error")  # after the task's key columns


def train(cfg: Any, resume: str | None = None, *, epochs: int | None = None) -> Path:
    """Train, test and report one run of ``cfg``'s task (:class:`~classifykit.config.ImageConfig` or
    :class:`~classifykit.config.TextConfig`); returns the run folder.

    ``resume``: continue that run folder from ``checkpoints/last.pt`` with its saved ``config.json``
    (``cfg`` then only picks the task); ``epochs`` replaces the saved epochs (extends the run; see
    :func:`~classifykit.tasks.common.resumed_config`). Under torchrun every process calls this: rank 0 names the run
    folder, reads the source and writes the run files; the others wait and read them back. Seeding
    follows ``cfg.seed`` and ``cfg.deterministic``; the model's initial weights come from the seed.
    A new run that cannot start (bad data, missing vectors or weights) leaves no run folder behind.

    Raises:
        ClassifykitError: anything the user can fix (data, options, resume folder).
    """
    adapter = adapter_for_config(cfg)
    if resume is None and getattr(cfg, "model", None) == "auto" and adapter.task == "image":
        return image_auto.train_auto(cfg, train)  # candidates trained by this function, the best kept
    if resume is not None:
        run = prepare_run_dir(cfg, "", resume)  # checks the checkpoint is there
        cfg = resumed_config(run, adapter.config_class, epochs)
    # After the saved configuration is read: a resumed run keeps the device (and so the backend) it trained on.
    info = init_distributed(cfg.device)
    start = time.perf_counter()
    if resume is None:
        cfg = adapter.start(cfg)
        name = str(prepare_run_dir(cfg, Path(cfg.data).stem or adapter.task, None)) if info.is_main else None
        run = Path(all_gather_objects(name)[0])
    else:
        say(cfg, f"Resuming {run} with its saved configuration ({rf.CONFIG})"
                 + (f" and --epochs {epochs}." if epochs is not None else "."))
        if epochs is not None and info.is_main:
            save_config(run, cfg)  # config.json says how many epochs the run now has
    if resume is not None:
        say(cfg, f"Run folder: {run}", summary=True)
    seed_everything(cfg.seed, cfg.deterministic)
    new_on_main = resume is None and info.is_main
    with remove_on_error(run) if new_on_main else contextlib.nullcontext():
        data = None
        if new_on_main:
            save_config(run, cfg)
            data = adapter.read(cfg, run)
        barrier()
        if data is None:
            data = adapter.load(cfg, run)
        if resume is not None and (run / rf.MODEL_META).is_file():
            meta = ModelMeta.load(run)
            adapter.resume(cfg, run, data, meta)
        else:
            meta = adapter.describe(cfg, run, data, info.is_main)
            if info.is_main:
                meta.save(run)
        seed_everything(cfg.seed, cfg.deterministic)  # the model's initial weights come from this seed
        model = adapter.build_model(cfg, meta, data)
    if resume is None:  # named once the run can start: a failed start removes its folder, so names none
        say(cfg, f"Run folder: {run}", summary=True)
    result = adapter.fit(cfg, run, data, meta, model, resume=resume is not None,
                         on_best=functools.partial(record_best, run))
    barrier()
    if not info.is_main:
        return run
    say(cfg, f"Best epoch {result.best_epoch}: val accuracy {100 * result.best_val_acc:.2f}%")
    after_training(cfg, run, data)  # temperature, baselines.json, duplicates.csv
    if any(r["split"] == "test" for r in read_csv_rows(run / rf.SPLIT)):
        report, _ = evaluate(run, batch_size=max(2 * cfg.batch_size, 128), device=cfg.device, num_workers=cfg.num_workers,
                             threads=cfg.threads, cache=data.cache, check_progress=False)
        say(cfg, f"{format_accuracy(report)}; a ±2-point interval would need about {report['n_for_pm2']} test items "
                 f"({time.perf_counter() - start:.0f} s in all)", summary=True)
        say_honest(cfg, report)  # baselines, calibration, findings
    else:
        say(cfg, "No test split (--test-ratio 0): skipping the test evaluation.")
    from classifykit.report import write_report

    say(cfg, f"Report: {write_report(run)}", summary=True)
    return run


def _devices(device: str, threads: int, num_workers: int) -> torch.device:
    """The evaluation device, with torch's CPU threads set as training sets them (``--threads``, 0 = auto)."""
    dev = select_device(device)
    configure_cpu_threads(dev, threads, resolve_num_workers(num_workers))
    return dev


def evaluate(run: str | Path, data: str | None = None, *, batch_size: int = 256, device: str = "auto",
             num_workers: int = -1, threads: int = 0, cache: Any = None,
             check_progress: bool = True) -> tuple[dict, Path]:
    """Evaluate a run's best model: its saved test split, or every labelled item of ``data`` (another
    image folder or manifest, or text table or folder; labels mapped onto the saved classes by name).

    Writes ``eval.json``, ``confusion.csv`` and ``test_predictions.csv`` into ``run`` (test split) or
    ``run/eval-<data name>/`` with a ``skipped.csv`` of the inputs of ``data`` left out. ``cache``:
    the task's decoded inputs (the image cache training opened), used for the test split.
    ``check_progress`` (``classifykit evaluate``): refuse a run with no finished epoch, and add
    ``"training_complete"`` to eval.json (False when training was interrupted; None when the run
    folder does not say; see :func:`~classifykit.tasks.progress.training_progress`). Training's own
    test stage passes False.

    Returns ``(eval.json body, folder written)``.

    Raises:
        ClassifykitError: not a finished run, no test split, unreadable ``data``, or labels outside the
            saved classes.
    """
    run = Path(run)
    extra = None
    if check_progress:
        progress = training_progress(run)
        check_has_model(run, progress)
        extra = {"training_complete": None if progress is None else progress.complete}
    dev = _devices(device, threads, num_workers)
    model, meta = load_saved_model(run, dev)
    adapter = get_adapter(meta.task)
    cfg = load_saved_config(run, adapter.config_class)
    items = adapter.eval_set(run, cfg, meta, data, batch_size=batch_size, num_workers=num_workers, device=dev,
                             cache=cache if data is None else None)
    if data is None:
        from classifykit.tasks.text_auto import with_candidates

        out_dir, split, extra = run, "test", with_candidates(run, extra)
    else:
        out_dir, split = run / f"eval-{Path(data).stem or 'data'}", f"data:{Path(data).name}"
        out_dir.mkdir(exist_ok=True)
        write_csv(out_dir / rf.SKIPPED, ["file", "reason"], items.skipped)
    logits, targets = predict_logits(model, items.loader, dev, amp=cfg.amp)
    keys = [str(i) for i in items.items]
    report = write_evaluation(out_dir, keys, targets, logits / meta.temperature, meta.classes, split=split, extra=extra,
                              blocks=functools.partial(evaluation_blocks, run, items=keys, raw_logits=logits,
                                                       targets=targets, temperature=meta.temperature,
                                                       own_split=data is None))
    return report, out_dir


def predict(run: str | Path, inputs: list[str], texts: list[str], out: str | Path, *, top_k: int = 3,
            batch_size: int = 64, device: str = "auto", encoding: str | None = None, num_workers: int = -1,
            threads: int = 0) -> tuple[int, list[tuple[str, str]]]:
    """Predict a user's inputs with a run's best model and write the CSV ``out``.

    ``inputs``: image files, folders or manifests (image runs); text files, tables or ``-`` for stdin
    (text runs, with ``texts`` from ``--text``; neither: stdin). ``encoding``: how a text run's files
    are read (None: the run's training ``--encoding``); refused for image runs.

    Columns: the task's keys (image ``path``; text ``input, text``), then ``label``, ``probability``
    (of that label), ``top_k`` (``class:prob`` pairs joined by ``;``, k = min(top_k, classes)) and
    ``error``. Every input gets a row, in input order; one that cannot be predicted (unreadable image,
    empty text) has an empty label and its reason in ``error``. Probabilities are
    ``softmax(logits / temperature)``.

    Returns:
        ``(number predicted, [(input, error), ...])``.

    Raises:
        ClassifykitError: not a finished run, or inputs that cannot be read at all (see the adapters).
    """
    predictor = Predictor(run, device=device, threads=threads, num_workers=num_workers)
    result = predictor.predict(inputs, texts, top_k=top_k, batch_size=batch_size, encoding=encoding)
    for note in result.notes:
        print(note, flush=True)
    rows, failures = [], []
    for key, row in zip(result.keys, result.rows):
        if row.error:
            rows.append([*key, "", "", "", row.error])
            failures.append((key[0], row.error))
            continue
        top = ";".join(f"{c}:{p:.4f}" for c, p in row.top_k)
        rows.append([*key, row.label, f"{row.probability:.6f}", top, ""])
    write_csv(out, [*predictor.adapter.key_columns, *PREDICTION_COLUMNS], rows)
    return len(rows) - len(failures), failures
