"""Text pieces of ``evaluate`` and ``predict``: a run's texts and labels, and texts -> model batches.

The vocabulary and tokenizer come from the run's ``vocab.json`` and the truncation length from its
``model.json`` (``max_length``), so evaluation and prediction see exactly the ids training saw.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from classifykit import runfolder as rf
from classifykit.errors import ClassifykitError
from classifykit.io import read_csv_rows, read_json
from classifykit.text.corpus import load_corpus
from classifykit.text.dataset import EncodedTextDataset, pad_collate
from classifykit.text.labels import LabelTable, align_labels
from classifykit.text.read import TEXT_COLUMNS, pick_column, read_text_file
from classifykit.text.vocab import Vocab


def load_vocab(run: str | Path) -> tuple[Vocab, int | None]:
    """``(vocabulary, max_length)`` of a text run (``model.json`` names the vocabulary file).

    Raises:
        ClassifykitError: no ``model.json`` or ``vocab.json`` in ``run``.
    """
    run = Path(run)
    if not (run / rf.MODEL_META).is_file():
        raise ClassifykitError(f"{run}: no {rf.MODEL_META}; give the folder of a finished text run.")
    meta = read_json(run / rf.MODEL_META)
    return Vocab.load(run / (meta.get("vocab") or rf.VOCAB)), meta.get("max_length")


def text_loader(texts: list[str], vocab: Vocab, max_length: int | None, targets: np.ndarray | None = None,
                batch_size: int = 256, truncation: str = "head") -> DataLoader:
    """Batches ``((ids B×T, lengths B), targets B)`` of ``texts`` in the given order.

    ``targets`` default to 0 (for prediction, where labels are unknown). Every text gets at least one
    id (an empty text becomes ``[<unk>]``, an all-unknown one ``<unk>`` ids), so every text gets
    valid probabilities. ``truncation``: as training cut its texts (``model.json``'s ``truncation``).
    """
    targets = np.zeros(len(texts), dtype=np.int64) if targets is None else np.asarray(targets, dtype=np.int64)
    ds = EncodedTextDataset.from_texts(texts, targets, vocab, max_length, truncation)
    return DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=pad_collate)


def split_texts(run: str | Path, split: str = "test") -> tuple[list[str], list[str], np.ndarray]:
    """``(items, texts, targets)`` of one split of a text run, from ``manifest.csv``, ``split.csv``
    and ``classes.json`` (items are source row numbers as strings, in manifest order).

    Raises:
        ClassifykitError: missing run files, or a split with no items.
    """
    run = Path(run)
    for name in (rf.MANIFEST, rf.SPLIT, rf.CLASSES):
        if not (run / name).is_file():
            raise ClassifykitError(f"{run}: no {name}; give the folder of a text run.")
    which = {r["item"] for r in read_csv_rows(run / rf.SPLIT) if r["split"] == split}
    rows = [r for r in read_csv_rows(run / rf.MANIFEST) if r["row"] in which]
    if not rows:
        raise ClassifykitError(f"{run}: the saved split has no {split} items.")
    table = LabelTable(read_json(run / rf.CLASSES))
    targets = table.encode([r["label"] for r in rows], str(run / rf.MANIFEST))
    return [r["row"] for r in rows], [r["text"] for r in rows], targets


def labelled_texts(data: str | Path, classes: list[str], encoding: str = "utf-8", text_column: str | None = None,
                   label_column: str | None = None) -> tuple[list[str], list[str], np.ndarray, list[tuple[str, str]]]:
    """``(items, texts, targets, skipped)`` of another labelled source, mapped onto the saved ``classes`` (by
    name; a label spelling a class's number, ``"1"`` for a class ``"1.0"``, is that class).

    Raises:
        ClassifykitError: unreadable source, or labels outside ``classes`` (names them).
    """
    corpus = load_corpus(data, encoding, text_column, label_column, indexed=False)
    labels = align_labels(corpus.labels, classes)
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise ClassifykitError(f"--data {data}: labels {', '.join(map(repr, unknown))} are not among the model's "
                               f"classes ({', '.join(map(repr, classes))}); remove those rows.")
    targets = LabelTable(classes).encode(labels, str(data))
    return [str(r) for r in corpus.rows.tolist()], list(corpus.texts), targets, corpus.skipped


def read_texts(source: str, encoding: str = "utf-8",
               text_column: str | None = None) -> tuple[list[tuple[str, str]], int]:
    """Texts to predict from ``source``: ``-`` (stdin, one text per line), a ``.csv``/``.tsv``/``.jsonl``
    table (its text column; labels not needed), or any other file (one text per line).

    Returns ``([(where, text), ...], blank lines skipped)``; ``where`` is ``<source>:<line>`` with the
    1-based line number in the file (``stdin:<line>`` for ``-``; for a table, the line its row starts
    on). Blank (empty or whitespace-only) lines of a text or JSONL file are skipped and counted;
    every other text is returned, even one that holds no word (the caller decides about those).

    Raises:
        ClassifykitError: a missing file, an undecodable one (suggests ``--encoding``) or no text column.
    """
    if source == "-":
        return _lines("stdin", sys.stdin.read())
    path = Path(source)
    if path.is_dir():
        raise ClassifykitError(f"{path}: a folder; a text run predicts texts: give --text, a file of texts (one per line, or a CSV/TSV/JSONL) or stdin.")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".tab"):
        from classifykit.data.table import read_table

        table = read_table(path, encoding, keep_empty=True)  # a row `""` is an input too: it gets its error row
        col = table.columns.index(pick_column(table.columns, text_column, TEXT_COLUMNS, "texts", None, path))
        return [(f"{source}:{line}", row[col]) for row, line in zip(table.rows, table.line_numbers)], 0
    pairs, blank = _lines(source, read_text_file(path, encoding))
    if suffix not in (".jsonl", ".ndjson"):
        return pairs, blank
    from classifykit.text.read import parse_jsonl_line

    objs = [(where, parse_jsonl_line(line, where)) for where, line in pairs]
    if not objs:
        return [], blank
    key = pick_column(list(objs[0][1]), text_column, TEXT_COLUMNS, "texts", None, path)
    return [(where, "" if o.get(key) is None else str(o.get(key))) for where, o in objs], blank


def _lines(name: str, content: str) -> tuple[list[tuple[str, str]], int]:
    """``([(f"{name}:{line number}", line), ...], blank lines)`` of ``content``, blank lines left out."""
    lines = content.splitlines()
    pairs = [(f"{name}:{n}", line) for n, line in enumerate(lines, start=1) if line.strip()]
    return pairs, len(lines) - len(pairs)


def predict_probabilities(model: torch.nn.Module, texts: list[str], vocab: Vocab, max_length: int | None,
                          device: torch.device, batch_size: int = 256, truncation: str = "head") -> torch.Tensor:
    """Class probabilities ``N×K`` (float32, CPU, rows sum to 1) of ``texts`` in order."""
    from classifykit.engine.loop import predict_logits

    loader = text_loader(texts, vocab, max_length, batch_size=batch_size, truncation=truncation)
    logits, _ = predict_logits(model, loader, device)
    return torch.softmax(logits, 1) if len(texts) else torch.zeros(0, 0)
