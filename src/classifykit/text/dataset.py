"""Text datasets and the collate function that makes the engine's text batches.

A batch is ``((ids, lengths), targets)``: ``ids`` int64 ``B×T`` padded with ``<pad>`` = 0 to the
longest text of the batch, ``lengths`` int64 ``B`` on the CPU (``pack_padded_sequence`` requires
CPU lengths), ``targets`` int64 ``B`` (docs/CONTRACTS.md, "Engine API").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from classifykit.text.truncation import truncate, truncated_count
from classifykit.text.vocab import PAD_ID, Vocab


class EncodedTextDataset(Dataset):
    """Texts already turned into ids (small and medium corpora: everything in memory).

    Args:
        ids: int64 array of token ids per text (length >= 1, see :meth:`Vocab.encode`).
        targets: class index per text, int64 ``N``.
        full_lengths: each text's token count before truncation (default: ``len(ids[i])``).

    ``lengths`` (int64 ``N``, after truncation) feeds :class:`~classifykit.text.sampler.BucketBatchSampler`;
    ``full_lengths`` (int64 ``N``) is what :func:`~classifykit.text.truncation.default_max_length` and
    :func:`~classifykit.text.truncation.truncation_warning` read: a text is cut when
    ``full_lengths > max_length`` (a text of exactly ``max_length`` tokens is not).
    """

    def __init__(self, ids: Sequence[np.ndarray], targets: np.ndarray, full_lengths: np.ndarray | None = None):
        if len(ids) != len(targets):
            raise ValueError(f"{len(ids)} texts but {len(targets)} targets")
        self.ids = list(ids)
        self.targets = np.asarray(targets, dtype=np.int64)
        self.lengths = np.fromiter((len(a) for a in self.ids), dtype=np.int64, count=len(self.ids))
        self.full_lengths = self.lengths.copy() if full_lengths is None else np.asarray(full_lengths, dtype=np.int64)

    @classmethod
    def from_texts(cls, texts: list[str], targets: np.ndarray, vocab: Vocab, max_length: int | None,
                   truncation: str = "head") -> EncodedTextDataset:
        """Tokenize ``texts`` with ``vocab``, cut to ``max_length`` tokens by ``truncation`` (None: uncut)."""
        full = vocab.encode_full(texts)
        return cls([truncate(ids, max_length, truncation) for ids in full], targets, np.array([len(a) for a in full]))

    def truncated(self, max_length: int | None, truncation: str = "head") -> EncodedTextDataset:
        """The same texts cut to ``max_length`` by ``truncation`` (``full_lengths`` kept): build the train
        set uncut, choose the max length from its ``full_lengths``, then cut, without tokenizing twice."""
        return EncodedTextDataset([truncate(ids, max_length, truncation) for ids in self.ids], self.targets,
                                  self.full_lengths)

    def truncated_count(self, max_length: int | None) -> int:
        """Texts longer than ``max_length`` tokens (cut by it): ``full_lengths > max_length``."""
        return truncated_count(self.full_lengths, max_length)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.ids[i]), int(self.targets[i])


class LazyTextDataset(Dataset):
    """Texts read from disk on demand through a byte-offset index, tokenized in ``__getitem__``.

    For corpora larger than memory: only the offsets (8 bytes per record), the targets and the
    length proxies stay in memory.

    Args:
        source: :class:`~classifykit.text.offset_index.IndexedTextFile` (``text(record) -> str``).
        records: record number (in ``source``) of each item.
        targets: class index of each item, int64 ``N``.
        lengths: length proxy per item for bucketing (the record's size in bytes).
        truncation: how a text longer than ``max_length`` is cut (:mod:`classifykit.text.truncation`).
    """

    def __init__(self, source, records: np.ndarray, targets: np.ndarray, vocab: Vocab,
                 max_length: int | None, lengths: np.ndarray, truncation: str = "head"):
        self.source = source
        self.records = np.asarray(records, dtype=np.int64)
        self.targets = np.asarray(targets, dtype=np.int64)
        self.vocab = vocab
        self.max_length = max_length
        self.truncation = truncation
        self.lengths = np.asarray(lengths, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        text = self.source.text(int(self.records[i]))
        ids = self.vocab.encode([text], self.max_length, self.truncation)[0]
        return torch.from_numpy(ids), int(self.targets[i])


def pad_collate(batch: list[tuple[torch.Tensor, int]]) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``[(ids T_i, target)]`` -> ``((ids B×T, lengths B), targets B)``, padded with ``<pad>`` = 0."""
    seqs = [ids for ids, _ in batch]
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
    ids = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=PAD_ID)
    targets = torch.tensor([t for _, t in batch], dtype=torch.int64)
    return (ids, lengths), targets
