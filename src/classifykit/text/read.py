"""Reading labelled texts: CSV / TSV / JSONL tables, or a folder with one subfolder of ``.txt`` files per class
(optionally under ``train/``, ``test/`` split folders, as aclImdb ships).

Every source becomes :class:`TextRecords`: the kept records (source row number, text, canonical
label) and the skipped ones (where, reason). A record is skipped when its label is missing, its
text is missing, or its text holds no letter or digit (empty, whitespace-only, punctuation-only):
such a text would reach the RNN as a sequence of length 0 or of punctuation alone. Literal
strings such as ``"NA"``, ``"None"`` and ``"null"`` are texts like any other; only JSON ``null`` is
a missing value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from classifykit.data.scan import is_hidden, is_split_layout
from classifykit.data.sniff import SNIFF_BYTES, binary_kind
from classifykit.data.table import read_table, read_text_file
from classifykit.errors import ClassifykitError
from classifykit.text.labels import canonical_label

TEXT_COLUMNS = ("text", "review", "sentence", "content", "body", "comment", "document", "tweet",
                "message", "snippet", "phrase", "review_text", "quote")
LABEL_COLUMNS = ("label", "labels", "sentiment", "class", "category", "target", "polarity", "rating",
                 "stars", "y")
TABLE_SUFFIXES = (".csv", ".tsv", ".tab")
JSONL_SUFFIXES = (".jsonl", ".ndjson")

_WORD_CHAR = re.compile(r"[^\W_]")  # a letter or digit in any script


@dataclass
class TextRecords:
    """Texts read from one source.

    ``rows[i]`` is the 0-based record number of kept record ``i`` in the source (data row of a
    table, line of a JSONL file, file of a folder in sorted order); ``where[i]`` locates it for a
    person (``file:line`` or the ``.txt`` path). ``skipped`` holds ``(where, reason)`` pairs.
    """

    source: Path
    rows: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def add(self, row: int, where: str, text: object, label: object) -> None:
        """Keep the record, or record why it is skipped (see :func:`skip_reason`)."""
        reason = skip_reason(text, label)
        if reason is not None:
            self.skipped.append((where, f"row {row}: {reason}"))
            return
        self.rows.append(row)
        self.texts.append(text if isinstance(text, str) else str(text))
        self.labels.append(canonical_label(label))
        self.where.append(where)

    def skip_counts(self) -> dict[str, int]:
        """Number of skipped records per reason (the reason text without its row number)."""
        counts: dict[str, int] = {}
        for _, reason in self.skipped:
            key = reason.split(": ", 1)[1]
            counts[key] = counts.get(key, 0) + 1
        return counts


def skip_reason(text: object, label: object) -> str | None:
    """Why a record cannot be used, or None: missing label / missing text / no letters or digits."""
    if canonical_label(label) is None:
        return "missing label"
    return text_problem(text)


def text_problem(text: object) -> str | None:
    """Why ``text`` cannot be classified, or None: missing, not a string, or no letter or digit
    (empty, whitespace-only, punctuation-only). Training skips such texts and predict reports them."""
    if text is None:
        return "missing text"
    if isinstance(text, (dict, list)):
        return "text is a JSON object or list, not a string"
    text = text if isinstance(text, str) else str(text)
    if not text:
        return "empty text"
    if not text.strip():
        return "whitespace-only text"
    if not _WORD_CHAR.search(text):
        return "punctuation-only text (no letter or digit)"
    return None


def pick_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], kind: str,
                option: str | None, source: Path) -> str:
    """The column to use: ``wanted`` if given, else the first of ``candidates`` present (case-insensitive).
    ``option``: the running command's option that names the column (None: it has none, as
    ``predict``, which reads the column the run trained on; the advice is to rename the header).

    Raises:
        ClassifykitError: ``wanted`` is not a column, or no candidate is (names the file, the columns
            found and the option to pass).
    """
    if wanted is not None:
        if wanted not in columns:
            raise ClassifykitError(f"{source}: no column {wanted!r} (columns: {', '.join(map(repr, columns))}); "
                                   + (f"fix {option}." if option else f"name the {kind} column {wanted!r}, as in training."))
        return wanted
    lowered = {c.strip().lower(): c for c in columns}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    raise ClassifykitError(
        f"{source}: cannot tell which column holds the {kind} (columns: {', '.join(map(repr, columns))}; "
        f"looked for {', '.join(candidates)}). "
        + (f"Pass it with {option}." if option else f"Rename its header to {candidates[0]}.")
    )


def read_csv_records(path: Path, encoding: str, text_column: str | None, label_column: str | None,
                     delimiter: str | None = None) -> TextRecords:
    """Read a CSV/TSV text table through :func:`classifykit.data.table.read_table`."""
    table = read_table(path, encoding, delimiter)
    if not table.rows:
        raise ClassifykitError(f"{path}: no data rows, only the header ({', '.join(map(repr, table.columns))}); "
                               "add one row per text with its label.")
    t = table.columns.index(pick_column(table.columns, text_column, TEXT_COLUMNS, "texts", "--text-column", path))
    y = table.columns.index(pick_column(table.columns, label_column, LABEL_COLUMNS, "labels", "--label-column", path))
    out = TextRecords(source=path)
    for i, (row, line) in enumerate(zip(table.rows, table.line_numbers)):
        out.add(i, f"{path.name}:{line}", row[t], row[y])
    return out


def parse_jsonl_line(line: str, where: str) -> dict:
    """One JSONL record as a dict. Raises :class:`ClassifykitError` naming ``where`` if it is not one."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise ClassifykitError(f"{where}: not valid JSON ({e.msg} at column {e.colno}); "
                               "each line of a JSONL file must be one JSON object.") from None
    if not isinstance(obj, dict):
        raise ClassifykitError(f"{where}: expected a JSON object per line, found {type(obj).__name__}.")
    return obj


def read_jsonl_records(path: Path, encoding: str, text_column: str | None,
                       label_column: str | None) -> TextRecords:
    """Read a JSONL file: one JSON object per line; blank lines are ignored (and not counted as rows)."""
    lines = read_text_file(path, encoding).splitlines()
    out = TextRecords(source=path)
    columns: tuple[str, str] | None = None
    row = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        obj = parse_jsonl_line(line, where)
        if columns is None:
            keys = list(obj)
            columns = (pick_column(keys, text_column, TEXT_COLUMNS, "texts", "--text-column", path),
                       pick_column(keys, label_column, LABEL_COLUMNS, "labels", "--label-column", path))
        out.add(row, where, obj.get(columns[0]), obj.get(columns[1]))
        row += 1
    if columns is None:
        raise ClassifykitError(f"{path}: the file holds no JSON records.")
    return out


UNLABELLED_FOLDER = "unsup"  # aclImdb's unlabelled reviews (train/unsup/, or unsup/ beside train/): no class, never read


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not is_hidden(p.name))


def _text_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() == ".txt" and not is_hidden(p.name) and p.is_file())


def split_folders(root: Path) -> list[Path] | None:
    """The split level of ``root/{train,val,test}/<class>/*.txt`` (aclImdb's ``train/`` and ``test/``),
    or None when the class folders are directly under ``root``.

    As for images (:mod:`classifykit.data.scan`, :func:`~classifykit.data.scan.is_split_layout`): it applies only when every visible
    folder in ``root`` is a split name (``train``, ``val``/``valid``/``validation``, ``test``, any
    letter case), ``train`` is one of them, and each holds subfolders. Unlike images, an ``unsup/``
    folder may sit beside them (unlabelled texts, see :func:`read_folder_records`).
    """
    folders = [p for p in _subfolders(root) if p.name.lower() != UNLABELLED_FOLDER]
    if not is_split_layout([p.name for p in folders]):
        return None
    return folders if all(_subfolders(p) for p in folders) else None


def text_folders(root: Path) -> list[tuple[Path, str]]:
    """The folders of ``.txt`` files under ``root``, each with the prefix of its ``where``, in row order:
    the class folders (under the split folders when there is a split level), then an ``unsup/``
    beside the split folders."""
    splits = split_folders(root)
    if splits is None:
        return [(folder, "") for folder in _subfolders(root)]
    return ([(folder, f"{split.name}/") for split in splits for folder in _subfolders(split)]
            + [(folder, "") for folder in _subfolders(root) if folder.name.lower() == UNLABELLED_FOLDER])


def read_folder_records(root: Path, encoding: str) -> TextRecords:
    """Read a folder with one subfolder per class holding ``.txt`` files (the aclImdb layout).

    The class folders may sit under split folders (``root/train/pos/*.txt``, ``root/test/pos/*.txt``,
    see :func:`split_folders`): every split is read, the class comes from the inner folder, and
    ``where`` keeps the split (``train/pos/0_9.txt``); the text task then makes its own split of
    them all. A class folder named ``unsup`` (aclImdb's unlabelled reviews), or an ``unsup/`` beside
    the split folders (``imdb/unsup/*.txt``), is not a class: its files are listed in ``skipped`` as
    unlabelled, unread. Hidden and system entries are ignored as for images
    (:func:`classifykit.data.scan.is_hidden`: ``.*``, ``__MACOSX``, ``Thumbs.db``, ...); files are
    taken in sorted (split, class, file name) order, then those of a top-level ``unsup/``, which
    defines the row numbers.

    Raises:
        ClassifykitError: no class subfolder holds ``.txt`` files, or a file is not valid in ``encoding``.
    """
    out = TextRecords(source=root)
    row = labelled = 0
    for folder, prefix in text_folders(root):
        unlabelled = folder.name.lower() == UNLABELLED_FOLDER
        for file in _text_files(folder):
            where = f"{prefix}{folder.name}/{file.name}"
            if unlabelled:
                out.skipped.append((where, f"row {row}: unlabelled text ({folder.name}/ holds texts without a class)"))
            else:
                out.add(row, where, read_text_file(file, encoding), folder.name)
                labelled += 1
            row += 1
    if labelled == 0:
        raise ClassifykitError(f"{root}: no class subfolder holds .txt files; expected one subfolder per class "
                               "(for example pos/ and neg/, or train/pos/, train/neg/, test/pos/, test/neg/) "
                               "with one text per .txt file.")
    return out


def source_kind(path: Path) -> str:
    """``folder``, ``jsonl`` or ``table`` (CSV/TSV). Raises :class:`ClassifykitError` for anything else
    (naming the format of a binary file: ``photo.png is a PNG image, not a text file``)."""
    if path.is_dir():
        return "folder"
    if not path.is_file():
        raise ClassifykitError(f"{path}: no such file or folder.")
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in TABLE_SUFFIXES:
        return "table"
    with path.open("rb") as f:
        kind = binary_kind(f.read(SNIFF_BYTES))
    if kind is not None:
        raise ClassifykitError(f"{path} is {kind}, not a text file; give a CSV/TSV/JSONL table or a folder "
                               "with one subfolder of .txt files per class.")
    raise ClassifykitError(f"{path}: unknown text source; give a .csv, .tsv, .jsonl file or a folder "
                           "with one subfolder of .txt files per class.")


def read_records(path: str | Path, encoding: str = "utf-8", text_column: str | None = None,
                 label_column: str | None = None) -> TextRecords:
    """Read every labelled text of ``path`` (CSV, TSV, JSONL or class folder) into memory.

    Raises:
        ClassifykitError: unknown or missing source, undecodable file (suggests ``--encoding``),
            malformed row, or columns that cannot be found (names the file and the columns).
    """
    path = Path(path)
    kind = source_kind(path)
    if kind == "folder":
        return read_folder_records(path, encoding)
    if kind == "jsonl":
        return read_jsonl_records(path, encoding, text_column, label_column)
    return read_csv_records(path, encoding, text_column, label_column)
