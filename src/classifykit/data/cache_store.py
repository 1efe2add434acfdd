"""Where the decoded-image caches live, and how to list and clean them (``classifykit cache``).

Free of torch, so the CLI can import it without loading torch.

A cache is a folder ``<cache_dir>/<key>/`` written by :class:`~classifykit.data.cache.DecodedImageCache`;
its ``meta.json`` says what it holds and its mtime is when a run last opened it. Folders named
``.building-*`` are builds in progress or left by a crash.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from classifykit.errors import ClassifykitError
from classifykit.io import read_json

CACHE_DIR_ENV = "CLASSIFYKIT_CACHE_DIR"
DEFAULT_SUBDIR = Path(".cache") / "images"  # under --runs-dir
PIXELS, META = "pixels.u8", "meta.json"
BUILDING_PREFIX = ".building-"  # unfinished builds (a crash leaves one; `cache clean` removes it)
DAY = 86400.0  # seconds


def resolve_cache_dir(cache_dir: str | os.PathLike | None, runs_dir: str | os.PathLike) -> Path:
    """The shared cache folder: ``cache_dir`` if given, else ``$CLASSIFYKIT_CACHE_DIR`` if set and
    not empty, else ``<runs_dir>/.cache/images``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_DIR_ENV, "")
    return Path(env) if env else Path(runs_dir) / DEFAULT_SUBDIR


def discard(folder: Path) -> None:
    """Remove a cache folder: renamed away first, so no reader ever opens it half-deleted."""
    trash = folder.with_name(f"{BUILDING_PREFIX}{folder.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(folder, trash)
    except FileNotFoundError:
        return  # another process removed it
    shutil.rmtree(trash, ignore_errors=True)




@dataclass(frozen=True)
class CacheEntry:
    """One cache in the folder.

    Attributes:
        key: folder name (16 hex digits).
        root: the data folder its images came from.
        images: ``N`` rows.
        size: side of the stored squares, pixels.
        channels: channels stored (1 for grey data).
        interpolation: resampling filter.
        bytes: size on disk of the pixel array.
        last_used: when a run last opened it, seconds since the epoch.
        folder: the cache's folder.
    """

    key: str
    root: str
    images: int
    size: int
    channels: int
    interpolation: str
    bytes: int
    last_used: float
    folder: Path


def list_caches(cache_dir: str | os.PathLike) -> list[CacheEntry]:
    """The complete caches in ``cache_dir``, most recently used first (an unreadable one is left out).
    A missing folder has none."""
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        return []
    out = []
    for folder in cache_dir.iterdir():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            meta = read_json(folder / META)
            out.append(CacheEntry(
                key=folder.name, root=meta["root"], images=int(meta["shape"][0]), size=int(meta["size"]),
                channels=int(meta["channels"]), interpolation=meta["interpolation"],
                bytes=(folder / PIXELS).stat().st_size, last_used=(folder / META).stat().st_mtime, folder=folder,
            ))
        except (OSError, ValueError, KeyError, TypeError, IndexError, ClassifykitError):
            continue
    return sorted(out, key=lambda e: -e.last_used)


def unfinished_builds(cache_dir: str | os.PathLike) -> list[Path]:
    """``.building-*`` folders in ``cache_dir`` (running builds, or left behind by a crash)."""
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        return []
    return sorted(p for p in cache_dir.iterdir() if p.name.startswith(BUILDING_PREFIX) and p.is_dir())


def clean_caches(
    cache_dir: str | os.PathLike,
    *,
    keys: list[str] | None = None,
    older_than_days: float | None = None,
    everything: bool = False,
    now: float | None = None,
) -> tuple[list[CacheEntry], int]:
    """Remove caches from ``cache_dir``; exactly one of ``keys``, ``older_than_days``, ``everything``.

    - ``keys``: those caches (a unique prefix of a key is enough).
    - ``older_than_days``: caches last used more than that many days ago, and unfinished builds
      untouched for as long.
    - ``everything``: every cache and every unfinished build older than a day (a younger one may be
      a run building right now).

    A removed cache is renamed away before it is deleted, so no run opens it half-deleted; a run
    that has it open keeps reading (POSIX keeps unlinked files alive), but the next run rebuilds it.

    Returns:
        ``(removed caches, unfinished builds removed)``.

    Raises:
        ClassifykitError: not exactly one selection, a negative age, or a key that matches no cache
            or several (named, with the command that lists them).
    """
    if sum([bool(keys), older_than_days is not None, everything]) != 1:
        raise ClassifykitError("classifykit cache clean: give cache keys, --older-than DAYS or --all (one of them).")
    if older_than_days is not None and older_than_days < 0:
        raise ClassifykitError(f"--older-than {older_than_days}: give a number of days >= 0.")
    now = time.time() if now is None else now
    entries = list_caches(cache_dir)
    if keys:
        chosen = []
        for k in keys:
            hits = [e for e in entries if e.key.startswith(k.lower())]
            if len(hits) != 1:
                what = "no cache" if not hits else f"{len(hits)} caches"
                raise ClassifykitError(f"cache key {k!r} matches {what} in {cache_dir}; see `classifykit cache list`.")
            chosen.append(hits[0])
    elif everything:
        chosen = entries
    else:
        chosen = [e for e in entries if now - e.last_used > older_than_days * DAY]
    for e in chosen:
        discard(e.folder)
    stale_age = DAY if (everything or keys) else older_than_days * DAY
    stale = [] if keys else [p for p in unfinished_builds(cache_dir) if now - _mtime(p) > stale_age]
    for p in stale:
        discard(p)
    return chosen, len(stale)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
