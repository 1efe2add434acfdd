"""Scan speed on all 70,000 real Fashion-MNIST images written as a class-per-folder PNG tree.

Writes the tree once (``train/<class>/`` and ``test/<class>/``, the official split) from the Debian
``dataset-fashion-mnist`` package, then times :func:`~classifykit.data.scan.scan_folder`: a first
scan decoding every file with one process and with all CPUs, and a rescan that finds every file
unchanged in the rescan cache. Prints files/s for each, side by side. The PNGs are in the OS page
cache after writing, so this measures walking, decoding and bookkeeping, not disk reads.

Usage: ``python -m bench scan`` or ``python -m bench.bench_scan --root data/fashion-mnist``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from classifykit.data.fashion_mnist import write_image_folder
from classifykit.data.scan import CACHE_NAME, ScanResult, scan_folder


def _line(name: str, r: ScanResult) -> None:
    print(f"{name:<28} {r.seconds:>7.2f} s  {len(r.items) / r.seconds:>9.0f} files/s  "
          f"{len(r.items)} images, {len(r.skipped)} skipped, {r.reused} reused", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_scan", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path("data/fashion-mnist"), help="where the PNG tree goes (default data/fashion-mnist)")
    parser.add_argument("--per-class", type=int, default=None, help="images per class and split (default: all 70,000)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    written = write_image_folder(args.root, split="both", per_class=args.per_class)
    print(f"data: Fashion-MNIST PNG tree in {args.root} ({written} files written in {time.perf_counter() - start:.1f} s)")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / CACHE_NAME
        _line("first scan, 1 process", scan_folder(args.root, workers=1, progress=False))
        first = scan_folder(args.root, workers=cpus, progress=False, cache_path=cache)
        _line(f"first scan, {cpus} processes", first)
        rescan = scan_folder(args.root, workers=cpus, progress=False, cache_path=cache)
        _line("rescan (all unchanged)", rescan)
    assert rescan.items == first.items
    print(f"classes: {first.counts}")
    print(f"preset split: {dict(Counter(first.preset_split.values()))}; rescan is {first.seconds / rescan.seconds:.1f}× faster")


if __name__ == "__main__":
    main()
