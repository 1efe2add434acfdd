"""Per-channel mean and std of the training images, for ``Normalize``.

Measured on the training split only: statistics from val or test would leak held-out data into
preprocessing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from PIL import Image

from classifykit.errors import ClassifykitError


def _as_uint8_batch(item: Any) -> torch.Tensor:
    """One item -> uint8 tensor ``B×C×H×W`` (a dataset's ``(image, target)`` pair gives its image)."""
    if isinstance(item, (tuple, list)):
        item = item[0]
    if isinstance(item, Image.Image):
        a = np.array(item)  # a writable copy: torch warns on read-only arrays
        item = torch.from_numpy(a[..., None] if a.ndim == 2 else a).permute(2, 0, 1)
    if not isinstance(item, torch.Tensor) or item.dtype != torch.uint8 or item.ndim not in (3, 4):
        raise TypeError(
            "compute_mean_std needs uint8 images C×H×W or batches B×C×H×W (tensors or PIL images); "
            f"got {type(item).__name__} {getattr(item, 'dtype', '')} {tuple(getattr(item, 'shape', ()))}"
        )
    return item if item.ndim == 4 else item.unsqueeze(0)


# One grey level (1/255): the smallest std a uint8 channel that varies at all can have.
MIN_STD = 1 / 255


def compute_mean_std(images: Iterable[Any]) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation over every pixel of ``images``, in [0, 1] units.

    Streaming: one image (or batch) at a time, so the training set never has to fit in memory.
    Sums of values and of squared values are accumulated as exact integers (uint8 data: no
    rounding however many pixels), then ``mean = S / (255 n)`` and the population std
    ``sqrt(n Q - S^2) / (255 n)`` (ddof = 0, as torchvision's ImageNet statistics). Each pixel counts
    once, so images of different sizes are weighted by their pixel count.

    Args:
        images: an iterable of uint8 tensors ``C×H×W`` or ``B×C×H×W``, PIL ``L``/``RGB`` images, or
            ``(image, target)`` pairs of those (e.g. a Dataset whose transform returns uint8 tensors).
            Every image must have the same ``C``.

    Returns:
        ``(mean, std)``: two lists of ``C`` floats; a std below :data:`MIN_STD` (a channel that is
        constant over the train split, e.g. the blue of scans tinted one colour) is raised to it, so
        normalization stays finite and that channel stays a constant input.

    Raises:
        ClassifykitError: no images, or images with different channel counts.
        TypeError: an item is not a uint8 image (a float tensor from a normalizing transform, say).
    """
    sums: list[int] | None = None
    squares: list[int] = []
    n = 0
    for item in images:
        batch = _as_uint8_batch(item)
        c = batch.shape[1]
        if sums is None:
            sums, squares = [0] * c, [0] * c
        elif c != len(sums):
            raise ClassifykitError(
                f"Images with {len(sums)} and {c} channels in one training set; decode with a fixed --channels."
            )
        wide = batch.to(torch.int64)
        s = wide.sum(dim=(0, 2, 3)).tolist()
        q = (wide * wide).sum(dim=(0, 2, 3)).tolist()
        sums = [a + b for a, b in zip(sums, s)]
        squares = [a + b for a, b in zip(squares, q)]
        n += batch.shape[0] * batch.shape[2] * batch.shape[3]
    if sums is None or n == 0:
        raise ClassifykitError("Cannot compute mean/std: the training split has no images; check the manifest and split.")
    mean = [s / (255 * n) for s in sums]
    std = [max(math.sqrt(n * q - s * s) / (255 * n), MIN_STD) for s, q in zip(sums, squares)]
    return mean, std
