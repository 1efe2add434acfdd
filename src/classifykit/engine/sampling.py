"""Samplers whose order depends only on (seed, epoch): resumable and identical across runs.

A plain ``RandomSampler`` draws its order from the global generator, so a resumed run only sees the
same order if every RNG draw before it happened identically. These samplers instead derive each
epoch's permutation from ``seed + epoch``, the convention of ``torch.utils.data.DistributedSampler``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler, Sampler, SequentialSampler


class SeededRandomSampler(Sampler[int]):
    """A random permutation of ``range(n)`` per epoch, a function of ``seed`` and ``epoch`` only.

    Call :meth:`set_epoch` before each epoch (``fit`` does when the loader's sampler has it).
    """

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n = int(n)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of epoch ``epoch`` (0-based)."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


class ShardedEvalSampler(Sampler[int]):
    """Evaluation indices of one process: ``range(n)[rank::world_size]``, in order, without padding.

    ``DistributedSampler`` pads with repeated items so every process runs the same number of steps,
    which training needs but which would count some items twice in validation metrics. Evaluation
    runs no collective per batch, so shards of unequal length are fine and the summed metrics
    (see ``engine.loop.evaluate``) are exact.
    """

    def __init__(self, n: int, rank: int, world_size: int) -> None:
        self.n, self.rank, self.world_size = int(n), int(rank), int(world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world_size))


def distributed_sampler(dataset: Sized, shuffle: bool, seed: int = 0, *, evaluation: bool | None = None) -> Sampler[int]:
    """The sampler a DataLoader over ``dataset`` should use, with or without torchrun.

    ``evaluation`` defaults to ``not shuffle``. Single process: :class:`SeededRandomSampler`
    (shuffle) or ``SequentialSampler``. Under ``torch.distributed``: for training
    ``DistributedSampler(shuffle=shuffle, seed=seed)`` (each process an equally long shard, padded
    by repeating items, so all processes run the same number of steps; the global batch is
    ``batch_size × world_size``), for evaluation :class:`ShardedEvalSampler` (no repeats).
    Every shuffling sampler has ``set_epoch``.
    """
    evaluation = (not shuffle) if evaluation is None else evaluation
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return SeededRandomSampler(len(dataset), seed) if shuffle else SequentialSampler(dataset)
    if evaluation:
        return ShardedEvalSampler(len(dataset), dist.get_rank(), dist.get_world_size())
    return DistributedSampler(dataset, shuffle=shuffle, seed=seed)


def is_sharded(sampler: object) -> bool:
    """True when ``sampler`` gives this process only its share of the data (metrics need summing)."""
    return isinstance(sampler, (DistributedSampler, ShardedEvalSampler))
