"""Byte-offset index of a text table, so a corpus larger than memory is read one record at a time.

The index holds the byte position (``tell()``) where each record starts: one int64 per record. It
is saved next to the data as ``.<file name>.offsets.npz`` with the data file's size and mtime, and
reused while both match (rebuilt otherwise). If the data's folder is read-only the index lives in
memory for this run only.

Record starts are found by parsing, not by counting lines:

* JSONL: every non-blank line is a record.
* TSV: read without quote processing (as :func:`classifykit.data.table.read_table` does), so every
  non-blank line is a record.
* CSV (RFC 4180): a quoted field may hold newlines, so a line break ends a record only when the
  record so far holds an even number of ``"`` characters (doubled quotes count two and keep the
  parity). A ``"`` inside an *unquoted* CSV field breaks this rule; such files need a TSV or JSONL.

The encoding must be ASCII-compatible (UTF-8, Latin-1, cp1252...), since boundaries are found in bytes.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from classifykit.data.table import sniff_delimiter
from classifykit.errors import ClassifykitError
from classifykit.text.read import LABEL_COLUMNS, TEXT_COLUMNS, parse_jsonl_line, pick_column, source_kind

_BOM = b"\xef\xbb\xbf"


def index_path(data: Path) -> Path:
    """Where the index of ``data`` is saved: ``.<name>.offsets.npz`` in the same folder."""
    return data.with_name(f".{data.name}.offsets.npz")


def scan_offsets(path: Path, kind: str) -> tuple[np.ndarray, int]:
    """Record start offsets (int64, bytes) of ``path`` and the end offset of its header (0 for JSONL).

    ``kind`` is ``csv``, ``tsv`` or ``jsonl``. The header line (CSV/TSV) is not a record.
    """
    starts: list[int] = []
    header_end = 0
    header_pending = kind != "jsonl"
    pos = record_start = 0
    in_quotes = False
    blank = True
    with open(path, "rb") as f:
        for line in f:
            line_start, pos = pos, pos + len(line)
            if not in_quotes:
                record_start, blank = line_start, True
            blank = blank and not line.strip(b" \t\r\n")
            if kind == "csv" and line.count(b'"') % 2 == 1:
                in_quotes = not in_quotes
            if in_quotes:
                continue
            if header_pending:
                header_pending, header_end = False, pos
            elif not blank:
                starts.append(record_start)
    return np.asarray(starts, dtype=np.int64), header_end


def load_offsets(path: Path, kind: str) -> tuple[np.ndarray, int]:
    """The saved index of ``path`` if its size and mtime still match, else a fresh (and saved) one."""
    stat = path.stat()
    key = np.asarray([stat.st_size, stat.st_mtime_ns], dtype=np.int64)
    saved = index_path(path)
    if saved.is_file():
        try:
            with np.load(saved, allow_pickle=False) as z:
                if np.array_equal(z["key"], key) and str(z["kind"]) == kind:
                    return z["offsets"], int(z["header_end"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # a damaged index is rebuilt like a stale one
    offsets, header_end = scan_offsets(path, kind)
    tmp = saved.with_name(saved.name + ".tmp.npz")
    try:
        np.savez(tmp, offsets=offsets, header_end=np.int64(header_end), key=key, kind=np.str_(kind))
        os.replace(tmp, saved)
    except OSError:  # read-only data folder: keep the index in memory for this run
        tmp.unlink(missing_ok=True)
    return offsets, header_end


class IndexedTextFile:
    """Random access to the records of a CSV / TSV / JSONL text table through its offset index.

    ``record(i) -> (text, raw label)`` seeks to record ``i`` and parses only it. Safe to use from
    DataLoader workers: each process opens its own file handle on first use.

    Raises:
        ClassifykitError: a folder source (use :func:`classifykit.text.read.read_records`), an
            unknown file type, or columns that cannot be found.
    """

    def __init__(self, path: str | Path, encoding: str = "utf-8", text_column: str | None = None,
                 label_column: str | None = None):
        self.path = Path(path)
        kind = source_kind(self.path)
        if kind == "folder":
            raise ClassifykitError(f"{self.path}: a folder of .txt files is read file by file, not through an index.")
        self.kind = kind if kind == "jsonl" else "tsv" if sniff_delimiter(self.path, self._first_line()) == "\t" else "csv"
        self.encoding = encoding
        self.offsets, header_end = load_offsets(self.path, self.kind)
        self.size = self.path.stat().st_size
        self._handle = None
        self._pid = -1
        if self.kind == "jsonl":
            keys = list(parse_jsonl_line(self._read(0), f"{self.path.name}:record 0")) if len(self) else []
        else:
            keys = self._parse_row(self._bytes(0, header_end).decode(encoding).lstrip("\ufeff"))
            keys = [k.strip() for k in keys]
        self.columns = keys
        self.text_key = pick_column(keys, text_column, TEXT_COLUMNS, "texts", "--text-column", self.path)
        self.label_key = pick_column(keys, label_column, LABEL_COLUMNS, "labels", "--label-column", self.path)
        if self.kind != "jsonl":
            self.text_key, self.label_key = keys.index(self.text_key), keys.index(self.label_key)

    def _first_line(self) -> str:
        with open(self.path, "rb") as f:
            return f.readline().removeprefix(_BOM).decode("latin-1")

    def __len__(self) -> int:
        return len(self.offsets)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_handle": None, "_pid": -1}

    def _bytes(self, start: int, end: int) -> bytes:
        if self._handle is None or self._pid != os.getpid():
            self._handle = open(self.path, "rb")
            self._pid = os.getpid()
        self._handle.seek(start)
        return self._handle.read(end - start)

    def _read(self, i: int) -> str:
        end = int(self.offsets[i + 1]) if i + 1 < len(self.offsets) else self.size
        data = self._bytes(int(self.offsets[i]), end)
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError as e:
            raise ClassifykitError(f"{self.path}: record {i} (byte {int(self.offsets[i]) + e.start}) is not valid "
                                   f"{self.encoding}; pass the file's encoding with --encoding.") from None

    def _parse_row(self, text: str) -> list[str]:
        delim = "\t" if self.kind == "tsv" else ","
        quoting = csv.QUOTE_NONE if self.kind == "tsv" else csv.QUOTE_MINIMAL
        row = next(csv.reader(io.StringIO(text, newline=""), delimiter=delim, quoting=quoting, strict=False), [])
        return [c.rstrip("\r") for c in row]

    def record(self, i: int) -> tuple[object, object]:
        """``(text, raw label)`` of record ``i`` (raw: as in the file; see ``labels.canonical_label``).

        Raises:
            ClassifykitError: the record is malformed (names the file and record).
        """
        raw = self._read(i)
        if self.kind == "jsonl":
            obj = parse_jsonl_line(raw, f"{self.path.name}:record {i}")
            return obj.get(self.text_key), obj.get(self.label_key)
        row = self._parse_row(raw)
        if len(row) != len(self.columns):
            raise ClassifykitError(f"{self.path}: record {i} (byte {int(self.offsets[i])}) has {len(row)} fields "
                                   f"where the header has {len(self.columns)}.")
        return row[self.text_key], row[self.label_key]

    def text(self, i: int) -> str:
        """The text of record ``i`` as :func:`classifykit.text.read.read_records` gives it (``""`` if missing)."""
        text = self.record(i)[0]
        if text is None:
            return ""
        return text if isinstance(text, str) else str(text)

    def record_bytes(self) -> np.ndarray:
        """Size in bytes of each record (int64 ``N``): a length proxy for bucketing without tokenizing."""
        return np.diff(np.append(self.offsets, self.size))

    def iter_records(self) -> Iterator[tuple[int, object, object]]:
        """``(record number, text, raw label)`` for every record, in file order."""
        for i in range(len(self)):
            yield (i, *self.record(i))
