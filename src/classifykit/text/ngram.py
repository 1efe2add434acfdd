"""The n-gram featurizer of the linear text model: TF-IDF over word 1–2 grams and char_wb 2–5 grams.

Two scikit-learn ``TfidfVectorizer`` blocks side by side (columns of the word block first, then
those of the character block), each with sublinear tf (``1 + log tf``), smoothed idf and L2
normalisation per block, so a text's feature vector has norm sqrt(2) (1 when one block is empty).
This is the 7-second baseline of issue 12 (78.0% on the Rotten Tomatoes demo split with
``LogisticRegression(C=4)``; :func:`classifykit.models.ngram.fit_ngram` chooses C=8 on val and reaches
78.2% [76.7, 79.6] test, in 6–14 s on 2 shared cores, ``bench.bench_text_models``); word and character
n-grams together are the strong linear baseline of Wang & Manning 2012 ("Baselines and Bigrams") and of
fastText (Joulin et al. 2017, "Bag of Tricks").

A text becomes the padded pair the model (:class:`classifykit.models.ngram.NgramClassifier`) reads:
``ids`` int64 ``B×T`` (column indices of the text's non-zero features, padded with 0) and
``weights`` float32 ``B×T`` (their tf-idf values, 0 at pads); ``T`` = the most features of a row
(at least 1, so an empty text is one pad whose logits are the bias).

Saved as JSON, never pickled (``ngram.json``, :data:`FILE_NAME`): ``{"format": "classifykit-ngram",
"version": 1, "num_features": F, "blocks": [{"settings": {...}, "vocabulary": {n-gram: column},
"idf": [float, ...]}, ...]}`` (``settings`` are the vectorizer's parameters, ``vocabulary`` its
``vocabulary_`` with block-local columns, ``idf`` its ``idf_`` in float64, which JSON round-trips
exactly), so a loaded featurizer gives bit-identical features.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from torch.utils.data import DataLoader, Dataset

from classifykit.errors import ClassifykitError
from classifykit.io import read_json, write_json

FORMAT = "classifykit-ngram"
FILE_NAME = "ngram.json"
MAX_FEATURES = 500_000  # word + char columns in all: keeps W (F×K float32) at 2 MB per class
# From this many training texts on, an n-gram must occur in 2 of them (bounds memory). Below it rare
# n-grams still help: on the demo's 7,684 train snippets min_df 1 gave 78.2% test, min_df 2 78.0%.
MIN_DF_FROM = 20_000

# The vectorizer parameters that define the features (all of them are saved; the rest are defaults).
_SAVED = ("analyzer", "ngram_range", "sublinear_tf", "lowercase", "min_df", "max_features", "token_pattern",
          "norm", "use_idf", "smooth_idf", "strip_accents")


def default_blocks(n_train: int, max_features: int = MAX_FEATURES) -> list[dict]:
    """Vectorizer settings of the two blocks for ``n_train`` training texts.

    ``min_df`` is 1 below :data:`MIN_DF_FROM` texts (rare n-grams still carry signal in a small
    set) and 2 from there on (an n-gram seen in one text cannot generalise, and dropping them bounds
    memory); ``max_features`` splits the cap 2:3 between the word and character blocks.
    """
    min_df = 1 if n_train < MIN_DF_FROM else 2
    common = {"sublinear_tf": True, "lowercase": True, "min_df": min_df, "norm": "l2", "use_idf": True,
              "smooth_idf": True, "strip_accents": None, "token_pattern": r"(?u)\b\w\w+\b"}
    return [dict(common, analyzer="word", ngram_range=[1, 2], max_features=max_features * 2 // 5),
            dict(common, analyzer="char_wb", ngram_range=[2, 5], max_features=max_features * 3 // 5)]


def _vectorizer(settings: dict, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    kwargs = dict(settings, ngram_range=tuple(settings["ngram_range"]))
    return TfidfVectorizer(**kwargs, vocabulary=vocabulary, dtype=np.float32)


class NgramFeaturizer:
    """Texts -> sparse tf-idf rows ``N×F`` -> padded ``(ids, weights)``.

    Args:
        blocks: vectorizer settings per block (see :func:`default_blocks`); None = the defaults for
            a large set (``fit`` replaces them with those for its texts).
    """

    def __init__(self, blocks: list[dict] | None = None):
        self.blocks = blocks
        self._vectorizers: list[TfidfVectorizer] = []

    @property
    def num_features(self) -> int:
        """F, the columns of :meth:`transform_sparse` (0 before :meth:`fit`)."""
        return sum(len(v.vocabulary_) for v in self._vectorizers)

    def fit(self, train_texts: Sequence[str]) -> NgramFeaturizer:
        """Learn the n-gram vocabulary and idf from the training texts only; returns self.

        Raises:
            ClassifykitError: no n-gram in any training text (names the fix).
        """
        self.blocks = self.blocks or default_blocks(len(train_texts))
        self._vectorizers = []
        for settings in self.blocks:
            vectorizer = _vectorizer(settings)
            try:
                vectorizer.fit(train_texts)
            except ValueError:  # "empty vocabulary; perhaps the documents only contain stop words"
                if settings["analyzer"] == "word":  # texts of one-letter words: the char block still works
                    continue
                raise ClassifykitError("the training texts hold no character n-grams (are they empty?); "
                                       "give texts with words in them.") from None
            self._vectorizers.append(vectorizer)
        self.blocks = [{k: v.get_params()[k] for k in _SAVED} for v in self._vectorizers]
        return self

    def transform_sparse(self, texts: Sequence[str]) -> sp.csr_matrix:
        """tf-idf rows (float32 CSR ``N×F``) of ``texts``."""
        if not self._vectorizers:
            raise ValueError("NgramFeaturizer.transform before fit or load")
        return sp.hstack([v.transform(texts) for v in self._vectorizers], format="csr", dtype=np.float32)

    def transform(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids B×T int64, weights B×T float32)`` of ``texts`` (see the module docstring)."""
        return pad_rows(self.transform_sparse(texts))

    def save(self, path: str | Path) -> None:
        """Write the featurizer as JSON (module docstring), atomically."""
        blocks = [{"settings": {k: (list(s) if k == "ngram_range" else s) for k, s in settings.items()},
                   "vocabulary": {term: int(col) for term, col in sorted(v.vocabulary_.items(), key=lambda kv: kv[1])},
                   "idf": v.idf_.tolist()}
                  for settings, v in zip(self.blocks, self._vectorizers)]
        write_json(path, {"format": FORMAT, "version": 1, "num_features": self.num_features, "blocks": blocks})

    @classmethod
    def load(cls, path: str | Path) -> NgramFeaturizer:
        """Read a featurizer written by :meth:`save`.

        Raises:
            ClassifykitError: missing file, or not a classifykit n-gram featurizer.
        """
        path = Path(path)
        if not path.is_file():
            raise ClassifykitError(f"{path}: no n-gram featurizer file; is this the folder of an n-gram text run?")
        data = read_json(path)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ClassifykitError(f"{path}: not a classifykit n-gram featurizer (expected \"format\": \"{FORMAT}\").")
        out = cls([b["settings"] for b in data["blocks"]])
        for block in data["blocks"]:
            vectorizer = _vectorizer(block["settings"], block["vocabulary"])
            vectorizer.idf_ = np.asarray(block["idf"], dtype=np.float64)
            out._vectorizers.append(vectorizer)
        return out


def pad_rows(rows: sp.csr_matrix) -> tuple[torch.Tensor, torch.Tensor]:
    """CSR ``N×F`` -> ``(ids N×T int64, weights N×T float32)``: each row's non-zero columns and values in
    stored order, padded with column 0 and weight 0 to ``T`` = the longest row (at least 1)."""
    rows = rows.tocsr()
    counts = np.diff(rows.indptr)
    width = max(int(counts.max(initial=0)), 1)
    ids = np.zeros((rows.shape[0], width), dtype=np.int64)
    weights = np.zeros((rows.shape[0], width), dtype=np.float32)
    row_of = np.repeat(np.arange(rows.shape[0]), counts)
    position = np.arange(rows.nnz) - rows.indptr[row_of]
    ids[row_of, position] = rows.indices
    weights[row_of, position] = rows.data
    return torch.from_numpy(ids), torch.from_numpy(weights)


class NgramDataset(Dataset):
    """Featurized texts for the engine: item ``i`` is ``((ids T_i, weights T_i), target)``.

    Args:
        rows: tf-idf rows (CSR ``N×F``) from :meth:`NgramFeaturizer.transform_sparse`.
        targets: class index per text, int64 ``N``.
    """

    def __init__(self, rows: sp.csr_matrix, targets: np.ndarray):
        if rows.shape[0] != len(targets):
            raise ValueError(f"{rows.shape[0]} texts but {len(targets)} targets")
        self.rows = rows.tocsr()
        self.targets = np.asarray(targets, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[sp.csr_matrix, int]:
        return self.rows[i], int(self.targets[i])


def ngram_collate(batch: list[tuple[sp.csr_matrix, int]]) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``[(row 1×F, target)]`` -> ``((ids B×T, weights B×T), targets B)`` (see :func:`pad_rows`)."""
    ids, weights = pad_rows(sp.vstack([row for row, _ in batch], format="csr"))
    return (ids, weights), torch.tensor([t for _, t in batch], dtype=torch.int64)


def ngram_loader(featurizer: NgramFeaturizer, texts: Sequence[str], targets: np.ndarray | None = None,
                 batch_size: int = 256) -> DataLoader:
    """Batches ``((ids B×T, weights B×T), targets B)`` of ``texts`` in order, for
    :func:`classifykit.engine.loop.predict_logits`; ``targets`` default to 0 (prediction)."""
    targets = np.zeros(len(texts), dtype=np.int64) if targets is None else targets
    dataset = NgramDataset(featurizer.transform_sparse(list(texts)), targets)
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=ngram_collate)
