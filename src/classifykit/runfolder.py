"""The run folder: the contract between stages (see DESIGN.md, "Run folder").

Every stage reads and writes plain files here, so any stage can be rerun alone. File names live
in this one place; stages use these constants instead of spelling names out.
"""

from __future__ import annotations

import time
from pathlib import Path

CONFIG = "config.json"            # resolved configuration, seed, library versions
MANIFEST = "manifest.csv"         # images: path,label (POSIX, relative to the data root); text: row,text,label
SKIPPED = "skipped.csv"           # file,reason — every input left out
SPLIT = "split.csv"               # item,label,split — item is the manifest key (path or row)
CLASSES = "classes.json"          # list of class names in index order; written once
METRICS = "metrics.csv"           # one row per epoch
STEPS = "steps.csv"               # one row per optimizer step: loss, lr, grad_norm, clipped, group norms
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "checkpoints/last.pt"  # full training state for --resume (tensors and plain types)
WEIGHTS = "model.safetensors"     # best weights by validation metric
MODEL_META = "model.json"         # architecture, classes, preprocessing, vocabulary file
VOCAB = "vocab.json"              # text tasks: tokenizer settings and vocabulary
EVAL = "eval.json"                # test accuracy + 95% CI, per-class metrics, top-k
CONFUSION = "confusion.csv"       # rows = true class, columns = predicted class
TEST_PREDICTIONS = "test_predictions.csv"  # item,label,pred,prob (+ top-k) for every test item
REPORT = "report.html"
CACHE_DIR = "cache"               # decoded-image cache (uint8 memory map + sidecar)
FEATURES_DIR = "features"         # frozen-backbone features: features/<split>.safetensors


def new_run_dir(root: str | Path, name: str | None, prefix: str) -> Path:
    """Create and return ``root/name`` (or ``root/<prefix>-<YYYYmmdd-HHMMSS>`` when name is None).

    Raises nothing if the folder exists and is empty; a named folder that already holds a run is
    returned as is (callers decide whether to resume or refuse).
    """
    if name is None:
        name = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    run = Path(root) / name
    run.mkdir(parents=True, exist_ok=True)
    return run
