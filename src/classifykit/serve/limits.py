"""What a client may send to ``POST /predict``, checked before anything reaches the model.

Every refusal is an :class:`InputRejected` with an HTTP status and a message naming the input and
the bound: 413 for a bound exceeded (request bytes, file count, file bytes, image pixels, text
count, text length), 415 for content of the wrong kind (bytes that are no image format the
decoder reads, texts sent to an image run or files to a text run), 422 for a malformed request
(no inputs, an empty file, JSON that is not ``{"texts": [str, ...]}``).

Content is recognised by its first bytes (magic numbers), never by file name or Content-Type.
The request body is read into memory with its bound (:func:`read_body`); Starlette's form parser
spools a file part over 1 MiB to an anonymous temporary file, and nothing is written anywhere else.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterable
from dataclasses import dataclass

from PIL import Image

from classifykit.data.decode import PIL_FORMATS

# (offset, magic bytes, format): the formats data.decode.PIL_FORMATS lets Pillow decode.
IMAGE_MAGIC = (
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (8, b"WEBP", "WEBP"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"P5", "PPM"),
    (0, b"P6", "PPM"),
)
KNOWN_FORMATS = "PNG, JPEG, GIF, WebP, BMP, TIFF or PPM"


class InputRejected(Exception):
    """A request refused before prediction: ``status`` (413, 415 or 422) and ``message`` (for ``detail``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Limits:
    """Bounds on one ``POST /predict`` request.

    Attributes:
        max_request_bytes: the whole body (20 MiB).
        max_files, max_file_bytes: images per request and bytes per image (10 MiB).
        max_pixels: width × height of one image, read from its header before decoding (the
            decompression-bomb bound; 25 megapixels, below Pillow's own 89 MP).
        max_texts, max_text_chars: texts per request and characters per text.
    """

    max_request_bytes: int = 20 * 2**20
    max_files: int = 32
    max_file_bytes: int = 10 * 2**20
    max_pixels: int = 25_000_000
    max_texts: int = 256
    max_text_chars: int = 10_000


async def read_body(chunks: AsyncIterable[bytes], declared: str | None, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes ``limit`` bytes (or declares more)."""
    too_big = InputRejected(413, f"request body over {limit} bytes; send fewer or smaller files per request.")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    body, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_big
        body.append(chunk)
    return b"".join(body)


def image_format(data: bytes) -> str | None:
    """The image format named by ``data``'s magic bytes (``"PNG"``, ...), or None."""
    for offset, magic, name in IMAGE_MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return name
    return None


def check_image(name: str, data: bytes, limits: Limits) -> None:
    """Refuse an upload that is empty (422), too many bytes (413), not an image by its bytes (415) or
    more than ``limits.max_pixels`` pixels by its header (413). A file whose header or pixels turn
    out damaged passes here and gets the decoder's own error as its prediction's ``error``."""
    if not data:
        raise InputRejected(422, f"{name}: empty file; send the image's bytes.")
    if len(data) > limits.max_file_bytes:
        raise InputRejected(413, f"{name}: {len(data)} bytes, over the limit of {limits.max_file_bytes} bytes per image.")
    if image_format(data) is None:
        raise InputRejected(415, f"{name}: not an image (its first bytes are no {KNOWN_FORMATS} signature).")
    try:
        with Image.open(io.BytesIO(data), formats=PIL_FORMATS) as im:  # reads the header only
            width, height = im.size
    except Image.DecompressionBombError:
        raise InputRejected(413, f"{name}: more than twice Pillow's pixel limit; the server takes at most "
                                 f"{limits.max_pixels} pixels per image.") from None
    except (OSError, ValueError, SyntaxError, EOFError):  # damaged header: decode_image words the error, as classifykit predict writes it
        return
    if width * height > limits.max_pixels:
        raise InputRejected(413, f"{name}: {width}×{height} = {width * height} pixels, over the limit of "
                                 f"{limits.max_pixels} pixels per image; resize it first.")


def parse_texts(body: bytes, limits: Limits) -> list[str]:
    """The texts of a JSON body ``{"texts": [str, ...]}``, refused when malformed (422) or over the
    count or length bounds (413). An empty or blank text is kept: its prediction says why it cannot
    be classified, as ``classifykit predict`` does."""
    usage = 'send JSON {"texts": ["a text", ...]}'
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputRejected(422, f"request body is not JSON ({e}); {usage}.") from None
    texts = payload.get("texts") if isinstance(payload, dict) else None
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise InputRejected(422, f'"texts" must be a list of strings; {usage}.')
    if not texts:
        raise InputRejected(422, f'"texts" is empty; {usage}.')
    if len(texts) > limits.max_texts:
        raise InputRejected(413, f"{len(texts)} texts, over the limit of {limits.max_texts} per request.")
    for i, t in enumerate(texts, start=1):
        if len(t) > limits.max_text_chars:
            raise InputRejected(413, f"text {i}: {len(t)} characters, over the limit of {limits.max_text_chars}.")
    return texts
