"""Long texts in the recurrent models: the default max length, the truncation warning, and how a text
longer than the max length is cut (issue 12).

* ``head`` keeps the first ``max_length`` tokens (the classic recipe).
* ``head_tail`` keeps the first ``h`` and the last ``max_length - h`` tokens, ``h = max_length // 4``:
  Sun et al. 2019, "How to Fine-Tune BERT for Text Classification?" (CCL 2019, table 3), found
  head 128 + tail 382 of 512 tokens best on IMDb and Sogou reviews, ahead of head-only and tail-only;
  a review's verdict sits in its opening and, more often, its closing sentences.

:func:`default_max_length` picks the max length from the training texts' token counts (the 95th
percentile, rounded up to a multiple of 32, within 32..cap), so a set of full-length reviews is
not cut to a snippet's length; :func:`truncation_warning` says when more than 10% of the training
texts are cut anyway.
"""

from __future__ import annotations

import math

import numpy as np

TRUNCATIONS = ("head", "head_tail")
WARN_SHARE = 0.10  # warn when more than this share of the training texts is cut
HEAD_SHARE = 128 / 512  # Sun et al. 2019: head 128 + tail 382 of 512


def check_truncation(truncation: str) -> None:
    """Raise ValueError for a strategy other than :data:`TRUNCATIONS` (the option's check names the flag)."""
    if truncation not in TRUNCATIONS:
        raise ValueError(f"truncation must be one of {TRUNCATIONS}, not {truncation!r}")


def head_tail_sizes(max_length: int) -> tuple[int, int]:
    """``(head, tail)`` token counts of ``head_tail`` for ``max_length`` (head = max_length // 4, at least 1
    when max_length >= 2; tail = the rest)."""
    head = max(int(max_length * HEAD_SHARE), 1 if max_length >= 2 else max_length)
    return head, max_length - head


def truncate(ids: list[int] | np.ndarray, max_length: int | None, truncation: str = "head") -> list[int] | np.ndarray:
    """``ids`` cut to at most ``max_length`` tokens by ``truncation`` (``None``: unchanged)."""
    if max_length is None or len(ids) <= max_length:
        return ids
    if truncation == "head":
        return ids[:max_length]
    check_truncation(truncation)
    head, tail = head_tail_sizes(max_length)
    return list(ids[:head]) + list(ids[len(ids) - tail:]) if isinstance(ids, list) else \
        np.concatenate([ids[:head], ids[len(ids) - tail:]])


def default_max_length(train_lengths: np.ndarray | list[int], cap: int = 1024, quantile: float = 0.95,
                       multiple: int = 32) -> int:
    """The max length for ``--max-length`` not given: the ``quantile`` of the training texts' token counts,
    rounded up to a multiple of ``multiple``, at least ``multiple`` and at most ``cap``.

    For the Rotten Tomatoes snippets (95% have at most ~45 tokens) this gives 64; for ~700-word reviews
    the cap. The cap bounds an RNN's per-step cost (sequential in the length) and memory.
    """
    lengths = np.asarray(train_lengths, dtype=np.int64)
    if lengths.size == 0:
        return multiple
    q = float(np.quantile(lengths, quantile, method="higher"))
    return int(min(max(multiple * math.ceil(q / multiple), multiple), cap))


def truncated_count(lengths: np.ndarray | list[int], max_length: int | None) -> int:
    """How many texts have more than ``max_length`` tokens (a text of exactly ``max_length`` is not cut;
    issue 15, defect 10: the count used ``>=``)."""
    if max_length is None:
        return 0
    return int((np.asarray(lengths) > max_length).sum())


def truncation_warning(lengths: np.ndarray | list[int], max_length: int | None, truncation: str = "head") -> str | None:
    """A warning line when more than :data:`WARN_SHARE` of the training texts (untruncated token counts
    ``lengths``) are longer than ``max_length``, naming the share, how they are cut and what to pass;
    None otherwise."""
    lengths = np.asarray(lengths, dtype=np.int64)
    cut = truncated_count(lengths, max_length)
    if not lengths.size or cut <= WARN_SHARE * lengths.size:
        return None
    if truncation == "head_tail":
        head, tail = head_tail_sizes(max_length)
        how = f"keeping their first {head} and last {tail} tokens"
    else:
        how = f"keeping their first {max_length} tokens"
    median, p95 = int(np.median(lengths)), int(np.quantile(lengths, 0.95, method="higher"))
    return (f"warning: {cut:,} of {lengths.size:,} training texts ({100 * cut / lengths.size:.1f}%) are longer than "
            f"--max-length {max_length} tokens and are cut, {how} (median length {median:,}, 95th percentile {p95:,} "
            f"tokens). Pass a larger --max-length, or --truncation head_tail to keep each text's end, or use the "
            f"n-gram model (--model ngram), which reads every word.")
