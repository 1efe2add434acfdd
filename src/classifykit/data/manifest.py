"""The image manifest: one row per usable image, ``path,label[,width,height,mode]``.

:func:`write_manifest` writes the run folder's ``manifest.csv`` (UTF-8, header, RFC 4180 quoting,
so non-ASCII names, commas and quotes round-trip exactly). :func:`read_manifest` reads that file
or a user's own CSV/TSV (any encoding, BOM, CRLF, quoted fields, own column names) into
:class:`ManifestItem` rows. It checks the table, not the images: pass the items to
:func:`classifykit.data.scan.verify_items` to decode and check every file like a folder scan does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from classifykit.data.table import Table, read_table
from classifykit.errors import ClassifykitError
from classifykit.io import write_csv

MANIFEST_COLUMNS = ("path", "label", "width", "height", "mode")
# Header names recognised without --path-column / --label-column (compared case-insensitively).
PATH_NAMES = ("path", "filepath", "file_path", "file", "filename", "file_name", "image", "image_path", "img", "img_path")
LABEL_NAMES = ("label", "class", "class_name", "category", "target", "labels")


@dataclass(frozen=True)
class ManifestItem:
    """One image. ``path`` is POSIX, relative to the data root (or absolute, from a user manifest);
    ``width``/``height`` in pixels as displayed (after EXIF orientation) and ``mode`` the Pillow mode
    of the file (e.g. ``L``, ``RGB``, ``P``, ``I;16``) are filled in once the file has been decoded."""

    path: str
    label: str
    width: int | None = None
    height: int | None = None
    mode: str | None = None


def write_manifest(path: str | os.PathLike, items: Iterable[ManifestItem]) -> None:
    """Write ``items`` as ``path,label,width,height,mode`` (unknown sizes as empty cells), atomically."""
    rows = ([it.path, it.label, "" if it.width is None else it.width, "" if it.height is None else it.height, it.mode or ""] for it in items)
    write_csv(path, MANIFEST_COLUMNS, rows)


def _pick_column(table: Table, given: str | None, names: tuple[str, ...], what: str, option: str | None) -> int:
    """The index of the ``what`` column: ``given``, else the one header among ``names``. ``option``:
    the running command's option that names the column (None: it has none; the advice is to rename
    the header)."""
    if given is not None:
        return table.column_index(given, option)
    lowered = [c.lower() for c in table.columns]
    found = [i for i, c in enumerate(lowered) if c in names]
    if len(found) == 1:
        return found[0]
    columns = ", ".join(map(repr, table.columns))
    if not found:
        raise ClassifykitError(
            f"{table.path}: no {what} column found among {columns} (looked for {', '.join(names)}); "
            + (f"name it with {option}." if option else f"rename its header to {names[0]}.")
        )
    raise ClassifykitError(
        f"{table.path}: several columns could hold the {what} ({', '.join(repr(table.columns[i]) for i in found)}); "
        + (f"choose one with {option}." if option else f"keep one of them, or rename it to {names[0]}.")
    )


def _posix(path: str) -> str:
    """A manifest path in POSIX form: Windows separators become ``/`` unless the path is absolute POSIX."""
    if "\\" in path and not path.startswith("/"):
        return PureWindowsPath(path).as_posix()
    return str(PurePosixPath(path))


def _size(table: Table, row: list[str], col: int | None, line: int) -> int | None:
    if col is None or row[col].strip() == "":
        return None
    try:
        return int(row[col])
    except ValueError:
        raise ClassifykitError(f"{table.path}, line {line}: {table.columns[col]} {row[col]!r} is not a whole number.") from None


def read_manifest(
    path: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    encoding: str = "utf-8",
    path_column: str | None = None,
    label_column: str | None = None,
    options: bool = True,
) -> list[ManifestItem]:
    """Read a manifest CSV/TSV into items, in file order.

    Columns are found by name (case-insensitive: path/file/filename/image/filepath… and
    label/class/category/target…) unless given. Item paths stay as written (Windows ``\\`` turned
    into ``/``); relative ones are relative to ``root``, which defaults to the manifest's folder —
    use :func:`resolve` to get a file's location. ``width``, ``height`` and ``mode`` columns, as in
    our own ``manifest.csv``, are read when present. Paths and labels are kept exactly, spaces
    included (a folder may be named ``" x"``), so what a scan wrote reads back unchanged.
    ``options``: whether the running command takes ``--encoding``/``--path-column``/``--label-column``
    (train and scan do; predict and evaluate read UTF-8 and the usual headers), so advice names only
    what the user can pass.

    Raises:
        ClassifykitError: unreadable file or encoding (suggests ``--encoding``); no or ambiguous
            path/label column (suggests ``--path-column`` / ``--label-column``); an empty path or
            label, or a path listed twice (names the lines and says what to change).
    """
    table = read_table(path, encoding=encoding, encoding_option="--encoding" if options else None)
    pcol = _pick_column(table, path_column, PATH_NAMES, "image path", "--path-column" if options else None)
    lcol = _pick_column(table, label_column, LABEL_NAMES, "label", "--label-column" if options else None)
    lowered = [c.lower() for c in table.columns]
    wcol, hcol, mcol = (lowered.index(n) if n in lowered else None for n in ("width", "height", "mode"))
    items: list[ManifestItem] = []
    first_line: dict[str, int] = {}
    for row, line in zip(table.rows, table.line_numbers):
        p, label = row[pcol], row[lcol]
        if not p.strip():
            raise ClassifykitError(f"{table.path}, line {line}: empty {table.columns[pcol]!r}; give the image's path or remove the row.")
        if not label.strip():
            raise ClassifykitError(f"{table.path}, line {line}: empty {table.columns[lcol]!r} for {p!r}; give its class or remove the row.")
        p = _posix(p)
        if p in first_line:
            raise ClassifykitError(
                f"{table.path}, line {line}: {p!r} is already listed on line {first_line[p]}; "
                f"list each image once (a duplicate could land in both train and test)."
            )
        first_line[p] = line
        mode = (row[mcol].strip() or None) if mcol is not None else None
        items.append(ManifestItem(p, label, _size(table, row, wcol, line), _size(table, row, hcol, line), mode))
    return items


def manifest_root(path: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """The folder that a manifest's relative paths start from: ``root`` if given, else the manifest's folder."""
    return Path(root) if root is not None else Path(path).resolve().parent


def resolve(root: str | os.PathLike, item_path: str) -> Path:
    """Where an item's file is: ``root / item_path`` (an absolute ``item_path`` stays as it is)."""
    return Path(root) / item_path
