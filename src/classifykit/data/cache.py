"""Decoded-image cache: every image decoded and resized once into a uint8 memory-mapped array.

Later epochs (and evaluation) read pixels straight from the array instead of opening, decoding and
resizing files, so data loading costs one ``memcpy`` per image.

Layout, in ``cache_dir`` (the run folder's ``cache/``):

- ``images-<key>.u8``: raw uint8 array ``N×S×S×C`` (row ``i`` = ``paths[i]``; ``S`` = ``size``).
- ``images-<key>.json``: the sidecar: the key and everything it was computed from (format version,
  Pillow version, ``size``, ``channels``, and each file's path, byte size and mtime in ns).

``<key>`` is a hash of the sidecar's contents, so a changed, added or removed file, or another size
or channel count, gives another key and a rebuild; an unchanged dataset reopens the existing array
without decoding anything.

Each image is decoded with :func:`~classifykit.data.decode.decode_image`, its shorter side resized
to ``size`` and centre-cropped to ``size × size`` (``PIL.ImageOps.fit``, bilinear with Pillow's
antialiasing). Choose ``size`` >= the model's input size — by default the evaluation preset's
resize size :func:`~classifykit.data.transforms.eval_resize_size`, so evaluation never upsamples and
random resized crops still have pixels to pick from. The square crop drops the ends of the longer
side of non-square images (the evaluation centre crop drops them anyway).

Disk cost: ``N × S × S × C`` bytes (10,000 grey images at 73 px: 51 MiB; 100,000 RGB images at
256 px: 18.3 GiB); a build that would not fit on the disk is refused before it starts. Under
``torchrun``, open the cache on rank 0 first and the other ranks after a barrier, so they reuse it
instead of each decoding everything (concurrent builds stay correct, only wasteful: each writes its
own temp file and renames it into place atomically).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import PIL
import torch
from PIL import Image, ImageOps

from classifykit.data.decode import decode_image
from classifykit.cpus import usable_cpus
from classifykit.errors import ClassifykitError
from classifykit.io import read_json, write_json

CACHE_FORMAT = 1
_CHUNK = 256  # images per thread task: large enough to amortize scheduling, small enough for progress


def cache_pixels(source: str | os.PathLike, size: int, channels: int) -> np.ndarray:
    """Decode one image and fit it to ``size × size``: the exact pixels the cache stores for it.

    Returns:
        uint8 array ``size×size×channels``.

    Raises:
        ClassifykitError: the file cannot be decoded (see ``decode_image``).
    """
    img = ImageOps.fit(decode_image(source, channels), (size, size), method=Image.Resampling.BILINEAR)
    a = np.asarray(img)
    return a[..., None] if a.ndim == 2 else a


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


class DecodedImageCache:
    """Read-only view of a built cache: ``cache[i]`` -> uint8 tensor ``C×S×S`` of ``paths[i]``.

    Make one with :meth:`open`. Picklable for DataLoader workers: the memory map is not pickled but
    reopened read-only on first access in each worker (pages are shared through the OS page cache).

    Attributes:
        path: the ``.u8`` array file.
        paths: item paths in row order (relative to the data root).
        size: side ``S`` of the stored squares, pixels.
        channels: ``C`` (1 or 3).
        built: True if :meth:`open` decoded the images, False if it reused an existing array.
    """

    def __init__(self, path: Path, paths: Sequence[str], size: int, channels: int, built: bool) -> None:
        self.path, self.paths, self.size, self.channels, self.built = path, list(paths), size, channels, built
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
        num_workers: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> DecodedImageCache:
        """Reopen the cache of ``paths`` if one with the same key exists in ``cache_dir``, else build it.

        Args:
            root: data root the ``paths`` are relative to.
            paths: item paths (POSIX, relative to ``root``), in the row order of the array.
            cache_dir: folder for the array and sidecar (created if missing).
            size: side of the stored squares in pixels (>= the model's input size).
            channels: 1 or 3 (decode_image's ``channels``).
            num_workers: decoding threads (Pillow releases the GIL while decoding and resizing);
                default min(8, usable CPUs).
            progress: called with the number of images just finished, after each chunk of a build.

        Raises:
            ClassifykitError: no paths, a missing or undecodable file (named), bad size or channels,
                not enough free disk space for ``N × size × size × channels`` bytes.
        """
        if not paths:
            raise ClassifykitError("Nothing to cache: the image list is empty; check the manifest and split.")
        if size < 1 or channels not in (1, 3):
            raise ClassifykitError(f"Image cache: size {size} and channels {channels} must be >= 1 and 1 or 3.")
        root, cache_dir = Path(root), Path(cache_dir)
        meta = {
            "format": CACHE_FORMAT,
            "pillow": PIL.__version__,
            "size": size,
            "channels": channels,
            "files": _file_entries(root, paths),
        }
        key = hashlib.sha256(json.dumps(meta, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]
        array_path, sidecar = cache_dir / f"images-{key}.u8", cache_dir / f"images-{key}.json"
        shape = (len(paths), size, size, channels)
        if sidecar.is_file() and array_path.is_file() and array_path.stat().st_size == int(np.prod(shape)):
            if read_json(sidecar) == {**meta, "key": key, "shape": list(shape)}:
                return cls(array_path, paths, size, channels, built=False)
        cache_dir.mkdir(parents=True, exist_ok=True)
        need, free = int(np.prod(shape)), shutil.disk_usage(cache_dir).free
        if need > free:
            raise ClassifykitError(
                f"The image cache needs {need / 2**20:.1f} MiB in {cache_dir} but only {free / 2**20:.1f} MiB is free; "
                "free some space, use a smaller --input-size, or train with --no-cache."
            )
        _build(root, paths, array_path, shape, num_workers or _default_workers(), progress)
        # The sidecar goes last: an array without its sidecar (a crash mid-build) is never reused.
        write_json(sidecar, {**meta, "key": key, "shape": list(shape)})
        return cls(array_path, paths, size, channels, built=True)

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
            shape = (len(self.paths), self.size, self.size, self.channels)
            self._array = np.memmap(self.path, dtype=np.uint8, mode="r", shape=shape)
        return self._array

    def __getitem__(self, i: int) -> torch.Tensor:
        """Pixels of row ``i``: uint8 tensor ``C×S×S`` (a copy; the map itself is read-only)."""
        return torch.from_numpy(np.array(self._mapped()[i])).permute(2, 0, 1)

    def iter_batches(self, rows: Sequence[int], batch_size: int = 1024) -> Iterator[torch.Tensor]:
        """The images of ``rows`` as uint8 tensors ``B×C×S×S``, ``batch_size`` at a time (for statistics)."""
        array = self._mapped()
        for start in range(0, len(rows), batch_size):
            yield torch.from_numpy(array[list(rows[start : start + batch_size])]).permute(0, 3, 1, 2)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_array": None}


def _build(
    root: Path,
    paths: Sequence[str],
    array_path: Path,
    shape: tuple[int, int, int, int],
    num_workers: int,
    progress: Callable[[int], None] | None,
) -> None:
    """Decode every image into a temp array beside ``array_path``, then rename it into place."""
    tmp = array_path.with_name(f".{array_path.name}.{os.getpid()}.tmp")
    array = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape)
    size, channels = shape[1], shape[3]

    def fill(start: int) -> int:
        stop = min(start + _CHUNK, len(paths))
        for i in range(start, stop):
            array[i] = cache_pixels(root / paths[i], size, channels)
        return stop - start

    pool = ThreadPoolExecutor(max_workers=num_workers, thread_name_prefix="image-cache")
    try:
        for future in as_completed([pool.submit(fill, s) for s in range(0, len(paths), _CHUNK)]):
            n = future.result()  # re-raises a thread's ClassifykitError naming the file
            if progress is not None:
                progress(n)
        pool.shutdown()
        array.flush()
        del array
        os.replace(tmp, array_path)
    except BaseException:
        pool.shutdown(cancel_futures=True)  # waits only for the chunks already running
        tmp.unlink(missing_ok=True)
        raise
