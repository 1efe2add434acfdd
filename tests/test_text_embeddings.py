"""Pretrained vectors: coverage and rows of a tiny GloVe-format file (plain and .gz)."""

import gzip

import numpy as np
import pytest
import torch

from classifykit.errors import ClassifykitError
from classifykit.text.embeddings import embedding_matrix
from classifykit.text.vocab import Vocab

GLOVE = "the 0.1 0.2 0.3\nmovie 1.0 -1.0 0.5\ngood -0.5 0.25 2.0\n, 0.0 0.0 1.0\n"


@pytest.mark.parametrize("gz", [False, True])
def test_coverage_and_rows(tmp_path, gz):
    path = tmp_path / ("glove.txt.gz" if gz else "glove.txt")
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(GLOVE)
    else:
        path.write_text(GLOVE, encoding="utf-8")
    vocab = Vocab(["<pad>", "<unk>", "movie", "the", "zzyzx", "good", "blorp"])
    matrix, cov = embedding_matrix(vocab, str(path), seed=0)
    assert (cov.found, cov.total, cov.dim) == (3, 5, 3)
    assert cov.fraction == pytest.approx(0.6)
    assert cov.missing_examples == ["zzyzx", "blorp"]
    assert matrix.shape == (7, 3) and matrix.dtype == torch.float32
    assert matrix[0].tolist() == [0.0, 0.0, 0.0]
    assert matrix[2].tolist() == pytest.approx([1.0, -1.0, 0.5])
    assert matrix[5].tolist() == pytest.approx([-0.5, 0.25, 2.0])
    values = np.array([float(v) for line in GLOVE.split("\n") if line for v in line.split()[1:]])
    # random rows are drawn from N(0, std of all vectors) with a fixed generator
    expected = torch.randn(7, 3, generator=torch.Generator().manual_seed(0)) * values.std()
    assert matrix[4].tolist() == pytest.approx(expected[4].tolist(), rel=1e-5)


def test_malformed_file_names_the_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("a 1 2\nb 1\n", encoding="utf-8")
    with pytest.raises(ClassifykitError, match="bad.txt, line 2: 1 values where earlier lines have 2"):
        embedding_matrix(Vocab(["<pad>", "<unk>", "a"]), str(path))
    with pytest.raises(ClassifykitError, match="no such file"):
        embedding_matrix(Vocab(["<pad>", "<unk>", "a"]), str(tmp_path / "missing.txt"))


@pytest.mark.integration
def test_glove_package_covers_common_words():
    vocab = Vocab(["<pad>", "<unk>", "the", "movie", "café", "qqxqqxz"])
    matrix, cov = embedding_matrix(vocab, "glove-6b-50d")
    assert (cov.found, cov.total, cov.dim) == (3, 4, 50)
    assert matrix[2, :3].tolist() == pytest.approx([0.418, 0.24968, -0.41242], abs=1e-5)
