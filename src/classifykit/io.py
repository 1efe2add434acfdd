"""Small file helpers shared by every stage: atomic writes, JSON and CSV in the run-folder formats."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder, then ``os.replace``.

    A crash mid-write leaves the previous file intact (``os.replace`` is atomic on POSIX and Windows).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600 files; run files should be readable like any other
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON (non-ASCII kept as is), atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a UTF-8 JSON file.

    Raises:
        ClassifykitError: the file is missing or not valid JSON (a run folder file damaged or half-written).
    """
    from classifykit.errors import ClassifykitError

    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ClassifykitError(f"{path}: no such file; is this a classifykit run folder?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ClassifykitError(f"{path}: damaged ({e}); rerun the stage that writes it, or start a new run.") from None


def write_csv(path: str | os.PathLike, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a UTF-8 CSV with a header row (RFC 4180 quoting, ``\\n`` line ends), atomically."""
    import io as _io

    buf = _io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def read_csv_rows(path: str | os.PathLike) -> list[dict[str, str]]:
    """Read a CSV written by :func:`write_csv` (one of our own run-folder files) as a list of dicts."""
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))
