"""Length-bucketed batches: few pad positions per batch while keeping the order random.

Recipe (the "bucket iterator" of torchtext / fairseq, made reproducible): shuffle all indices with
a generator seeded by ``(seed, epoch)``, cut them into pools of ``pool_batches × batch_size``, sort
each pool by length, cut each pool into batches, then shuffle the batches. A batch therefore holds
texts of similar length (little padding), and which texts meet in a batch changes every epoch.
Order depends only on ``(seed, epoch)`` — :meth:`set_epoch` is called by the trainer every epoch.

Distributed (DDP): with ``num_replicas > 1`` every rank builds the same global batch list, pads it
by repeating its first batches to a multiple of ``num_replicas``, and takes every
``num_replicas``-th batch from ``rank`` — equal batch counts per rank, as DDP needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class BucketBatchSampler(Sampler[list[int]]):
    """Yields lists of dataset indices (batches of similar length).

    Args:
        lengths: length of each item (tokens, or any proxy such as bytes), ``N``.
        batch_size: items per batch (the last batch of a pool may be smaller unless ``drop_last``).
        seed: base seed; the order of epoch ``e`` depends only on ``(seed, e)``.
        shuffle: False gives a fixed order sorted by length (for evaluation).
        pool_batches: batches per sorting pool (100: padding close to a global sort, order still
            random; 1: plain random batches, since sorting inside one batch changes no padding).
        num_replicas, rank: DDP world size and this process's rank.
    """

    def __init__(self, lengths: Sequence[int] | np.ndarray, batch_size: int, *, seed: int = 0,
                 shuffle: bool = True, pool_batches: int = 100, drop_last: bool = False,
                 num_replicas: int = 1, rank: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside 0..{num_replicas - 1}")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.pool_size = pool_batches * batch_size
        self.drop_last = drop_last
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order :meth:`__iter__` yields."""
        self.epoch = epoch

    def _global_batches(self) -> list[np.ndarray]:
        n = len(self.lengths)
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return self._cut(order)
        gen = np.random.default_rng([self.seed, self.epoch])
        order = gen.permutation(n)
        batches: list[np.ndarray] = []
        for start in range(0, n, self.pool_size):
            pool = order[start:start + self.pool_size]
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches.extend(self._cut(pool))
        return [batches[i] for i in gen.permutation(len(batches))]

    def _cut(self, order: np.ndarray) -> list[np.ndarray]:
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def _my_batches(self) -> list[np.ndarray]:
        batches = self._global_batches()
        if self.num_replicas == 1 or not batches:
            return batches
        total = -(-len(batches) // self.num_replicas) * self.num_replicas
        batches = batches + batches[: total - len(batches)]
        return batches[self.rank::self.num_replicas]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._my_batches():
            yield batch.tolist()

    def __len__(self) -> int:
        # Pools hold whole batches, so only the last pool can end in a partial batch.
        n = len(self.lengths)
        n_batches = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return -(-n_batches // self.num_replicas)
