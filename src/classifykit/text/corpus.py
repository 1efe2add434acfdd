"""One labelled corpus, held in memory or read through a byte-offset index, behind one interface.

Small and medium sources (and every folder of ``.txt`` files) are read into memory
(:func:`classifykit.text.read.read_records`). A CSV/TSV/JSONL file larger than
:data:`INDEXED_MIN_BYTES` is read through :class:`~classifykit.text.offset_index.IndexedTextFile`:
one streaming pass collects labels and skip reasons, and texts are read again only when needed
(vocabulary counting, ``__getitem__``), so memory holds 8 bytes of offset per record, not the texts.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from classifykit.text.dataset import EncodedTextDataset, LazyTextDataset
from classifykit.text.labels import canonical_label, unify_numeric_labels
from classifykit.text.offset_index import IndexedTextFile
from classifykit.text.read import read_records, skip_reason, source_kind
from classifykit.text.vocab import Vocab

INDEXED_MIN_BYTES = 512 * 2**20  # larger files are read through the offset index


@dataclass
class Corpus:
    """The kept records of a source: ``rows[k]`` (record number in the source), ``labels[k]``
    (canonical label, spellings of one number unified, see :func:`~classifykit.text.labels.unify_numeric_labels`)
    and the text, from ``texts`` (in memory) or ``indexed`` (on disk). ``skipped`` holds ``(where, reason)``
    of every record left out; ``label_notes`` the lines that say which label spellings were merged
    (for the user, as warnings)."""

    source: Path
    rows: np.ndarray
    labels: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    texts: list[str] | None = None
    indexed: IndexedTextFile | None = None
    label_notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def iter_texts(self, positions: Sequence[int] | None = None) -> Iterator[str]:
        """Texts of the kept records at ``positions`` (all when None), in that order."""
        positions = range(len(self)) if positions is None else positions
        for k in positions:
            yield self.texts[k] if self.texts is not None else self.indexed.text(int(self.rows[k]))

    def dataset(self, positions: Sequence[int], targets: np.ndarray, vocab: Vocab, max_length: int | None,
                truncation: str = "head") -> Dataset:
        """A Dataset of the records at ``positions`` yielding ``(ids T, target)`` (see text.dataset), texts
        cut to ``max_length`` tokens by ``truncation`` (``head`` | ``head_tail``, see text.truncation)."""
        positions = np.asarray(positions, dtype=np.int64)
        if self.texts is not None:
            return EncodedTextDataset.from_texts([self.texts[k] for k in positions], targets, vocab, max_length, truncation)
        rows = self.rows[positions]
        return LazyTextDataset(self.indexed, rows, targets, vocab, max_length, self.indexed.record_bytes()[rows], truncation)

    def write_manifest(self, path: Path) -> None:
        """Write ``manifest.csv`` (``row,text,label``) streaming, through a temp file and ``os.replace``."""
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                writer = csv.writer(f, lineterminator="\n")
                writer.writerow(["row", "text", "label"])
                for row, text, label in zip(self.rows.tolist(), self.iter_texts(), self.labels):
                    writer.writerow([row, text, label])
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def load_corpus(path: str | Path, encoding: str = "utf-8", text_column: str | None = None,
                label_column: str | None = None, indexed: bool | None = None) -> Corpus:
    """Read the labelled texts of ``path``.

    Args:
        indexed: True reads a file through its offset index, False into memory, None decides by size
            (:data:`INDEXED_MIN_BYTES`). Folders are always read into memory.

    Raises:
        ClassifykitError: as :func:`classifykit.text.read.read_records`.
    """
    path = Path(path)
    kind = source_kind(path)
    if indexed is None:
        indexed = kind != "folder" and path.stat().st_size > INDEXED_MIN_BYTES
    if not indexed or kind == "folder":
        rec = read_records(path, encoding, text_column, label_column)
        labels, notes = unify_numeric_labels(rec.labels)
        return Corpus(path, np.asarray(rec.rows, dtype=np.int64), labels, rec.skipped, texts=rec.texts, label_notes=notes)
    source = IndexedTextFile(path, encoding, text_column, label_column)
    rows, labels, skipped = [], [], []
    for i, text, label in source.iter_records():
        reason = skip_reason(text, label)
        if reason is None:
            rows.append(i)
            labels.append(canonical_label(label))
        else:
            skipped.append((f"{path.name}:record {i}", f"row {i}: {reason}"))
    labels, notes = unify_numeric_labels(labels)
    return Corpus(path, np.asarray(rows, dtype=np.int64), labels, skipped, indexed=source, label_notes=notes)
