"""Long texts: default max length from the length distribution, the truncation warning and count
(issue 15 defect 10: texts of exactly N tokens were counted as truncated), head and head_tail cuts."""

from __future__ import annotations

import numpy as np
import pytest

from classifykit.text.corpus import load_corpus
from classifykit.text.dataset import EncodedTextDataset
from classifykit.text.inference import text_loader
from classifykit.text.truncation import (default_max_length, head_tail_sizes, truncate, truncated_count,
                                         truncation_warning)
from classifykit.text.vocab import Vocab


def test_default_max_length_is_the_95th_percentile_rounded_up_to_32_within_32_and_the_cap():
    assert default_max_length([5] * 100) == 32
    assert default_max_length(list(range(1, 101))) == 96  # 95th percentile 95 -> 96
    assert default_max_length([700] * 50 + [900] * 50) == 928
    assert default_max_length([5000] * 10) == 1024 and default_max_length([5000] * 10, cap=512) == 512
    assert default_max_length([]) == 32


def test_a_text_of_exactly_max_length_tokens_is_not_counted_as_truncated(tmp_path):
    # defect 10: "texts truncated to N tokens" used >= on the truncated lengths
    path = tmp_path / "t.csv"
    path.write_text("text,label\none two three,a\none two three four,b\none two,a\n", encoding="utf-8")
    corpus = load_corpus(path)
    vocab = Vocab.build(corpus.iter_texts(), min_freq=1)
    ds = corpus.dataset([0, 1, 2], np.array([0, 1, 0]), vocab, max_length=3)
    assert ds.lengths.tolist() == [3, 3, 2] and ds.full_lengths.tolist() == [3, 4, 2]
    assert ds.truncated_count(3) == 1 and truncated_count(ds.full_lengths, 3) == 1
    assert truncated_count([3, 4, 2], None) == 0


def test_warning_names_the_share_only_above_ten_percent():
    assert truncation_warning([100] * 90 + [300] * 10, 256) is None  # exactly 10%: no warning
    assert truncation_warning([256] * 100, 256) is None  # exactly max_length is not cut
    message = truncation_warning([100] * 14 + [700] * 886, 256)
    assert message.startswith("warning: 886 of 900 training texts (98.4%) are longer than --max-length 256 tokens")
    assert "keeping their first 256 tokens" in message and "median length 700" in message
    assert "first 64 and last 192 tokens" in truncation_warning([700] * 10, 256, "head_tail")


def test_head_tail_keeps_a_quarter_head_and_the_end():
    assert head_tail_sizes(512) == (128, 384) and head_tail_sizes(256) == (64, 192) and head_tail_sizes(2) == (1, 1)
    ids = np.arange(10)
    assert truncate(ids, 4, "head").tolist() == [0, 1, 2, 3]
    assert truncate(ids, 4, "head_tail").tolist() == [0, 7, 8, 9]
    assert truncate(ids, 10, "head_tail").tolist() == list(range(10)) and truncate(ids, None).tolist() == list(range(10))
    assert truncate(list(range(10)), 8, "head_tail") == [0, 1, 4, 5, 6, 7, 8, 9]
    with pytest.raises(ValueError, match="truncation must be one of"):
        truncate(ids, 4, "middle")


def test_datasets_and_loaders_cut_by_the_strategy():
    vocab = Vocab.build(["a b c d e f g h"], min_freq=1)
    text = "a b c d e f g h"
    full = vocab.encode([text])[0]
    ds = EncodedTextDataset.from_texts([text], np.array([0]), vocab, 4, "head_tail")
    assert ds.ids[0].tolist() == [full[0], *full[-3:]] and ds.full_lengths.tolist() == [8]
    uncut = EncodedTextDataset.from_texts([text], np.array([0]), vocab, None)
    assert uncut.truncated(4, "head_tail").ids[0].tolist() == ds.ids[0].tolist()
    assert uncut.truncated(4).full_lengths.tolist() == [8]
    (ids, lengths), _ = next(iter(text_loader([text], vocab, 4, truncation="head_tail")))
    assert ids[0].tolist() == ds.ids[0].tolist() and lengths.tolist() == [4]
    assert vocab.encode([text], 4, "head")[0].tolist() == full[:4].tolist()
