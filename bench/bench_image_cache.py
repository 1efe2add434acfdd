"""Data-loading throughput with and without the decoded-image cache, on real Fashion-MNIST PNGs.

Writes a class-per-folder PNG tree from the Debian ``dataset-fashion-mnist`` package (default 10
classes × 1,000 = 10,000 train images), builds a :class:`~classifykit.data.cache.DecodedImageCache`,
then iterates the same ``ImageFolderDataset`` through a DataLoader with the same transforms and the
same loader settings, once decoding PNG files and once reading the cache. Prints images/s for each,
side by side, and the ratio, for each transform preset (training ``light`` and ``eval`` by default)
and worker count (0 and 2 by default).

The first epoch of each setting is a warm-up (worker start, page cache) and is not counted; the
figure is the median over the other epochs (with the default ``--epochs 2``, the one timed epoch).
The PNGs were just written, so they are in the OS page cache: the comparison measures decoding and
resizing, not disk reads.

Usage: ``python -m bench image_cache`` or ``python -m bench.bench_image_cache --per-class 500``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from classifykit.data.cache import DecodedImageCache
from classifykit.data.dataset import ImageFolderDataset, loader_kwargs
from classifykit.data.fashion_mnist import CLASSES, write_image_folder
from classifykit.data.transforms import eval_resize_size, eval_transforms, train_transforms


def _images_per_s(dataset: ImageFolderDataset, batch_size: int, workers: int, epochs: int) -> float:
    """Median images/s over epochs 2..``epochs`` of a full pass (epoch 1 is the warm-up)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, **loader_kwargs(workers, "cpu"))
    rates = []
    for _ in range(epochs):
        start, n = time.perf_counter(), 0
        for images, _targets in loader:
            n += images.shape[0]
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates[1:])


def run(root: Path, cache_dir: Path, args: argparse.Namespace) -> None:
    start = time.perf_counter()
    written = write_image_folder(root, split="train", per_class=args.per_class, seed=0)
    paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    targets = [CLASSES.index(p.split("/")[0]) for p in paths]
    print(f"data: {len(paths)} Fashion-MNIST PNGs (28×28 grey) in {root} "
          f"({written} written in {time.perf_counter() - start:.1f} s)")

    size = eval_resize_size(args.input_size)
    start = time.perf_counter()
    cache = DecodedImageCache.open(root, paths, cache_dir, size=size, channels=1, num_workers=args.workers or None)
    build_s = time.perf_counter() - start
    print(f"cache: built={cache.built}, {len(cache)} images at {size}×{size}×1 "
          f"({cache.path.stat().st_size / 2**20:.1f} MiB) in {build_s:.2f} s = {len(cache) / build_s:.0f} images/s")
    start = time.perf_counter()
    assert not DecodedImageCache.open(root, paths, cache_dir, size=size, channels=1).built
    print(f"cache: reopen (key check, no decoding) {time.perf_counter() - start:.3f} s")

    print(f"loader: batch {args.batch_size}, input {args.input_size}×{args.input_size}, {args.epochs} epochs per "
          f"setting (first is warm-up), torch threads {torch.get_num_threads()}")
    print(f"{'transforms':>12}  {'workers':>7}  {'decode PNG (img/s)':>18}  {'cache (img/s)':>13}  {'cache / decode':>14}")
    for name in args.transforms.split(","):
        # Fashion-MNIST training-split statistics (mean 0.286, std 0.353) as the Normalize constants.
        if name == "eval":
            transform = eval_transforms(args.input_size, [0.286], [0.353])
        else:
            transform = train_transforms(args.input_size, [0.286], [0.353], augment=name, channels=1)
        for workers in sorted({0, args.workers}):
            plain = ImageFolderDataset(root, paths, targets, transform, 1)
            cached = ImageFolderDataset(root, paths, targets, transform, 1, cache=cache)
            plain_rate = _images_per_s(plain, args.batch_size, workers, args.epochs)
            cached_rate = _images_per_s(cached, args.batch_size, workers, args.epochs)
            print(f"{name:>12}  {workers:>7}  {plain_rate:>18.0f}  {cached_rate:>13.0f}  {cached_rate / plain_rate:>13.2f}×",
                  flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_image_cache", description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=1000, help="images per class (10 classes; default 1000)")
    parser.add_argument("--input-size", type=int, default=64, help="model input size in pixels (default 64)")
    parser.add_argument("--transforms", default="light,eval",
                        help="comma-separated presets to measure: none, light, strong (training) or eval (default light,eval)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers, measured beside 0 (default 2)")
    parser.add_argument("--epochs", type=int, default=2, help="passes per setting, the first not counted (default 2)")
    parser.add_argument("--data", type=Path, help="folder for the PNGs and cache (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first is a warm-up)")
    torch.set_num_threads(1)  # one intra-op thread per process, as in DataLoader workers
    if args.data is not None:
        run(args.data / "images", args.data / "cache", args)
        return
    with tempfile.TemporaryDirectory(prefix="bench-image-cache-") as tmp:
        run(Path(tmp) / "images", Path(tmp) / "cache", args)


if __name__ == "__main__":
    main()
