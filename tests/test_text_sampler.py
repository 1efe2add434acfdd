"""Length-bucketed batches and the collate function (the engine's text batch contract)."""

import numpy as np
import torch

from classifykit.text.dataset import EncodedTextDataset, pad_collate
from classifykit.text.sampler import BucketBatchSampler


def _lengths(n=1000, seed=0):
    return np.random.default_rng(seed).integers(1, 60, size=n)


def test_every_index_once_and_order_depends_only_on_seed_and_epoch():
    lengths = _lengths()
    s = BucketBatchSampler(lengths, 32, seed=3, pool_batches=5)
    epoch0 = list(s)
    assert sorted(i for b in epoch0 for i in b) == list(range(1000))
    assert len(epoch0) == len(s) == 32
    s.set_epoch(1)
    epoch1 = list(s)
    assert epoch1 != epoch0
    again = BucketBatchSampler(lengths, 32, seed=3, pool_batches=5)
    again.set_epoch(1)
    assert list(again) == epoch1
    assert list(BucketBatchSampler(lengths, 32, seed=4, pool_batches=5)) != epoch0


def test_bucketing_cuts_padding():
    lengths = _lengths(5000)

    def pad_share(sampler):
        padded = sum(len(b) * lengths[b].max() for b in sampler)
        return 1 - lengths.sum() / padded

    random_batches = pad_share(BucketBatchSampler(lengths, 64, seed=0, pool_batches=1))
    bucketed = pad_share(BucketBatchSampler(lengths, 64, seed=0, pool_batches=50))
    assert random_batches > 0.45  # uniform lengths 1..59: about half of a random batch is padding
    assert bucketed < 0.05


def test_eval_order_is_sorted_and_fixed():
    lengths = np.array([5, 1, 3, 3, 2])
    s = BucketBatchSampler(lengths, 2, shuffle=False)
    assert list(s) == [[1, 4], [2, 3], [0]]


def test_distributed_ranks_get_equal_disjoint_shares():
    lengths = _lengths(103)
    ranks = [BucketBatchSampler(lengths, 10, seed=1, num_replicas=3, rank=r) for r in range(3)]
    batches = [list(s) for s in ranks]
    assert [len(b) for b in batches] == [4, 4, 4] == [len(s) for s in ranks]
    single = list(BucketBatchSampler(lengths, 10, seed=1))
    # rank r takes global batches r, r+3, ...; 11 batches padded to 12 by repeating the first
    assert batches[0] == [single[0], single[3], single[6], single[9]]
    assert batches[2] == [single[2], single[5], single[8], single[0]]
    covered = {i for b in batches for batch in b for i in batch}
    assert covered == set(range(103))


def test_pad_collate_contract():
    ds = EncodedTextDataset([np.array([5, 6, 7]), np.array([8]), np.array([2, 3])], np.array([1, 0, 1]))
    assert ds.lengths.tolist() == [3, 1, 2]
    (ids, lengths), targets = pad_collate([ds[0], ds[1], ds[2]])
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [2, 3, 0]]
    assert lengths.tolist() == [3, 1, 2] and lengths.device.type == "cpu"
    assert targets.tolist() == [1, 0, 1]
    assert ids.dtype == lengths.dtype == targets.dtype == torch.int64
