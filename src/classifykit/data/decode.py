"""The one image decoder: file -> 8-bit ``L`` or ``RGB`` PIL image, used by scan, train, evaluate, predict.

Every stage decodes through :func:`decode_image`, so an image looks the same to the model at training
time and at prediction time (EXIF orientation applied, the same mode conversions, the same channels).

Mode conversions (Pillow mode names):

- ``1``, ``L``: ``L`` (``1`` becomes 0/255).
- ``P`` (palette): ``RGB``; with transparency it goes through ``RGBA`` and is composited on white.
- ``LA``, ``La``, ``RGBA``, ``RGBa``, ``PA`` and any image with transparency data (a PNG ``tRNS``
  key colour): composited on white. Transparent pixels carry arbitrary colour values (often black);
  dropping the alpha would show those, while a person looking at the image sees it over a white
  page or viewer background. Compositing on white gives the model what the person saw.
- ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``, ``RGBX``: ``RGB`` by Pillow's conversions.
- ``I;16``, ``I;16B``, ``I;16L``, ``I;16N`` (16-bit grey) and ``I`` (32-bit integer, which Pillow uses
  for 16-bit data from some formats): scaled to 8 bits by ``round(v / 257)`` so 0..65535 maps onto
  0..255 (the exact inverse of 8->16-bit expansion ``v * 257``); ``I`` values are first clamped to
  0..65535. Clipping instead of scaling would turn almost every 16-bit image white.
- ``F`` (32-bit float): Pillow's own convention (``L`` -> ``F`` keeps 0..255 values), so values are
  rounded and clamped to 0..255.

Multi-frame files (GIF, TIFF) give their first frame.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import IO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from classifykit.errors import ClassifykitError

# The only Pillow decoders a user's file may reach: a crafted file cannot get to the others
# (Pillow's EPS plugin, for one, runs Ghostscript).
PIL_FORMATS = ("JPEG", "PNG", "BMP", "DIB", "GIF", "WEBP", "TIFF", "PPM")

GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_ALPHA_MODES = frozenset({"LA", "La", "RGBA", "RGBa", "PA"})
_WIDE_INT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


def image_channels(mode: str) -> int:
    """Channels an image of Pillow ``mode`` has after :func:`decode_image` with ``channels=None``: 1 or 3.

    Grey modes (``1``, ``L``, ``LA``, 16/32-bit integer, ``F``) give 1; every other mode (including
    ``P``, whose palette may hold colours) gives 3.
    """
    return 1 if mode in GREY_MODES else 3


def detect_channels(modes: Iterable[str]) -> int:
    """Input channels for a dataset from the Pillow modes of its training images: 1 or 3.

    3 if any image is colour, else 1: converting a few grey images to RGB loses nothing, while
    converting colour images to grey would throw their colour away.

    Raises:
        ClassifykitError: ``modes`` is empty (no training images to look at).
    """
    seen = False
    for mode in modes:
        seen = True
        if image_channels(mode) == 3:
            return 3
    if not seen:
        raise ClassifykitError("Cannot detect image channels: the training split has no images; check the manifest and split.")
    return 1


def too_large(*, size: tuple[int, int] | None = None, error: Exception | None = None) -> str:
    """The one wording of a decompression-bomb refusal, with one limit: ``Image.MAX_IMAGE_PIXELS``.

    Pillow refuses by itself only above twice the limit and words that as "exceeds limit of
    <2 × limit>" (it merely warns between 1× and 2×); we refuse from 1×, so the message names the
    pixel count (``W×H = N`` when ``size`` is known, else the count in Pillow's message) and the
    limit once (a Pillow error or warning as ``error``), e.g. ``"100000×100000 = 10000000000 pixels, over the limit of 89478485 pixels
    (PIL.Image.MAX_IMAGE_PIXELS)"``.
    """
    if size is not None:
        count = f"{size[0]}×{size[1]} = {size[0] * size[1]} pixels"
    else:
        found = re.search(r"\((\d+) pixels\)", str(error))
        count = f"{found.group(1)} pixels" if found else "more pixels than allowed"
    return f"{count}, over the limit of {Image.MAX_IMAGE_PIXELS} pixels (PIL.Image.MAX_IMAGE_PIXELS)"


def _name(source: str | os.PathLike | IO[bytes]) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return str(getattr(source, "name", "<in-memory image>"))


def _open(source: str | os.PathLike | IO[bytes]) -> Image.Image:
    """Open and fully decode ``source``; every failure becomes a ClassifykitError naming the file."""
    name = _name(source)
    try:
        # Leaving the ``with`` closes the file (multi-frame files would otherwise keep it open); the
        # loaded pixels stay usable.
        with Image.open(source, formats=PIL_FORMATS) as im:
            # Image.open reads only the header. Pillow itself raises above 2x MAX_IMAGE_PIXELS and only
            # warns between 1x and 2x; refuse from 1x, before decoding, without touching the global
            # limit or the (process-wide, not thread-safe) warning filters.
            if Image.MAX_IMAGE_PIXELS is not None and im.width * im.height > Image.MAX_IMAGE_PIXELS:
                raise Image.DecompressionBombError(too_large(size=im.size))
            im.load()
    except FileNotFoundError as e:
        raise ClassifykitError(f"{name}: no such file; rescan the folder or fix the manifest.") from e
    except Image.DecompressionBombError as e:
        reason = str(e) if "PIL.Image.MAX_IMAGE_PIXELS" in str(e) else too_large(error=e)
        raise ClassifykitError(
            f"{name}: image too large to decode safely: {reason}; resize it below that or remove it."
        ) from e
    except UnidentifiedImageError as e:
        raise ClassifykitError(f"{name}: not an image Pillow can read; remove it or convert it to PNG/JPEG.") from e
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        # Truncated or corrupt data: Pillow raises OSError ("image file is truncated"), ValueError,
        # SyntaxError (bad headers in some plugins) or EOFError.
        raise ClassifykitError(f"{name}: cannot decode the image ({e}); the file is damaged, re-export or remove it.") from e
    return im


def _scale_wide(im: Image.Image) -> Image.Image:
    a = np.asarray(im)
    if im.mode == "F":
        out = np.clip(np.rint(np.nan_to_num(a, nan=0.0)), 0, 255)
    else:
        out = np.rint(np.clip(a.astype(np.float64), 0, 65535) / 257.0)
    return Image.fromarray(out.astype(np.uint8), mode="L")


def _composite_on_white(im: Image.Image) -> Image.Image:
    """Blend an ``LA`` or ``RGBA`` image over white: ``out = round((c * a + 255 * (255 - a)) / 255)``."""
    a = np.asarray(im).astype(np.float64)
    colour, alpha = a[..., :-1], a[..., -1:]
    out = np.rint((colour * alpha + 255.0 * (255.0 - alpha)) / 255.0).astype(np.uint8)
    if out.shape[-1] == 1:
        return Image.fromarray(out[..., 0], mode="L")
    return Image.fromarray(out, mode="RGB")


def _to_natural(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit ``L`` or ``RGB`` (see the module docstring for each mode)."""
    mode = im.mode
    if mode in ("L", "RGB") and not im.has_transparency_data:
        return im
    if mode == "1":
        return im.convert("L")
    if mode in ("I", "F") or mode in _WIDE_INT_MODES:
        return _scale_wide(im)
    if mode in _ALPHA_MODES or im.has_transparency_data:
        if mode in ("L", "La"):
            im = im.convert("LA")
        elif mode != "LA":
            im = im.convert("RGBA")
        return _composite_on_white(im)
    return im.convert("RGB")


def decode_image(source: str | os.PathLike | IO[bytes], channels: int | None = None) -> Image.Image:
    """Decode one image file into an 8-bit PIL image with EXIF orientation applied.

    Args:
        source: a path or a binary file object.
        channels: 1 gives mode ``L`` (ITU-R 601-2 luma from colour, as Pillow's ``convert("L")``),
            3 gives ``RGB`` (grey replicated), None keeps the natural ``L`` or ``RGB`` of the file
            (see :func:`image_channels`).

    Returns:
        A fully loaded PIL image of mode ``L`` or ``RGB``, size ``W×H`` after EXIF rotation.

    Raises:
        ClassifykitError: missing, unreadable, truncated or decompression-bomb-sized file (the
            message names the file), or ``channels`` not in (None, 1, 3).
    """
    if channels not in (None, 1, 3):
        raise ClassifykitError(f"--channels {channels}: use 1 (grey) or 3 (RGB).")
    im = _open(source)
    try:
        ImageOps.exif_transpose(im, in_place=True)  # in place: no copy for the usual unrotated image
        im = _to_natural(im)
    except (OSError, ValueError, SyntaxError) as e:
        raise ClassifykitError(f"{_name(source)}: cannot convert the image ({e}); re-export it as PNG or JPEG.") from e
    if channels == 1 and im.mode != "L":
        im = im.convert("L")
    elif channels == 3 and im.mode != "RGB":
        im = im.convert("RGB")
    return im
