"""Reading user tables (CSV / TSV): the one place that deals with encodings, BOMs, CRLF and quoting.

Used for user manifests (images) and text tables (text tasks).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from classifykit.data.sniff import SNIFF_BYTES, binary_kind, encoding_advice, utf8_misread
from classifykit.errors import ClassifykitError

csv.field_size_limit(2**31 - 1)  # long review texts exceed the 128 KiB default


@dataclass
class Table:
    """A parsed table: ``columns`` from the header row; ``rows[i]`` is data row ``i`` whose
    1-based line number in the file is ``line_numbers[i]`` (for error messages)."""

    path: Path
    columns: list[str]
    rows: list[list[str]]
    line_numbers: list[int]

    def column_index(self, name: str, option: str) -> int:
        """Index of column ``name``; raises :class:`ClassifykitError` naming ``option`` and the columns."""
        try:
            return self.columns.index(name)
        except ValueError:
            raise ClassifykitError(
                f"{self.path}: no column {name!r} (columns: {', '.join(map(repr, self.columns))}); "
                f"pass the right name with {option}."
            ) from None


def read_text_file(path: str | Path, encoding: str = "utf-8", *, encoding_option: str | None = "--encoding") -> str:
    """Read a whole text file; ``utf-8`` also strips a BOM (``utf-8-sig``). ``encoding_option``: the
    option the running command takes for ``encoding``, named in the advice (None: it has none).

    Raises:
        ClassifykitError: the file is missing; a binary file (an image, PDF, archive: says which, see
            :func:`classifykit.data.sniff.binary_kind`); UTF-8 with non-ASCII characters read as another
            encoding (would be mojibake: says to pass ``--encoding utf-8``); or not valid in ``encoding``
            (names the byte offset and the encodings the bytes read as, with previews).
    """
    path = Path(path)
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ClassifykitError(f"{path}: no such file.") from None
    kind = binary_kind(data[:SNIFF_BYTES])
    if kind is not None:
        raise ClassifykitError(f"{path} is {kind}, not a text file; give a CSV/TSV/JSONL table or .txt files.")
    misread = utf8_misread(path, data, encoding)
    if misread is not None:
        raise ClassifykitError(misread)
    try:
        return data.decode(enc)
    except LookupError:
        raise ClassifykitError(f"--encoding {encoding!r}: unknown encoding name (try utf-8, latin-1, cp1252).") from None
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ClassifykitError(
            f"{path}: not valid {encoding} at byte {e.start} (line {line}); "
            + (f"pass the file's encoding with {encoding_option}: " if encoding_option else "")
            + encoding_advice(data, encoding_option)
        ) from None


def sniff_delimiter(path: Path, first_line: str) -> str:
    """``\\t`` for ``.tsv``/``.tab`` files or a header with tabs and no commas, else ``,``."""
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    if "\t" in first_line and "," not in first_line:
        return "\t"
    return ","


def read_table(path: str | Path, encoding: str = "utf-8", delimiter: str | None = None, *,
               keep_empty: bool = False, encoding_option: str | None = "--encoding") -> Table:
    """Parse a CSV or TSV file with a header row.

    CSV follows RFC 4180 (quoted fields may hold commas, newlines and doubled quotes). TSV is read
    without quote processing, so a text with a stray ``"`` stays as written. CRLF and a UTF-8 BOM are
    accepted. Rows that are entirely empty are dropped; with ``keep_empty`` only blank lines are, and a
    row of empty fields (a quoted ``""``, or ``,`` in a two-column table) is kept (prediction gives
    every input row an output row). ``encoding_option``: see :func:`read_text_file`.

    Raises:
        ClassifykitError: unreadable encoding, empty file, or a row with a different field count
            (names the line).
    """
    path = Path(path)
    text = read_text_file(path, encoding, encoding_option=encoding_option)
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise ClassifykitError(f"{path}: the file is empty or its first line (the header) is blank.")
    delim = delimiter or sniff_delimiter(path, first_line)
    quoting = csv.QUOTE_NONE if delim == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, quoting=quoting, strict=False)
    try:
        header = [c.strip() for c in next(reader)]
    except StopIteration:
        raise ClassifykitError(f"{path}: the file is empty.") from None
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    start_line = 2
    for row in reader:
        end_line = reader.line_num
        if not row or (all(c == "" for c in row) and not keep_empty):
            start_line = end_line + 1
            continue
        if keep_empty and all(c == "" for c in row):
            row = [""] * len(header)  # `""` alone on a line of a wider table: every field empty
        if len(row) != len(header):
            raise ClassifykitError(
                f"{path}, line {start_line}: {len(row)} fields where the header has {len(header)}. "
                f"Quote fields that contain the delimiter {delim!r}, or check the delimiter."
            )
        rows.append([c.rstrip("\r") for c in row])
        line_numbers.append(start_line)
        start_line = end_line + 1
    return Table(path=path, columns=header, rows=rows, line_numbers=line_numbers)
