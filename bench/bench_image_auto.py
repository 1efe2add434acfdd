"""The image default (``--model auto``) on real Fashion-MNIST subsets, side by side, in one run.

- ``confusable``: 5 confusable classes × 240 (T-shirt/top, Pullover, Dress, Coat, Shirt; our
  default 60/15/25 split): the default vs the classic lesson pipeline
  (:func:`bench.bench_train.textbook_fit`: resnet18-small at 224 px, Adam, 10 epochs) on the same
  split. Target: default ≥ 76% test and ≥ the lesson, in no more wall time.
- ``imbalanced``: T-shirt/top 1,500, Shirt 300, Pullover 100, Coat 700: the default vs a logistic
  regression on 32×32 pixels (:func:`classifykit.analysis.baselines.linear_baseline`, C picked on
  val) on the same split. Target: every class test recall ≥ 0.3, macro-F1 above the regression.

Measured 2 Dec 2026, ``--part all --threads 2`` (2 shared cores, load 0.1–4.7):
confusable: default (auto -> lite0-probe) 77.0% [71.9, 81.4] (n=300), macro-F1 0.763, 69 s wall
(fine-tune estimated 512 s, not tried in the 120 s budget); lesson 67.3% [61.8, 72.4], 57 s wall.
imbalanced: default (auto -> lite0-probe, class-weighted, macro-F1 selection) 83.7% [80.7, 86.3]
(n=650), macro-F1 0.717, recall Coat 0.78, Pullover 0.76, Shirt 0.63, T-shirt 0.91, 222 s wall;
logistic regression on pixels 83.4% [80.3, 86.0], macro-F1 0.701.

Every line names the machine load (``uptime``'s averages). Run: ``python -m bench.bench_image_auto
[--part confusable|imbalanced|all] [--threads 2] [--work /tmp/bench-image-auto]``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from bench.bench_train import _split_items, accuracy_line, load_line, textbook_fit
from classifykit import runfolder as rf
from classifykit.analysis.baselines import downscaled_pixels, linear_baseline
from classifykit.config import ImageConfig, build_config
from classifykit.data.fashion_mnist import write_image_folder
from classifykit.io import read_json
from classifykit.tasks.pipeline import train

CONFUSABLE = ["T-shirt_top", "Pullover", "Dress", "Coat", "Shirt"]
IMBALANCED = {"T-shirt_top": 1500, "Shirt": 300, "Pullover": 100, "Coat": 700}


def write_subset(out: Path, counts: dict[str, int]) -> Path:
    """A class-per-folder tree with ``counts[c]`` training PNGs of class ``c`` (seed 0)."""
    if out.is_dir() and all(len(list((out / c).glob("*.png"))) == n for c, n in counts.items()):
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for c, n in counts.items():  # one folder each: write_image_folder removes PNGs it did not write
        tmp = out.parent / f".{out.name}-{c}"
        write_image_folder(tmp, split="train", per_class=n, classes=[c], seed=0)
        (tmp / c).rename(out / c)
        shutil.rmtree(tmp)
    return out


def run_default(data: Path, runs: Path, name: str, threads: int) -> tuple[Path, float]:
    shutil.rmtree(runs / name, ignore_errors=True)
    cfg = build_config(ImageConfig, data=str(data), runs_dir=str(runs), name=name, threads=threads, device="cpu")
    start = time.perf_counter()
    run = train(cfg)
    return run, time.perf_counter() - start


def describe(run: Path, seconds: float) -> str:
    ev = read_json(run / rf.EVAL)
    recalls = ", ".join(f"{p['class']} {p['recall']:.2f}" for p in ev["per_class"])
    chosen = next((c["name"] for c in ev.get("candidates", []) if c.get("chosen")), "?")
    return (f"default (auto -> {chosen}): test {accuracy_line(ev['correct'], ev['n'])}, macro-F1 {ev['macro_f1']:.3f}; "
            f"recall {recalls}; {seconds:.0f} s wall; {load_line()}")


def part_confusable(work: Path, threads: int) -> None:
    data = write_subset(work / "fmnist-confusable-5x240", {c: 240 for c in CONFUSABLE})
    print(f"confusable: {data} (5 × 240, 28 px grey); {load_line()}", flush=True)
    run, seconds = run_default(data, work / "runs", "confusable-default", threads)
    print(describe(run, seconds), flush=True)
    torch.set_num_threads(threads)
    items = {s: _split_items(run, data, s) for s in ("train", "val", "test")}
    (work / "lesson").mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    book = textbook_fit(items["train"], items["val"], items["test"], 5, work / "lesson", epochs=10, size=224)
    print(f"lesson (resnet18-small 224 px, Adam, 10 epochs, same split): test "
          f"{accuracy_line(book.test_correct, book.test_n)}; {time.perf_counter() - start:.0f} s wall; {load_line()}",
          flush=True)


def part_imbalanced(work: Path, threads: int) -> None:
    data = write_subset(work / "fmnist-imbalanced", IMBALANCED)
    print(f"imbalanced: {data} ({', '.join(f'{c} {n}' for c, n in IMBALANCED.items())}); {load_line()}", flush=True)
    run, seconds = run_default(data, work / "runs", "imbalanced-default", threads)
    print(describe(run, seconds), flush=True)
    from PIL import Image

    def pixels(split: str):
        rows = _split_items(run, data, split)
        images = np.stack([np.asarray(Image.open(p).convert("L"))[None] for p, _ in rows])
        return downscaled_pixels(images, 32), np.array([t for _, t in rows])

    (tx, ty), (vx, vy), (sx, sy) = pixels("train"), pixels("val"), pixels("test")
    block, _ = linear_baseline(tx, ty, vx, vy, sx, sy, num_classes=len(IMBALANCED))
    print(f"logistic regression on 32×32 pixels (same split, C={block['C']}, class_weight {block['class_weight']}): "
          f"test {accuracy_line(block['correct'], block['n'])}, macro-F1 {block['macro_f1']:.3f}; "
          f"{block['seconds']:.0f} s; {load_line()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("confusable", "imbalanced", "all"), default="all")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-image-auto"))
    args = parser.parse_args()
    if args.part in ("confusable", "all"):
        part_confusable(args.work, args.threads)
    if args.part in ("imbalanced", "all"):
        part_imbalanced(args.work, args.threads)


if __name__ == "__main__":
    main()
