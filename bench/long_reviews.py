"""The long-review benchmark set of issue 12, built from the Rotten Tomatoes demo snippets.

1,500 documents of 25–40 critic snippets each (~700 words, the length of an IMDB review), half of
them ``fresh`` and half ``rotten``; in each, round(60%) of the snippets come from the document's own
label and the rest from the other (real reviews are mixed), in random order, joined by spaces.
Seeded: the same seed gives the same documents. Snippets are drawn without replacement within a
document, but the 12,808 snippets fill ~48,000 slots, so a snippet appears in about four documents
(also across train and test: the set measures reading long mixed texts, not generalisation to
unseen sentences).

Shared by the benchmarks (``bench.bench_text_models``) and the diagnosis tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classifykit.io import write_csv
from classifykit.text.read import read_records
from classifykit.text.rotten_tomatoes import prepare_rotten_tomatoes


def long_reviews(snippets: list[str], labels: list[str], *, n: int = 1500, min_snippets: int = 25,
                 max_snippets: int = 40, own_share: float = 0.6, seed: int = 0) -> tuple[list[str], list[str]]:
    """``(texts, labels)`` of ``n`` long documents built from labelled ``snippets`` (see the module docstring).

    Labels alternate through the sorted classes (so the set is balanced); every class needs at least
    ``max_snippets`` snippets.
    """
    rng = np.random.default_rng(seed)
    classes = sorted(set(labels))
    pools = {c: np.flatnonzero(np.asarray(labels) == c) for c in classes}
    texts, out = [], []
    for i in range(n):
        label = classes[i % len(classes)]
        size = int(rng.integers(min_snippets, max_snippets + 1))
        own = int(round(own_share * size))
        others = [c for c in classes if c != label]
        picked = list(rng.choice(pools[label], own, replace=False))
        other = rng.choice(others, size - own)
        for c in sorted(set(other)):
            picked += list(rng.choice(pools[c], int((other == c).sum()), replace=False))
        rng.shuffle(picked)
        texts.append(" ".join(snippets[k] for k in picked))
        out.append(label)
    return texts, out


def rotten_tomatoes_long_reviews(data: str | Path = "data", seed: int = 0, **kwargs) -> tuple[list[str], list[str]]:
    """:func:`long_reviews` of the Rotten Tomatoes demo snippets (``fresh``/``rotten``), written under ``data``."""
    records = read_records(prepare_rotten_tomatoes(data))
    return long_reviews(records.texts, records.labels, seed=seed, **kwargs)


def write_long_reviews(path: str | Path, data: str | Path = "data", seed: int = 0) -> Path:
    """Write the set as a ``text,label`` CSV at ``path`` (to train on with ``classifykit train text``)."""
    texts, labels = rotten_tomatoes_long_reviews(data, seed)
    write_csv(path, ["text", "label"], zip(texts, labels))
    return Path(path)
