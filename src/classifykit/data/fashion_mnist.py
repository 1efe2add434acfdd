"""Fashion-MNIST from the Debian ``dataset-fashion-mnist`` package, as arrays or as an image folder.

Source: Xiao, Rasul & Vollgraf (2017), "Fashion-MNIST: a Novel Image Dataset for Benchmarking
Machine Learning Algorithms" (MIT licence). 70,000 grey 28×28 product photos in 10 classes:
60,000 ``train`` and 10,000 ``test`` (the official split, kept by :func:`write_image_folder`).

The files are gzip-compressed IDX: big-endian int32 magic number (2049 labels, 2051 images), int32
counts and sizes, then uint8 data — labels start at byte 8, images at byte 16.

Class folder names are the official names made safe for every file system: ``T-shirt/top`` holds
a ``/``, so it becomes ``T-shirt_top``, and ``Ankle boot`` becomes ``Ankle_boot`` (no spaces, so
paths need no quoting in a shell). :data:`CLASSES` is in label order (label 0 = ``T-shirt_top``).
"""

from __future__ import annotations

import gzip
import io
import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from classifykit.errors import ClassifykitError

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]
OFFICIAL_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
_FILES = {"train": "train", "test": "t10k"}
_LABEL_MAGIC, _IMAGE_MAGIC = 2049, 2051
_OUR_NAME = re.compile(r"(train|test)_\d{5}\.png")


def _read_gz(path: Path) -> bytes:
    if not path.is_file():
        raise ClassifykitError(
            f"{path}: Fashion-MNIST file not found. Install it with "
            f"`apt-get install -y dataset-fashion-mnist` (see DATA.md), or pass its folder as source_dir."
        )
    with gzip.open(path, "rb") as f:
        return f.read()


def _check_magic(path: Path, data: bytes, magic: int) -> int:
    """Return the item count of an IDX file after checking its magic number."""
    if len(data) < 8 or int.from_bytes(data[:4], "big") != magic:
        raise ClassifykitError(f"{path}: not an IDX file with magic number {magic}; the download may be damaged.")
    return int.from_bytes(data[4:8], "big")


def read_labels(path: str | Path) -> np.ndarray:
    """Labels of an ``*-labels-idx1-ubyte.gz`` file: uint8 array of shape ``N`` (values 0..9)."""
    path = Path(path)
    data = _read_gz(path)
    n = _check_magic(path, data, _LABEL_MAGIC)
    labels = np.frombuffer(data, dtype=np.uint8, offset=8)
    if labels.size != n:
        raise ClassifykitError(f"{path}: header says {n} labels, file holds {labels.size}.")
    return labels


def read_images(path: str | Path) -> np.ndarray:
    """Images of an ``*-images-idx3-ubyte.gz`` file: uint8 array ``N×H×W`` (28×28), 0 = background."""
    path = Path(path)
    data = _read_gz(path)
    n = _check_magic(path, data, _IMAGE_MAGIC)
    h, w = int.from_bytes(data[8:12], "big"), int.from_bytes(data[12:16], "big")
    images = np.frombuffer(data, dtype=np.uint8, offset=16)
    if images.size != n * h * w:
        raise ClassifykitError(f"{path}: header says {n}×{h}×{w} pixels, file holds {images.size}.")
    return images.reshape(n, h, w)


def load_split(split: str, source_dir: str | Path = DEFAULT_DIR) -> tuple[np.ndarray, np.ndarray]:
    """``(images N×28×28 uint8, labels N uint8)`` of the official ``train`` (60,000) or ``test`` (10,000) split."""
    if split not in _FILES:
        raise ClassifykitError(f"Fashion-MNIST split {split!r}: use 'train' or 'test'.")
    prefix = Path(source_dir) / _FILES[split]
    images = read_images(f"{prefix}-images-idx3-ubyte.gz")
    labels = read_labels(f"{prefix}-labels-idx1-ubyte.gz")
    if len(images) != len(labels):
        raise ClassifykitError(f"{prefix}-*: {len(images)} images but {len(labels)} labels.")
    return images, labels


def png_bytes(image: np.ndarray) -> bytes:
    """Encode one ``H×W`` uint8 array as a greyscale (mode ``L``) PNG; same input, same bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image, mode="L").save(buf, format="PNG")
    return buf.getvalue()


def _write_pngs(jobs: list[tuple[str, np.ndarray]]) -> int:
    """Write each ``(path, image)`` unless an identical file is already there; return files written."""
    written = 0
    for path, image in jobs:
        data = png_bytes(image)
        try:
            if os.path.getsize(path) == len(data) and Path(path).read_bytes() == data:
                continue
        except OSError:
            pass
        with open(path, "wb") as f:
            f.write(data)
        written += 1
    return written


def _select(labels: np.ndarray, class_ids: list[int], per_class: int | None, seed: int) -> np.ndarray:
    """Sorted indices of the chosen items: all of each class, or ``per_class`` drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c in class_ids:
        idx = np.flatnonzero(labels == c)
        if per_class is not None and per_class < idx.size:
            idx = np.sort(rng.choice(idx, size=per_class, replace=False))
        chosen.append(idx)
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)


def _remove_stale(out_dir: Path, split: str, wanted: set[str]) -> None:
    """Delete PNGs named like ours that an earlier call with other arguments left, and then-empty class folders."""
    for base in ([out_dir / "train", out_dir / "test"] if split == "both" else [out_dir]):
        for name in CLASSES:
            folder = base / name
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if _OUR_NAME.fullmatch(path.name) and str(path) not in wanted:
                    path.unlink()
            if not any(folder.iterdir()):
                folder.rmdir()


def write_image_folder(
    out_dir: str | Path,
    *,
    split: str = "train",
    per_class: int | None = None,
    classes: list[str] | None = None,
    seed: int = 0,
    source_dir: str | Path = DEFAULT_DIR,
    workers: int | None = None,
) -> int:
    """Write Fashion-MNIST as a class-per-folder tree of greyscale 28×28 PNGs.

    Layout: ``split="train"`` or ``"test"`` gives ``out_dir/<class>/<split>_<index>.png``;
    ``split="both"`` gives ``out_dir/train/<class>/…`` and ``out_dir/test/<class>/…`` so a scan keeps
    the official split. ``<index>`` is the image's 0-based position in the IDX file (5 digits).

    Args:
        per_class: if given, at most this many images per class and split, drawn with ``seed``
            (the same arguments always pick the same images).
        classes: folder names from :data:`CLASSES` to write (default: all ten).
        workers: processes used to encode PNGs (default: CPU count).

    The tree then holds exactly the requested images: PNGs named like ours from an earlier call
    with other arguments are deleted (other files are left alone).

    Returns:
        Number of files written; files already present with identical bytes are left alone, so a
        second call writes 0 (70,000 images: about 12 s the first time on 2 cores, 5 s after).

    Raises:
        ClassifykitError: unknown split or class name, or the IDX files are missing/damaged.
    """
    if split not in ("train", "test", "both"):
        raise ClassifykitError(f"split {split!r}: use 'train', 'test' or 'both'.")
    names = list(CLASSES) if classes is None else list(classes)
    unknown = [c for c in names if c not in CLASSES]
    if unknown:
        raise ClassifykitError(f"Unknown Fashion-MNIST class {unknown[0]!r}; choose from {', '.join(CLASSES)}.")
    if per_class is not None and per_class < 1:
        raise ClassifykitError(f"per_class={per_class}: must be at least 1.")
    class_ids = sorted(CLASSES.index(c) for c in names)
    out_dir = Path(out_dir)
    jobs: list[tuple[str, np.ndarray]] = []
    folders: list[Path] = []
    for part in (["train", "test"] if split == "both" else [split]):
        images, labels = load_split(part, source_dir)
        base = out_dir / part if split == "both" else out_dir
        folders += [base / CLASSES[c] for c in class_ids]
        for i in _select(labels, class_ids, per_class, seed):
            jobs.append((str(base / CLASSES[labels[i]] / f"{part}_{i:05d}.png"), images[i]))
    _remove_stale(out_dir, split, {path for path, _ in jobs})
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) < 2000:
        return _write_pngs(jobs)
    chunk = max(500, len(jobs) // (workers * 4))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(_write_pngs, [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)]))
