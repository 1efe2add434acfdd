"""The vocabulary: token <-> id, built from the training texts only, saved as ``vocab.json`` (no pickle).

Ids: ``<pad>`` = 0 (the embedding's ``padding_idx``), ``<unk>`` = 1, then the tokens of the training
split by decreasing count, ties in code-point order (``tokenizers.trainers.WordLevelTrainer``), keeping
tokens seen at least ``min_freq`` times, at most ``max_size`` entries in all (specials included).

``vocab.json``: ``{"format": "classifykit-vocab", "version": 1, "tokenizer": TOKENIZER_SETTINGS,
"min_freq": int, "max_size": int, "tokens": [token of id 0, token of id 1, ...]}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from tokenizers import trainers

from classifykit.errors import ClassifykitError
from classifykit.io import read_json, write_json
from classifykit.text.tokenize import TOKENIZER_SETTINGS, build_tokenizer, check_settings
from classifykit.text.truncation import truncate

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
FORMAT = "classifykit-vocab"


class Vocab:
    """Token list plus the tokenizer that maps texts to ids.

    Args:
        tokens: token of each id; ``tokens[0] == "<pad>"``, ``tokens[1] == "<unk>"``.
    """

    def __init__(self, tokens: list[str], min_freq: int = 1, max_size: int | None = None):
        if tokens[:2] != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {PAD!r}, {UNK!r}; got {tokens[:2]}")
        self.tokens = list(tokens)
        self.min_freq = min_freq
        self.max_size = max_size if max_size is not None else len(tokens)
        self.stoi = {t: i for i, t in enumerate(self.tokens)}
        self._tokenizer = build_tokenizer(self.stoi, UNK)

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(cls, texts: Iterable[str], min_freq: int = 2, max_size: int = 50000) -> Vocab:
        """Count tokens of ``texts`` (any iterable, streamed) and keep the frequent ones.

        Raises:
            ClassifykitError: ``max_size`` < 3 or ``min_freq`` < 1 (names the option).
        """
        if max_size < 3:
            raise ClassifykitError(f"--max-vocab {max_size}: must be at least 3 (<pad>, <unk> and one token).")
        if min_freq < 1:
            raise ClassifykitError(f"--min-freq {min_freq}: must be at least 1.")
        counter = build_tokenizer()
        trainer = trainers.WordLevelTrainer(vocab_size=max_size, min_frequency=min_freq,
                                            special_tokens=[PAD, UNK], show_progress=False)
        counter.train_from_iterator(_batched(texts), trainer=trainer)
        vocab = counter.get_vocab(with_added_tokens=True)
        return cls(sorted(vocab, key=vocab.__getitem__), min_freq, max_size)

    def encode(self, texts: list[str], max_length: int | None = None, truncation: str = "head") -> list[np.ndarray]:
        """Token ids of each text (int64 arrays of length 1..``max_length``).

        Longer texts are cut to ``max_length`` tokens by ``truncation`` (``head``: the first tokens;
        ``head_tail``: the first and last, see :mod:`classifykit.text.truncation`). A text with no tokens
        becomes ``[<unk>]`` so that every sequence has length >= 1 (``pack_padded_sequence`` rejects
        length 0) and an empty text at predict time still gets valid probabilities.
        """
        return [truncate(ids, max_length, truncation) for ids in self.encode_full(texts)]

    def encode_full(self, texts: list[str]) -> list[np.ndarray]:
        """Token ids of each text, untruncated (int64 arrays of length >= 1, ``[<unk>]`` for no tokens)."""
        return [np.asarray(enc.ids or [UNK_ID], dtype=np.int64)
                for enc in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def unk_fraction(self, ids: list[np.ndarray]) -> float:
        """Share of token positions that are ``<unk>`` (0..1) over encoded texts."""
        total = sum(len(a) for a in ids)
        return float(sum(int((a == UNK_ID).sum()) for a in ids) / total) if total else 0.0

    def save(self, path: str | Path) -> None:
        """Write ``vocab.json`` atomically."""
        write_json(path, {"format": FORMAT, "version": 1, "tokenizer": TOKENIZER_SETTINGS,
                          "min_freq": self.min_freq, "max_size": self.max_size, "tokens": self.tokens})

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        """Read ``vocab.json``. Raises :class:`ClassifykitError` if it is missing or not ours."""
        path = Path(path)
        if not path.is_file():
            raise ClassifykitError(f"{path}: no vocabulary file; is this the folder of a text run?")
        data = read_json(path)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ClassifykitError(f"{path}: not a classifykit vocabulary (expected \"format\": \"{FORMAT}\").")
        check_settings(data["tokenizer"], str(path))
        return cls(data["tokens"], data["min_freq"], data["max_size"])


def _batched(texts: Iterable[str], size: int = 1000) -> Iterator[list[str]]:
    """Lists of up to ``size`` texts: the trainer counts each list in parallel."""
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
