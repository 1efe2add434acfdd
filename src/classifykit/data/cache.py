"""Decoded-image cache: every image decoded and resized once into a uint8 memory-mapped array.

Later epochs, evaluation and later runs on the same data read pixels straight from the array instead
of opening, decoding and resizing files, so data loading costs one ``memcpy`` per image.

Where (:func:`resolve_cache_dir`, the one rule): the folder given by ``--cache-dir``, else the
environment variable ``CLASSIFYKIT_CACHE_DIR``, else ``<runs_dir>/.cache/images/``. One folder is
shared by every run, so a second run on the same data and preprocessing reuses the first one's
cache; ``classifykit cache list`` and ``classifykit cache clean`` manage it
(:mod:`classifykit.data.cache_store`).

Layout: one folder per cache, ``<cache_dir>/<key>/``, holding

- ``pixels.u8``: raw uint8 array ``N×S×S×C`` (row ``i`` = ``paths[i]``; ``S`` = ``size``).
- ``meta.json``: the key and everything it was computed from (format version, Pillow, torch and
  torchvision versions, the resolved data root, ``size``, ``interpolation``, stored ``channels``,
  and each file's path, byte size and mtime in ns), plus ``shape`` and ``bytes``. Its mtime is the
  cache's "last used" time (touched at every open).

``<key>`` is a hash of those inputs, so a changed, added or removed file, another data folder, size,
interpolation or channel count gives another key and a build; unchanged data reopens the existing
array without decoding anything.

Channels are the data's: a dataset whose images are all grey (by their Pillow modes, see
``modes``) is stored with 1 channel even when the model takes 3, and repeated to 3 channels when
read (the same pixels as decoding to RGB first: each channel is resized on its own). That is a third
of the disk and page cache of storing it as RGB.

Each image is decoded with :func:`~classifykit.data.decode.decode_image` and resized with
:func:`~classifykit.data.transforms.resize_square` (shorter side to ``size``, centre crop), the
first step of the evaluation and training presets: with ``size`` =
:func:`~classifykit.data.transforms.eval_resize_size` an image gives the same tensor cached or not.

Disk cost: ``N × S × S × C`` bytes (10,000 grey images at 73 px: 51 MiB; 100,000 RGB images at
256 px: 18.3 GiB); a build that would not fit on the disk is refused before it starts.

Concurrent runs: a build writes into a private ``.building-<key>-<pid>-<random>/`` folder and renames
it to ``<key>/`` when complete (one ``rename``, atomic on one file system), so a reader sees a whole
cache or none. Two runs building the same key at once both finish; the second rename fails because
``<key>/`` exists, and that run drops its copy and uses the first. Under ``torchrun``, open the
cache on rank 0 first and the other ranks after a barrier, so they do not all decode.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import PIL
import torch
import torchvision
from torchvision.transforms.v2.functional import pil_to_tensor

from classifykit.cpus import usable_cpus
from classifykit.data.cache_store import BUILDING_PREFIX, META, PIXELS, discard, resolve_cache_dir  # noqa: F401 (re-exported)
from classifykit.data.decode import decode_image, image_channels
from classifykit.data.transforms import interpolation_mode, resize_square
from classifykit.errors import ClassifykitError
from classifykit.io import read_json, write_json

CACHE_FORMAT = 2
_CHUNK = 256  # images per thread task: large enough to amortize scheduling, small enough for progress


def stored_channels(channels: int, modes: Sequence[str] | None) -> int:
    """Channels the cache stores for a model taking ``channels``: 1 when the model takes 1 or every
    Pillow mode in ``modes`` is grey (:func:`~classifykit.data.decode.image_channels`), else 3.
    ``modes`` None (not known) stores ``channels``."""
    if channels == 1 or (modes is not None and modes and all(image_channels(m) == 1 for m in modes)):
        return 1
    return channels


def cache_pixels(source: str | os.PathLike, size: int, channels: int, interpolation: str = "bilinear") -> np.ndarray:
    """Decode one image and :func:`~classifykit.data.transforms.resize_square` it: the exact pixels
    the cache stores for it.

    Returns:
        uint8 array ``size×size×channels``.

    Raises:
        ClassifykitError: the file cannot be decoded (see ``decode_image``), unknown interpolation.
    """
    square = resize_square(size, interpolation)(pil_to_tensor(decode_image(source, channels)))
    return square.permute(1, 2, 0).numpy()


def _file_entries(root: Path, paths: Sequence[str]) -> list[list]:
    entries = []
    for p in paths:
        try:
            st = os.stat(root / p)
        except FileNotFoundError as e:
            raise ClassifykitError(f"{root / p}: no such file; rescan the folder (classifykit scan) and retry.") from e
        entries.append([p, st.st_size, st.st_mtime_ns])
    return entries


def _default_workers() -> int:
    return min(8, usable_cpus())


def _valid(folder: Path, record: dict) -> bool:
    """True if ``folder`` holds a complete cache with exactly ``record`` as its meta."""
    pixels, meta = folder / PIXELS, folder / META
    try:
        return pixels.stat().st_size == record["bytes"] and read_json(meta) == record
    except (OSError, ValueError, ClassifykitError):
        return False


class DecodedImageCache:
    """Read-only view of a built cache: ``cache[i]`` -> uint8 tensor ``C×S×S`` of ``paths[i]``.

    Make one with :meth:`open`. Picklable for DataLoader workers: the memory map is not pickled but
    reopened read-only on first access in each worker (pages are shared through the OS page cache).

    Attributes:
        path: the ``pixels.u8`` array file.
        key: the cache's key (its folder name).
        paths: item paths in row order (relative to the data root).
        size: side ``S`` of the stored squares, pixels.
        channels: ``C`` of what ``cache[i]`` returns (1 or 3).
        stored_channels: channels on disk (1 for grey data, repeated to ``channels`` when read).
        built: True if :meth:`open` decoded the images, False if it reused an existing array.
    """

    def __init__(self, path: Path, paths: Sequence[str], size: int, channels: int, built: bool,
                 stored_channels: int | None = None) -> None:
        self.path, self.paths, self.size, self.channels, self.built = path, list(paths), size, channels, built
        self.stored_channels = channels if stored_channels is None else stored_channels
        self.key = path.parent.name
        self._rows = {p: i for i, p in enumerate(self.paths)}
        self._array: np.memmap | None = None

    @classmethod
    def open(
        cls,
        root: str | os.PathLike,
        paths: Sequence[str],
        cache_dir: str | os.PathLike,
        size: int,
        channels: int,
        *,
        interpolation: str = "bilinear",
        modes: Sequence[str] | None = None,
        num_workers: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> DecodedImageCache:
        """Reopen the cache of ``paths`` if one with the same key exists in ``cache_dir``, else build it.

        Args:
            root: data root the ``paths`` are relative to.
            paths: item paths (POSIX, relative to ``root``), in the row order of the array.
            cache_dir: the shared cache folder (:func:`resolve_cache_dir`; created if missing).
            size: side of the stored squares in pixels (the evaluation preset's
                :func:`~classifykit.data.transforms.eval_resize_size`).
            channels: channels the model takes, 1 or 3 (decode_image's ``channels``).
            interpolation: ``"bilinear"`` or ``"bicubic"``, as the presets' ``interpolation``.
            modes: the Pillow mode of each path (``ManifestItem.mode``); when all are grey the cache
                stores 1 channel (see :func:`stored_channels`). None stores ``channels``.
            num_workers: decoding threads (Pillow and torch release the GIL while decoding and
                resizing); default min(8, usable CPUs).
            progress: called with the number of images just finished, after each chunk of a build.

        Raises:
            ClassifykitError: no paths, a missing or undecodable file (named), bad size, channels or
                interpolation, ``modes`` of another length than ``paths``, not enough free disk space
                for ``N × size × size × stored channels`` bytes.
        """
        if not paths:
            raise ClassifykitError("Nothing to cache: the image list is empty; check the manifest and split.")
        if size < 1 or channels not in (1, 3):
            raise ClassifykitError(f"Image cache: size {size} and channels {channels} must be >= 1 and 1 or 3.")
        if modes is not None and len(modes) != len(paths):
            raise ClassifykitError(f"Image cache: {len(modes)} image modes for {len(paths)} paths; give one per path.")
        interpolation_mode(interpolation)
        root, cache_dir = Path(root), Path(cache_dir)
        stored = stored_channels(channels, modes)
        inputs = {
            "format": CACHE_FORMAT,
            "pillow": PIL.__version__,
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "root": str(root.resolve()),
            "size": size,
            "interpolation": interpolation,
            "channels": stored,
            "files": _file_entries(root, paths),
        }
        key = hashlib.sha256(json.dumps(inputs, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]
        shape = (len(paths), size, size, stored)
        record = {**inputs, "key": key, "shape": list(shape), "bytes": int(np.prod(shape))}
        folder = cache_dir / key
        if _valid(folder, record):
            _touch(folder / META)
            return cls(folder / PIXELS, paths, size, channels, built=False, stored_channels=stored)
        cache_dir.mkdir(parents=True, exist_ok=True)
        need, free = record["bytes"], shutil.disk_usage(cache_dir).free
        if need > free:
            raise ClassifykitError(
                f"The image cache needs {need / 2**20:.1f} MiB in {cache_dir} but only {free / 2**20:.1f} MiB is free; "
                "free some space (classifykit cache clean), use a smaller --input-size, or train with --no-cache."
            )
        if folder.exists():  # a cache of this key that does not match (damaged): replaced, never trusted
            discard(folder)
        built = _build(root, paths, cache_dir, record, interpolation, num_workers or _default_workers(), progress)
        return cls(folder / PIXELS, paths, size, channels, built=built, stored_channels=stored)

    def __len__(self) -> int:
        return len(self.paths)

    def row(self, path: str) -> int:
        """Row index of ``path``. Raises ClassifykitError if the cache was built without it."""
        try:
            return self._rows[path]
        except KeyError:
            raise ClassifykitError(f"{path}: not in the image cache {self.path}; rebuild the cache with every item.") from None

    def _mapped(self) -> np.memmap:
        if self._array is None:
            shape = (len(self.paths), self.size, self.size, self.stored_channels)
            self._array = np.memmap(self.path, dtype=np.uint8, mode="r", shape=shape)
        return self._array

    def _expand(self, t: torch.Tensor) -> torch.Tensor:
        """``…×C_stored×S×S`` -> ``…×channels×S×S`` (grey repeated; a real copy, transforms write to it)."""
        if self.stored_channels == self.channels:
            return t
        return t.repeat_interleave(self.channels, dim=-3)

    def __getitem__(self, i: int) -> torch.Tensor:
        """Pixels of row ``i``: uint8 tensor ``C×S×S`` (a copy; the map itself is read-only)."""
        return self._expand(torch.from_numpy(np.array(self._mapped()[i])).permute(2, 0, 1))

    def iter_batches(self, rows: Sequence[int], batch_size: int = 1024) -> Iterator[torch.Tensor]:
        """The images of ``rows`` as uint8 tensors ``B×C×S×S``, ``batch_size`` at a time (for statistics)."""
        array = self._mapped()
        for start in range(0, len(rows), batch_size):
            yield self._expand(torch.from_numpy(array[list(rows[start : start + batch_size])]).permute(0, 3, 1, 2))

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_array": None}


def _touch(path: Path) -> None:
    """Mark a cache as used now (its ``meta.json`` mtime); a read-only cache folder is fine."""
    try:
        os.utime(path)
    except OSError:
        pass


def _build(
    root: Path,
    paths: Sequence[str],
    cache_dir: Path,
    record: dict,
    interpolation: str,
    num_workers: int,
    progress: Callable[[int], None] | None,
) -> bool:
    """Decode every image into a private folder, then rename it to ``<cache_dir>/<key>``.

    Returns False when another process renamed a complete cache of the same key into place first
    (this build is then dropped and that one used), True otherwise.
    """
    tmp = cache_dir / f"{BUILDING_PREFIX}{record['key']}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    shape = tuple(record["shape"])
    size, channels = shape[1], shape[3]
    try:
        array = np.memmap(tmp / PIXELS, dtype=np.uint8, mode="w+", shape=shape)

        def fill(start: int) -> int:
            stop = min(start + _CHUNK, len(paths))
            for i in range(start, stop):
                array[i] = cache_pixels(root / paths[i], size, channels, interpolation)
            return stop - start

        pool = ThreadPoolExecutor(max_workers=num_workers, thread_name_prefix="image-cache")
        try:
            for future in as_completed([pool.submit(fill, s) for s in range(0, len(paths), _CHUNK)]):
                n = future.result()  # re-raises a thread's ClassifykitError naming the file
                if progress is not None:
                    progress(n)
        finally:
            pool.shutdown(cancel_futures=True)  # on an error, waits only for the chunks already running
        array.flush()
        del array
        write_json(tmp / META, record)
        final = cache_dir / record["key"]
        try:
            os.rename(tmp, final)
        except OSError:
            if not _valid(final, record):
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another run finished the same cache first
            return False
        return True
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
