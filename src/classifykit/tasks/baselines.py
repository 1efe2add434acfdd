"""What a run is measured against, computed once at the end of training: ``baselines.json``,
``duplicates.csv`` and the temperature in ``model.json``.

:func:`after_training` (called by :func:`classifykit.tasks.pipeline.train` on rank 0 after the fit,
before the test stage) fits, on the run's own train/val split:

- the majority class and the task's fast baseline (texts: the n-gram logistic regression of
  :func:`classifykit.models.ngram.fit_ngram`; images: logistic regression on downscaled pixels,
  :data:`PIXEL_SIZE` px, train subsampled to :data:`MAX_PIXEL_TRAIN` items), and stores each one's
  test prediction per test item, so ``classifykit evaluate RUN`` re-attaches them without refitting;
- the train/test near-duplicates (images: 256-bit perceptual hashes; texts: normalised text);
- the temperature of the best model on val logits (Guo et al. 2017), written to ``model.json``.

``baselines.json``::

    {"baselines": [{"name", "accuracy", ..., "seconds", "note"?, "predictions": {test item: class index}}],
     "train_counts": {class: n}, "truncation": {"n_truncated", "n_texts", "max_length"} | null,
     "duplicates": {"file": "duplicates.csv", "pairs": n, "kind": "image"|"text", "n_test": n}}
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classifykit import runfolder as rf
from classifykit.analysis.baselines import downscaled_pixels, linear_baseline, majority_baseline, scores
from classifykit.analysis.calibration import fit_temperature
from classifykit.analysis.duplicates import image_near_duplicates, text_near_duplicates
from classifykit.io import read_csv_rows, read_json, write_csv, write_json
from classifykit.models.meta import ModelMeta
from classifykit.tasks.common import say

BASELINES = "baselines.json"
DUPLICATES = "duplicates.csv"    # test,train,distance — near-duplicate pairs across train and test
PIXEL_SIZE = 16                  # px per side of the pixel baseline (16×16: ~0.3 s per 1,000 training images)
MAX_PIXEL_TRAIN = 5000           # training images the pixel baseline is fitted on (a seeded subsample beyond)


def split_items(run: Path) -> dict[str, list[tuple[str, str]]]:
    """``{split: [(item, label), ...]}`` from ``split.csv`` in file order."""
    out: dict[str, list[tuple[str, str]]] = {"train": [], "val": [], "test": []}
    for r in read_csv_rows(run / rf.SPLIT):
        out.setdefault(r["split"], []).append((r["item"], r["label"]))
    return out


def _val_loader(run: Path, cfg: Any, meta: ModelMeta, data: Any, batch_size: int):
    """The val split in a loader of the model's inputs, as the pipeline's evaluation reads test."""
    if meta.task == "image":
        from torch.utils.data import DataLoader

        from classifykit.tasks.image import eval_dataset

        paths, targets = data.subset("val")
        return DataLoader(eval_dataset(meta, data.root, paths, targets, data.cache), batch_size=batch_size)
    from classifykit.tasks.text_models import texts_loader
    from classifykit.text.inference import split_texts

    _, texts, targets = split_texts(run, "val")
    return texts_loader(run, meta, texts, targets, batch_size)  # any text model: LSTM, n-gram, encoder


def calibrate(run: Path, cfg: Any, data: Any, batch_size: int) -> float:
    """Fit the best model's temperature on val logits and write it to ``model.json``; returns it."""
    from classifykit.data.dataset import resolve_num_workers
    from classifykit.engine.device import configure_cpu_threads, select_device
    from classifykit.engine.loop import predict_logits
    from classifykit.models.saved import load_saved_model

    dev = select_device(cfg.device)
    configure_cpu_threads(dev, cfg.threads, resolve_num_workers(cfg.num_workers))
    model, meta = load_saved_model(run, dev)
    logits, targets = predict_logits(model, _val_loader(run, cfg, meta, data, batch_size), dev, amp=cfg.amp)
    meta.temperature = float(fit_temperature(logits.numpy(), targets.numpy()))
    meta.save(run)
    return meta.temperature


def _image_baseline(run: Path, cfg: Any, data: Any, meta: ModelMeta, k: int) -> tuple[dict, list[str], np.ndarray]:
    """Logistic regression on :data:`PIXEL_SIZE`-px pixels of the model's normalised eval inputs."""
    from classifykit.tasks.image import eval_dataset

    start = time.perf_counter()
    parts = {s: data.subset(s) for s in ("train", "val", "test")}
    train_paths, train_y = parts["train"]
    note = None
    if len(train_paths) > MAX_PIXEL_TRAIN:
        keep = np.sort(np.random.default_rng(cfg.seed).choice(len(train_paths), MAX_PIXEL_TRAIN, replace=False))
        note = f"fitted on a random {MAX_PIXEL_TRAIN} of the {len(train_paths)} training images"
        train_paths, train_y = [train_paths[i] for i in keep], [train_y[i] for i in keep]
        parts["train"] = (train_paths, train_y)
    feats = {s: downscaled_pixels(eval_dataset(meta, data.root, p, y, data.cache), size=PIXEL_SIZE) if p
             else np.zeros((0, meta.in_chans * PIXEL_SIZE ** 2), np.float32) for s, (p, y) in parts.items()}
    block, pred = linear_baseline(feats["train"], parts["train"][1], feats["val"], parts["val"][1],
                                  feats["test"], parts["test"][1], k, seed=cfg.seed)
    block["name"] = f"logistic regression on {PIXEL_SIZE}×{PIXEL_SIZE} pixels"
    block["seconds"] = time.perf_counter() - start
    if note:
        block["note"] = note
    return block, parts["test"][0], pred


def _text_baseline(run: Path, cfg: Any, k: int) -> tuple[dict, list[str], np.ndarray]:
    """The n-gram logistic regression (tf-idf word and character n-grams, C picked on val)."""
    from classifykit.models.ngram import fit_ngram
    from classifykit.text.inference import split_texts

    start = time.perf_counter()
    _, train_x, train_y = split_texts(run, "train")
    _, val_x, val_y = split_texts(run, "val")
    items, test_x, test_y = split_texts(run, "test")
    model, featurizer, info = fit_ngram(train_x, train_y, val_x, val_y, k, seed=cfg.seed)
    with torch.inference_mode():
        pred = model(*featurizer.transform(test_x)).argmax(1).numpy()
    block = {"name": "n-gram logistic regression", "C": info.C, "features": info.num_features,
             **scores(test_y, pred, k), "seconds": time.perf_counter() - start}
    if is_ngram_run(run):
        block["note"] = "the run's own model is the n-gram model; this is the same model refitted on the same split"
        block["same_model"] = True  # compared and listed, but no "loses to / ties with" finding against itself
    return block, items, pred


def is_ngram_run(run: Path) -> bool:
    """Whether a text run's own (saved) model is the n-gram model: ``--model ngram``, or the winner of
    ``--model auto``."""
    return ModelMeta.load(run).architecture == "ngram"


def _duplicates(run: Path, meta: ModelMeta, data: Any) -> dict:
    """Write ``duplicates.csv``; returns the ``duplicates`` summary of baselines.json."""
    items = split_items(run)
    train, test = [i for i, _ in items["train"]], [i for i, _ in items["test"]]
    if meta.task == "image":
        found = image_near_duplicates([data.root / p for p in train], [data.root / p for p in test])
        rows = [(Path(t).relative_to(data.root).as_posix(), Path(s).relative_to(data.root).as_posix(), d)
                for t, s, d in found]
    else:
        text = {r["row"]: r["text"] for r in read_csv_rows(run / rf.MANIFEST)}
        rows = [(test[i], train[j], 0) for i, j in text_near_duplicates([text[i] for i in train], [text[i] for i in test])]
    write_csv(run / DUPLICATES, ["test", "train", "distance"], rows)
    return {"file": DUPLICATES, "pairs": len(rows), "kind": meta.task, "n_test": len(test)}


def _truncation(cfg: Any, data: Any) -> dict | None:
    """How many training texts reached ``--max-length`` tokens (None for images or untokenised runs)."""
    train = (getattr(data, "datasets", None) or {}).get("train")
    lengths = getattr(train, "lengths", None)
    if lengths is None or not getattr(cfg, "max_length", None):
        return None
    return {"n_truncated": int((np.asarray(lengths) >= cfg.max_length).sum()), "n_texts": int(len(lengths)),
            "max_length": int(cfg.max_length)}


def after_training(cfg: Any, run: Path, data: Any) -> None:
    """Rank 0, after the fit: temperature into ``model.json``, then ``baselines.json`` and
    ``duplicates.csv`` (see the module docstring; neither for a run without a test split)."""
    t = calibrate(run, cfg, data, max(2 * cfg.batch_size, 128))
    items = split_items(run)
    if not items["test"]:
        return
    meta = ModelMeta.load(run)
    k = meta.num_classes
    index = {c: i for i, c in enumerate(meta.classes)}
    test_keys = [i for i, _ in items["test"]]
    test_y = [index[label] for _, label in items["test"]]
    train_y = [index[label] for _, label in items["train"]]
    majority = majority_baseline(train_y, test_y, k)
    majority["predictions"] = dict.fromkeys(test_keys, majority["predicted_class"])
    if meta.task == "image":
        block, keys, pred = _image_baseline(run, cfg, data, meta, k)
    else:
        block, keys, pred = _text_baseline(run, cfg, k)
    block["predictions"] = {key: int(p) for key, p in zip(keys, pred)}
    body = {"baselines": [majority, block], "train_counts": dict(Counter(label for _, label in items["train"])),
            "truncation": _truncation(cfg, data), "duplicates": _duplicates(run, meta, data), "temperature": t}
    write_json(run / BASELINES, body)
    say(cfg, f"Baselines fitted on the same split: {block['name']} {100 * block['accuracy']:.1f}% test "
          f"({block['seconds']:.1f} s); majority class {100 * majority['accuracy']:.1f}%; temperature {t:.3f}")


def load_baselines(run: Path) -> dict | None:
    """``baselines.json`` of a run, or None when training wrote none (older runs)."""
    path = Path(run) / BASELINES
    return read_json(path) if path.is_file() else None
