"""The most confidently wrong test items, as embedded thumbnails (images) or texts (text runs).

Thumbnails are decoded by the one image decoder (:func:`~classifykit.data.decode.decode_image`:
the same EXIF rotation, 16-bit scaling and transparency handling as training) and embedded as ``data:image/png;base64,...`` URIs so the report
stays one self-contained file. Image paths are the data root (:func:`data_root`) joined with the
manifest path, as at training time.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from classifykit.data.decode import decode_image
from classifykit.errors import ClassifykitError

THUMB = 112  # thumbnail box, pixels


@dataclass(frozen=True)
class WrongItem:
    """One misclassified test item. ``image`` is a PNG data URI (or None if unreadable); ``text`` for text runs."""

    item: str
    label: str
    pred: str
    prob: float
    image: str | None = None
    text: str | None = None
    problem: str | None = None


def _prob(row: dict[str, str]) -> float:
    try:
        return float(row.get("prob") or "nan")
    except ValueError:
        return math.nan


def confidently_wrong(predictions: list[dict[str, str]], n: int) -> list[dict[str, str]]:
    """The ``n`` wrong rows of test_predictions.csv with the highest predicted-class probability."""
    def is_wrong(row: dict[str, str]) -> bool:
        correct = str(row.get("correct", "")).strip().lower()
        if correct in ("0", "false"):
            return True
        if correct in ("1", "true"):
            return False
        return row.get("label") != row.get("pred")

    wrong = [r for r in predictions if is_wrong(r)]
    wrong.sort(key=lambda r: -_prob(r) if math.isfinite(_prob(r)) else 0.0)
    return wrong[:n]


def data_root(config: dict) -> Path | None:
    """The folder image paths are relative to, as the image task resolves it: ``config.root`` if set,
    else ``config.data`` when it is a folder, else the folder of the manifest file it names."""
    if config.get("root"):
        return Path(config["root"])
    if not config.get("data"):
        return None
    data = Path(config["data"])
    return data if data.is_dir() else data.resolve().parent


def thumbnail_data_uri(path: Path, size: int = THUMB) -> str:
    """A PNG data URI of the image at ``path`` fitted into ``size``×``size`` pixels.

    Small images (e.g. 28×28) are enlarged by a whole factor with nearest-neighbour so their
    pixels stay sharp; large ones are shrunk with Lanczos.

    Raises:
        ClassifykitError: the file cannot be opened or decoded (the message names it).
    """
    im = decode_image(path)
    factor = size // max(im.size)
    if factor >= 2:
        im = im.resize((im.width * factor, im.height * factor), Image.Resampling.NEAREST)
    else:
        im.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def wrong_items(predictions: list[dict[str, str]], task: str, *, root: Path | None = None,
                texts: dict[str, str] | None = None, n: int = 24) -> list[WrongItem]:
    """The ``n`` most confidently wrong test items with their thumbnail (images) or text.

    Args:
        predictions: rows of test_predictions.csv (``item,label,pred,prob,correct``).
        task: ``"image"`` or ``"text"``.
        root: image data root (see :func:`data_root`).
        texts: text runs: manifest ``row`` → text.

    An unreadable image or unknown row gives an item with ``problem`` set instead of failing.
    """
    out = []
    for row in confidently_wrong(predictions, n):
        item = row.get("item", "")
        fields = dict(item=item, label=row.get("label", ""), pred=row.get("pred", ""),
                      prob=_prob(row))
        if task == "text":
            text = (texts or {}).get(item)
            out.append(WrongItem(**fields, text=text, problem=None if text is not None else
                                 f"row {item} is not in manifest.csv"))
            continue
        if root is None:
            out.append(WrongItem(**fields, problem="config.json names no data folder"))
            continue
        try:
            out.append(WrongItem(**fields, image=thumbnail_data_uri(root / item)))
        except ClassifykitError as e:
            out.append(WrongItem(**fields, problem=f"cannot open {e}"))  # e starts with the path
    return out
