"""``model.json``: everything evaluate, predict, export and serve need besides the weights.

:class:`ModelMeta` is the one writer and the one reader of ``model.json`` (format in
docs/CONTRACTS.md). Schema 2 adds ``schema_version``, ``interpolation``, ``temperature`` and
``extra``; files written before (schema 1, no ``schema_version``) are read with the defaults those
runs were trained with: ``crop_pct`` 0.875 for an image run that does not record it, ``bilinear``
resizing, temperature 1 (no calibration).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifykit import runfolder as rf
from classifykit.errors import ClassifykitError
from classifykit.io import read_json, write_json

SCHEMA_VERSION = 2
TASKS = ("image", "text")
# Image runs saved before model.json recorded crop_pct were evaluated with ImageNet's 224/256 crop
# at every size (data.transforms.DEFAULT_CROP_PCT; not imported, so reading model.json needs no torch).
LEGACY_CROP_PCT = 0.875
DEFAULT_INTERPOLATION = "bilinear"
_REQUIRED = ("task", "architecture", "num_classes")


@dataclass
class ModelMeta:
    """The body of ``model.json``.

    Attributes:
        task: ``"image"`` or ``"text"`` (the task adapter that reads the inputs).
        architecture: registry name (``models.registry``), e.g. ``resnet18-small``, ``lstm``.
        model_kwargs: builder keyword arguments beyond ``num_classes``/``in_chans`` (text: vocab size,
            sizes, pooling).
        num_classes, classes: K and the class names in index order.
        in_chans, input_size, mean, std, crop_pct, interpolation: image preprocessing (None for text):
            channels (1 or 3), square input side in pixels, per-channel normalization on 0..1 pixels,
            share of the resized shorter side the evaluation centre crop keeps, resize interpolation.
        pretrained: the ``--pretrained`` weights (images) or ``--embeddings`` vectors (text), or None.
        vocab: the vocabulary file in the run folder (text), max_length: truncation in tokens (text).
        embeddings: pretrained-vector coverage of the vocabulary (text), or None.
        best_epoch, best_val_acc: the epoch (1-based) and val accuracy (0..1) of the saved weights;
            0 and None until the first validated epoch.
        temperature: logits are divided by it before the softmax (1.0: uncalibrated).
        extra: adapter-specific fields (a featurizer file, a tokenizer folder, ...), JSON values.
    """

    task: str
    architecture: str
    num_classes: int
    classes: list[str]
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    in_chans: int | None = None
    input_size: int | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    crop_pct: float | None = None
    interpolation: str | None = None
    pretrained: str | None = None
    vocab: str | None = None
    max_length: int | None = None
    embeddings: dict | None = None
    best_epoch: int = 0
    best_val_acc: float | None = None
    temperature: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The JSON body, ``schema_version`` first."""
        body = dataclasses.asdict(self)
        return {"schema_version": body.pop("schema_version"), **body}

    def save(self, run: str | Path) -> Path:
        """Write ``run/model.json`` atomically; returns its path."""
        path = Path(run) / rf.MODEL_META
        write_json(path, self.to_dict())
        return path

    @classmethod
    def from_dict(cls, body: dict[str, Any], where: str = rf.MODEL_META) -> ModelMeta:
        """Read a ``model.json`` body of schema 1 or 2 (``where`` names it in errors).

        Keys this version does not know (an export's ``exports`` entry, say) are ignored.

        Raises:
            ClassifykitError: a missing ``task``/``architecture``/``num_classes``, an unknown task, or
                a schema newer than this classifykit reads.
        """
        missing = [k for k in _REQUIRED if k not in body]
        if missing:
            raise ClassifykitError(f"{where}: missing {', '.join(missing)}; was it written by classifykit train?")
        if body["task"] not in TASKS:
            raise ClassifykitError(f"{where}: task {body['task']!r} is neither 'image' nor 'text'.")
        version = int(body.get("schema_version", 1))
        if version > SCHEMA_VERSION:
            raise ClassifykitError(f"{where}: schema_version {version} is newer than this classifykit reads "
                                   f"({SCHEMA_VERSION}); upgrade classifykit.")
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in body.items() if k in names}
        values["schema_version"] = SCHEMA_VERSION
        values.setdefault("classes", [str(i) for i in range(int(body["num_classes"]))])
        values["model_kwargs"] = values.get("model_kwargs") or {}
        values["extra"] = values.get("extra") or {}
        if values.get("temperature") is None:
            values["temperature"] = 1.0
        if body["task"] == "image":
            if values.get("crop_pct") is None:
                values["crop_pct"] = LEGACY_CROP_PCT
            values["interpolation"] = values.get("interpolation") or DEFAULT_INTERPOLATION
            values["in_chans"] = values.get("in_chans") or 3
        return cls(**values)

    @classmethod
    def load(cls, run: str | Path) -> ModelMeta:
        """Read ``run/model.json`` (any schema, see :meth:`from_dict`).

        Raises:
            ClassifykitError: no ``model.json`` (not a run folder, or training never started), or
                see :meth:`from_dict`.
        """
        path = Path(run) / rf.MODEL_META
        if not path.is_file():
            raise ClassifykitError(f"{path}: not found; give the folder of a classifykit run "
                                   f"(train writes {rf.MODEL_META} before the first epoch).")
        return cls.from_dict(read_json(path), str(path))


def meta_extra(meta: ModelMeta | dict[str, Any], key: str) -> Any:
    """``meta.extra[key]`` of a :class:`ModelMeta` or of a ``model.json`` body (dict; also a top-level
    ``key``, as early encoder runs wrote it), or None."""
    if isinstance(meta, ModelMeta):
        return meta.extra.get(key)
    return (meta.get("extra") or {}).get(key) or meta.get(key)


def record_best(run: str | Path, best_epoch: int, best_val_acc: float) -> None:
    """Set ``best_epoch``/``best_val_acc`` in ``run/model.json`` (training's callback when the
    weights in ``model.safetensors`` are replaced by better ones); nothing when there is no model.json."""
    path = Path(run) / rf.MODEL_META
    if path.is_file():
        meta = ModelMeta.load(run)
        meta.best_epoch, meta.best_val_acc = int(best_epoch), float(best_val_acc)
        meta.save(run)
