"""A pretrained encoder's own tokenizer: ``tokenizer.json`` -> ``(input_ids B×T, attention_mask B×T)``.

The encoder must see the ids it was pretrained on, so it never uses classifykit's vocabulary: its
Hugging Face fast tokenizer (the ``tokenizers`` library, loaded from the folder's ``tokenizer.json``,
the same file ``transformers``' ``PreTrainedTokenizerFast`` wraps) adds ``[CLS]``/``[SEP]`` and
truncates to ``max_length`` tokens, specials included. Padding is ours, per batch, to the longest text
of the batch (a ``tokenizer.json`` may carry a fixed padding length, e.g. 128 for all-MiniLM-L6-v2;
it is switched off).

Batches follow the engine's text contract (``engine.loop``): ``((input_ids, attention_mask), targets)``
with ``input_ids`` int64 ``B×T`` padded with the tokenizer's pad id and ``attention_mask`` int64
``B×T`` (1 = token, 0 = pad); :class:`EncodedIdsDataset` has ``lengths`` for
:class:`~classifykit.text.sampler.BucketBatchSampler`, so length-bucketed batching works unchanged.

A run keeps its own copy of the tokenizer files (:func:`copy_tokenizer_files`), so predict and serve
never need the package or folder the model came from.
"""

from __future__ import annotations

from classifykit.models.meta import meta_extra

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from classifykit.errors import ClassifykitError
from classifykit.io import read_json

TOKENIZER_JSON = "tokenizer.json"
#: Files of a Hugging Face model folder that describe its tokenizer and architecture (not its weights);
#: all that exist are copied into the run. ``tokenizer.json`` is required, the others are for people and
#: for ``transformers.AutoTokenizer`` / ``AutoConfig``.
FOLDER_FILES = ("config.json", TOKENIZER_JSON, "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
MAX_LENGTH_CAP = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (sentence_bert_config.json)
LENGTH_QUANTILE = 0.95


class HFTokenizer:
    """The fast tokenizer of a Hugging Face model folder, truncating to ``max_length`` tokens.

    Args:
        folder: a folder with ``tokenizer.json`` (and optionally ``tokenizer_config.json``).
        max_length: most tokens per text, ``[CLS]`` and ``[SEP]`` included (>= 2).

    Attributes:
        pad_id: id used for padding (the tokenizer's own padding id, else its ``pad_token``'s id, else 0).
        max_length: as given.

    Raises:
        ClassifykitError: no or unreadable ``tokenizer.json`` in ``folder``, or ``max_length < 2``.
    """

    def __init__(self, folder: str | Path, max_length: int):
        from tokenizers import Tokenizer

        path = Path(folder) / TOKENIZER_JSON
        if not path.is_file():
            raise ClassifykitError(f"{path}: not found; an encoder folder needs the fast tokenizer file "
                                   f"{TOKENIZER_JSON} (transformers' save_pretrained writes it).")
        if max_length < 2:
            raise ClassifykitError(f"--max-length {max_length}: an encoder needs at least 2 tokens ([CLS] and [SEP]).")
        try:
            self.tokenizer = Tokenizer.from_file(str(path))
        except Exception as e:  # tokenizers raises a bare Exception for a malformed file
            raise ClassifykitError(f"{path}: not a Hugging Face tokenizer file ({e}).") from e
        self.pad_id = self._pad_id(Path(folder))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        self.max_length = max_length

    def _pad_id(self, folder: Path) -> int:
        if self.tokenizer.padding is not None:
            return int(self.tokenizer.padding["pad_id"])
        config = folder / "tokenizer_config.json"
        token = read_json(config).get("pad_token") if config.is_file() else None
        if isinstance(token, dict):  # older files store an AddedToken as a dict
            token = token.get("content")
        found = self.tokenizer.token_to_id(token or "[PAD]")
        return 0 if found is None else int(found)

    def encode_ids(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids of each text (int64, 2..``max_length`` long, specials included), unpadded."""
        return [np.asarray(e.ids, dtype=np.int64) for e in self.tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(input_ids B×T int64, attention_mask B×T int64)``, padded to the longest text of ``texts``."""
        return pad_batch(self.encode_ids(texts), self.pad_id)


def pad_batch(ids: Sequence[np.ndarray | torch.Tensor], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id sequences to the longest: ``(input_ids B×T int64, attention_mask B×T int64)``."""
    seqs = [torch.as_tensor(a, dtype=torch.int64) for a in ids]
    input_ids = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=pad_id)
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
    attention_mask = (torch.arange(input_ids.shape[1])[None, :] < lengths[:, None]).to(torch.int64)
    return input_ids, attention_mask


class EncodedIdsDataset(Dataset):
    """Texts tokenized by an :class:`HFTokenizer`, in memory: items ``(ids T_i int64, target)``.

    ``lengths`` (int64 ``N``, tokens per text) feeds ``BucketBatchSampler``; batch with :class:`PadCollate`.
    """

    def __init__(self, ids: Sequence[np.ndarray], targets: np.ndarray):
        if len(ids) != len(targets):
            raise ValueError(f"{len(ids)} texts but {len(targets)} targets")
        self.ids = list(ids)
        self.targets = np.asarray(targets, dtype=np.int64)
        self.lengths = np.fromiter((len(a) for a in self.ids), dtype=np.int64, count=len(self.ids))

    @classmethod
    def from_texts(cls, texts: Sequence[str], targets: np.ndarray, tokenizer: HFTokenizer) -> EncodedIdsDataset:
        """Tokenize ``texts`` (truncated to ``tokenizer.max_length``)."""
        return cls(tokenizer.encode_ids(texts), targets)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.ids[i]), int(self.targets[i])


class PadCollate:
    """``collate_fn``: ``[(ids T_i, target)]`` -> ``((input_ids B×T, attention_mask B×T), targets B)``.

    A class rather than a closure so DataLoader worker processes can pickle it.
    """

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[tuple[torch.Tensor, int]]):
        inputs = pad_batch([ids for ids, _ in batch], self.pad_id)
        return inputs, torch.tensor([t for _, t in batch], dtype=torch.int64)


def max_length_from_data(lengths: Sequence[int] | np.ndarray, *, quantile: float = LENGTH_QUANTILE,
                         cap: int = MAX_LENGTH_CAP, model_limit: int | None = None) -> int:
    """A max length that keeps ``quantile`` of the training texts whole: the quantile of ``lengths``
    (tokens per text from an untruncated tokenizer, specials included), rounded up to a multiple of 8,
    at most ``cap`` and the model's ``max_position_embeddings`` (``model_limit``), at least 8.

    Attention cost grows with the square of the length, so the longest few texts do not set it.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    limit = min(cap, model_limit) if model_limit else cap
    if not len(lengths):
        return limit
    q = int(np.quantile(lengths, quantile, method="inverted_cdf"))  # a length some text has
    return int(min(limit, max(8, -(-q // 8) * 8)))


def token_lengths(folder: str | Path, texts: Sequence[str], model_limit: int = 512) -> np.ndarray:
    """Tokens per text (specials included) with the folder's tokenizer truncated only at ``model_limit``."""
    return np.fromiter((len(a) for a in HFTokenizer(folder, model_limit).encode_ids(texts)), dtype=np.int64)


def copy_tokenizer_files(src: str | Path, dst: str | Path) -> list[str]:
    """Copy the tokenizer and config files of HF folder ``src`` (:data:`FOLDER_FILES` that exist) into ``dst``.

    Returns the copied file names. Weights are never copied (the run's ``model.safetensors`` holds them).

    Raises:
        ClassifykitError: ``src`` has no ``tokenizer.json``.
    """
    src, dst = Path(src), Path(dst)
    if not (src / TOKENIZER_JSON).is_file():
        raise ClassifykitError(f"{src / TOKENIZER_JSON}: not found; the encoder folder must hold its tokenizer.")
    dst.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in FOLDER_FILES:
        if (src / name).is_file() and (src / name).resolve() != (dst / name).resolve():
            shutil.copyfile(src / name, dst / name)
            copied.append(name)
    return copied


def load_run_tokenizer(run_dir: str | Path, meta: dict) -> HFTokenizer:
    """The tokenizer of a saved encoder run: ``run_dir/<meta_extra(meta, "encoder")["files"]>`` at ``meta["max_length"]``.

    Raises:
        ClassifykitError: ``meta`` is not an encoder run's, or its tokenizer files are gone.
    """
    enc = meta_extra(meta, "encoder") or {}
    max_length = meta.max_length if not isinstance(meta, dict) else meta.get("max_length")
    if not enc.get("files") or not max_length:
        raise ClassifykitError(f"{Path(run_dir) / 'model.json'}: not a pretrained-encoder run (no encoder.files "
                               "or max_length).")
    return HFTokenizer(Path(run_dir) / enc["files"], int(max_length))
