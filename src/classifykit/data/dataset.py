"""``ImageFolderDataset`` over the manifest and split, and the DataLoader settings that go with it."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2.functional import pil_to_tensor

from classifykit.data.cache import DecodedImageCache
from classifykit.data.decode import decode_image
from classifykit.engine.seed import seed_worker
from classifykit.cpus import usable_cpus
from classifykit.errors import ClassifykitError


class ImageFolderDataset(Dataset):
    """Images listed by path (relative to ``root``) with integer class targets.

    ``dataset[i]`` -> ``(image, target)``: ``image`` is ``transform`` applied to the decoded image
    (float32 ``C×H×W`` with the presets in :mod:`classifykit.data.transforms`); with
    ``transform=None`` it is the uint8 tensor ``C×H×W`` itself (for :func:`~classifykit.data.stats.compute_mean_std`).
    ``target`` is a Python int (the DataLoader collates a batch into int64 ``B``).

    Without a cache each access decodes the file with :func:`~classifykit.data.decode.decode_image`
    (the transform then gets a PIL image); with a :class:`~classifykit.data.cache.DecodedImageCache`
    it reads the pre-resized uint8 pixels (the transform gets a tensor) and opens no file.

    Raises:
        ClassifykitError: ``paths`` and ``targets`` differ in length, a path is not in ``cache``,
            the cache holds another channel count, or (at access) a file cannot be decoded.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        paths: Sequence[str],
        targets: Sequence[int],
        transform: Callable[[Any], torch.Tensor] | None,
        channels: int,
        cache: DecodedImageCache | None = None,
    ) -> None:
        if len(paths) != len(targets):
            raise ClassifykitError(f"{len(paths)} image paths but {len(targets)} targets; each image needs one label.")
        if cache is not None and cache.channels != channels:
            raise ClassifykitError(f"Image cache {cache.path} holds {cache.channels}-channel images, not {channels}; rebuild it.")
        self.root, self.paths, self.targets = Path(root), list(paths), [int(t) for t in targets]
        self.transform, self.channels, self.cache = transform, channels, cache
        self.rows = [cache.row(p) for p in self.paths] if cache is not None else None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if self.cache is not None:
            image = self.cache[self.rows[i]]
        else:
            image = decode_image(self.root / self.paths[i], self.channels)
            if self.transform is None:
                image = pil_to_tensor(image)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[i]


def resolve_num_workers(num_workers: int) -> int:
    """``-1`` -> min(4, usable CPU cores) (the config's default); other values unchanged (>= 0)."""
    if num_workers >= 0:
        return num_workers
    return min(4, usable_cpus())


def loader_kwargs(num_workers: int, device: torch.device | str) -> dict[str, Any]:
    """Keyword arguments for ``torch.utils.data.DataLoader`` shared by every image loader.

    - ``num_workers``: as given; ``-1`` picks min(4, CPU cores).
    - ``pin_memory``: on CUDA only (page-locked batches copy to the GPU asynchronously).
    - ``persistent_workers``: with workers, so they (and their open memory map) survive between epochs.
    - ``worker_init_fn``: :func:`classifykit.engine.seed.seed_worker` (seeds ``random`` and NumPy per worker).
    """
    n = resolve_num_workers(num_workers)
    return {
        "num_workers": n,
        "pin_memory": torch.device(device).type == "cuda",
        "persistent_workers": n > 0,
        "worker_init_fn": seed_worker if n > 0 else None,
    }
