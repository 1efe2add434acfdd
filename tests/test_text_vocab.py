"""Tokenizer and vocabulary: normalization, splitting, min_freq / max_size, ids, JSON round trip."""

import json

import numpy as np
import pytest

from classifykit.errors import ClassifykitError
from classifykit.text.tokenize import TOKENIZER_SETTINGS, tokenize
from classifykit.text.vocab import PAD_ID, UNK_ID, Vocab


def test_tokenizer_normalizes_lowercases_and_splits_punctuation():
    assert tokenize(["Don't STOP!", "ﬁne\u00a0Café—naïve", "<pad> 3.5"]) == [
        ["don", "'", "t", "stop", "!"],
        ["fine", "café", "—", "naïve"],
        ["<", "pad", ">", "3", ".", "5"],
    ]


def test_vocab_counts_min_freq_max_size_and_order():
    texts = ["b b a a c c c d d z", "e e"]
    vocab = Vocab.build(texts, min_freq=2, max_size=5)
    # by count (c:3), then ties (a, b, d, e: 2) in code-point order, cut at 5 entries in all
    assert vocab.tokens == ["<pad>", "<unk>", "c", "a", "b"]
    assert (PAD_ID, UNK_ID) == (0, 1)
    assert Vocab.build(texts, min_freq=1, max_size=100).tokens == ["<pad>", "<unk>", "c", "a", "b", "d", "e", "z"]


def test_encode_truncates_and_never_returns_empty():
    vocab = Vocab.build(["good film good", "bad film"], min_freq=1, max_size=10)
    ids = vocab.encode(["Good FILM, zzz", "", "good good good good"], max_length=3)
    good, film = vocab.stoi["good"], vocab.stoi["film"]
    assert [a.tolist() for a in ids] == [[good, film, UNK_ID], [UNK_ID], [good, good, good]]
    assert all(a.dtype == np.int64 for a in ids)
    assert vocab.unk_fraction(ids) == pytest.approx(2 / 7)


def test_round_trip_through_json(tmp_path):
    vocab = Vocab.build(["Ünïcode words, and more words"], min_freq=1, max_size=50)
    vocab.save(tmp_path / "vocab.json")
    data = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    assert data["format"] == "classifykit-vocab" and data["tokenizer"] == TOKENIZER_SETTINGS
    assert data["tokens"][:3] == ["<pad>", "<unk>", "words"]
    again = Vocab.load(tmp_path / "vocab.json")
    assert again.tokens == vocab.tokens
    texts = ["more ünïcode WORDS!", "never seen"]
    assert [a.tolist() for a in again.encode(texts)] == [a.tolist() for a in vocab.encode(texts)]


def test_load_refuses_foreign_files(tmp_path):
    (tmp_path / "v.json").write_text('{"tokens": ["a"]}', encoding="utf-8")
    with pytest.raises(ClassifykitError, match="not a classifykit vocabulary"):
        Vocab.load(tmp_path / "v.json")
    with pytest.raises(ClassifykitError, match="no vocabulary file"):
        Vocab.load(tmp_path / "missing.json")
    with pytest.raises(ClassifykitError, match="--max-vocab 2"):
        Vocab.build(["a"], max_size=2)
