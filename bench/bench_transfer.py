"""Transfer learning with little data, on real Fashion-MNIST photos, side by side in one run.

Data: 5 Fashion-MNIST classes (T-shirt_top, Trouser, Pullover, Dress, Coat — the first five, with
the hard Pullover/Coat pair) × 50 training images, drawn with a fixed seed from the official train
split; 50 validation images per class drawn (disjoint) from the rest of the train split; 200 test
images per class from the official test split. Written once as ``train/``, ``val/``, ``test/``
class folders, so every method sees exactly the same split.

Methods, each a full ``classifykit train images`` run (scan, cache, train, test evaluation):

1. ``resnet18-small`` from scratch (the lesson's network), AdamW, onecycle, light augmentation;
2. EfficientNet-Lite0 ImageNet weights, linear probe (``--freeze backbone --augment none``) on
   cached backbone features (the fast path);
3. the same linear probe without the feature cache (the backbone runs every epoch);
4. EfficientNet-Lite0 fine-tuned: head alone for 1 epoch, then all layers with the backbone at
   0.1 × the head's LR (``--fine-tune 1 --backbone-lr-scale 0.1``), light augmentation.

Printed per method: test accuracy with its 95% Wilson interval (1,000 test images), best epoch,
training seconds (the sum of ``metrics.csv`` epoch times) and the run's total wall time. Every
method uses the same input size (``--input-size``, default 112 px: a quarter of the 224 px
FLOPs, so the fine-tune fits in minutes on a 2-core CPU; pass 224 for the weights' own size).

Measured (defaults: 112 px, 10 epochs, seed 0; 2 shared CPU cores under heavy load from other jobs,
so times are pessimistic):

==================================  =====================  ========  ========
method                              test acc [95% CI]      train s   wall s
==================================  =====================  ========  ========
resnet18-small, scratch             73.2% [70.4, 75.9]     366.2     504.9
lite0 linear probe, feature cache   79.9% [77.3, 82.3]       7.0     234.8
lite0 linear probe, no cache        78.3% [75.6, 80.7]     359.6     821.6
lite0 fine-tune (1 head epoch)      60.1% [57.0, 63.1]     903.1    1222.1
==================================  =====================  ========  ========

The feature cache made the linear probe 3.5× faster end to end (51× in the training epochs); with
it, 100 probe epochs cost 8.1 s of training (80.1%). Fine-tuning loses here because BatchNorm
re-estimates its statistics from 64-image batches of grey 28 px photos while the running averages
(momentum 0.01) lag: keeping the statistics frozen
(:func:`classifykit.models.freeze.set_frozen_eval` with ``freeze_bn_stats=True``) took the same
fine-tune from 53.2% to 80.2% in a direct experiment at 64 px.

Usage: ``python -m bench transfer`` or ``python -m bench.bench_transfer --input-size 224 --epochs 10``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from classifykit.config import ImageConfig, build_config
from classifykit.data.fashion_mnist import CLASSES, load_split, png_bytes
from classifykit.io import atomic_write_bytes, read_json
from classifykit.tasks.pipeline import train as train_images

CLASS_IDS = [0, 1, 2, 3, 4]


def write_low_data_folder(root: Path, n_train: int, n_val: int, n_test: int, seed: int) -> dict[str, int]:
    """``root/{train,val,test}/<class>/<source>_<index>.png``; returns images written per split.

    Train and val are disjoint draws from the official train split, test a draw from the official
    test split; ``<index>`` is the image's position in its IDX file.
    """
    rng = np.random.default_rng(seed)
    counts = {"train": 0, "val": 0, "test": 0}
    for source, parts in (("train", (("train", n_train), ("val", n_val))), ("test", (("test", n_test),))):
        images, labels = load_split(source)
        for c in CLASS_IDS:
            order = rng.permutation(np.flatnonzero(labels == c))
            start = 0
            for part, n in parts:
                folder = root / part / CLASSES[c]
                folder.mkdir(parents=True, exist_ok=True)
                for i in sorted(order[start : start + n].tolist()):
                    atomic_write_bytes(folder / f"{source}_{i:05d}.png", png_bytes(images[i]))
                counts[part] += n
                start += n
    return counts


def run_method(data: Path, runs: Path, name: str, **options) -> dict:
    """One full training run; returns its test accuracy, interval, best epoch and times."""
    cfg = build_config(ImageConfig, data=str(data), runs_dir=str(runs), name=name, quiet=True, **options)
    start = time.perf_counter()
    run = train_images(cfg)
    wall = time.perf_counter() - start
    report = read_json(run / "eval.json")
    with open(run / "metrics.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        "acc": report["accuracy"],
        "ci": report["ci95"],
        "best_epoch": read_json(run / "model.json")["best_epoch"],
        "epochs": len(rows),
        "train_s": sum(float(r["seconds"]) for r in rows),
        "wall_s": wall,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_transfer", description=__doc__.splitlines()[0])
    parser.add_argument("--train-per-class", type=int, default=50)
    parser.add_argument("--val-per-class", type=int, default=50)
    parser.add_argument("--test-per-class", type=int, default=200)
    parser.add_argument("--input-size", type=int, default=112)
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the scratch and fine-tune runs")
    parser.add_argument("--probe-epochs", type=int, default=10, help="epochs of the two linear-probe runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=None, help="keep data and runs here (default: a temporary folder)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-transfer-") as tmp:
        work = Path(args.workdir or tmp)
        data, runs = work / "data", work / "runs"
        counts = write_low_data_folder(data, args.train_per_class, args.val_per_class, args.test_per_class, args.seed)
        print(f"data: {', '.join(CLASSES[c] for c in CLASS_IDS)}; "
              f"{counts['train']} train / {counts['val']} val / {counts['test']} test images (28×28 grey) "
              f"at {args.input_size} px", flush=True)
        common = {"input_size": args.input_size, "seed": args.seed, "device": "cpu"}
        lite = {"model": "efficientnet-lite0", "pretrained": "efficientnet-lite0"}
        methods = [
            ("resnet18-small, scratch", "scratch",
             {"model": "resnet18-small", "epochs": args.epochs, "augment": "light"}),
            ("lite0 linear probe, feature cache", "probe-cache",
             {**lite, "freeze": "backbone", "augment": "none", "epochs": args.probe_epochs, "feature_cache": True}),
            ("lite0 linear probe, no cache", "probe-nocache",
             {**lite, "freeze": "backbone", "augment": "none", "epochs": args.probe_epochs, "feature_cache": False}),
            ("lite0 fine-tune (1 head epoch)", "finetune",
             {**lite, "fine_tune": 1, "backbone_lr_scale": 0.1, "augment": "light", "epochs": args.epochs}),
        ]
        results = {}
        for label, name, options in methods:
            r = run_method(data, runs, name, **common, **options)
            results[name] = r
            print(f"{label:36s} test acc {100 * r['acc']:5.1f}% [{100 * r['ci'][0]:.1f}, {100 * r['ci'][1]:.1f}]  "
                  f"best epoch {r['best_epoch']:2d}/{r['epochs']:2d}  train {r['train_s']:6.1f} s  "
                  f"wall {r['wall_s']:6.1f} s", flush=True)
        cache, nocache = results["probe-cache"], results["probe-nocache"]
        print(f"feature cache: linear probe wall time {nocache['wall_s']:.1f} s -> {cache['wall_s']:.1f} s "
              f"({nocache['wall_s'] / cache['wall_s']:.1f}× faster); training epochs "
              f"{nocache['train_s']:.1f} s -> {cache['train_s']:.1f} s")
        best_transfer = max(results["probe-cache"]["acc"], results["finetune"]["acc"])
        print(f"transfer vs scratch: {100 * best_transfer:.1f}% vs {100 * results['scratch']['acc']:.1f}% test accuracy")


if __name__ == "__main__":
    main(sys.argv[1:])
