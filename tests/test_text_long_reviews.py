"""The long-review benchmark set (bench/long_reviews.py, issue 12): sizes, label mix, seeding; and on it,
the n-gram model reads whole documents."""

import sys
from pathlib import Path

import numpy as np

# ``bench`` is a folder at the repository root, not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.long_reviews import long_reviews  # noqa: E402
from classifykit.models.ngram import fit_ngram  # noqa: E402

SNIPPETS = [f"pos{i} good" for i in range(60)] + [f"neg{i} bad" for i in range(60)]
LABELS = ["pos"] * 60 + ["neg"] * 60


def test_documents_hold_25_to_40_snippets_60_percent_from_their_own_label():
    texts, labels = long_reviews(SNIPPETS, LABELS, n=40, seed=1)
    assert len(texts) == 40 and labels[:4] == ["neg", "pos", "neg", "pos"]
    for text, label in zip(texts, labels):
        words = text.split()
        size = len(words) // 2
        own = sum(w.startswith(label) for w in words)
        assert 25 <= size <= 40 and own == round(0.6 * size)
        ids = [w for w in words if w[:3] in ("pos", "neg")]
        assert len(set(ids)) == len(ids)  # no snippet twice in one document
    assert long_reviews(SNIPPETS, LABELS, n=40, seed=1) == (texts, labels)
    assert long_reviews(SNIPPETS, LABELS, n=40, seed=2)[0] != texts


def test_ngram_model_reads_the_whole_mixed_document():
    texts, labels = long_reviews(SNIPPETS, LABELS, n=120, seed=0)
    y = np.array([label == "pos" for label in labels], dtype=np.int64)
    _, _, info = fit_ngram(texts[:80], y[:80], texts[80:], y[80:], num_classes=2)
    assert info.val_accuracy >= 0.9
