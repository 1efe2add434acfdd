"""What an exported model takes and returns: tensor names, dtypes and (symbolic) shapes per task.

The same names are used in the ONNX graph, in ``model.json``'s ``export`` entry and in the docs, so
a serving stack can feed an export without reading classifykit's code:

- image: ``images`` float32 ``batch×C×H×W`` (already resized and normalized with ``mean``/``std``
  from ``model.json``) -> ``logits`` float32 ``batch×K``.
- text: ``ids`` int64 ``batch×seq`` (vocabulary ids, padded with ``<pad>`` = 0) and ``lengths``
  int64 ``batch`` (true token count of each row, 1..seq) -> ``logits`` float32 ``batch×K``.
- encoder (a text run of a pretrained transformer, ``model.json`` has ``extra.encoder``): ``input_ids``
  int64 ``batch×seq`` (the run's own tokenizer, ``encoder/tokenizer.json``, padded with
  ``encoder.pad_id``) and ``attention_mask`` int64 ``batch×seq`` (1 = token, 0 = pad) -> ``logits``
  float32 ``batch×K``; the Hugging Face names, so a ``tokenizers`` encoding feeds it directly.
- ngram (a text run of the n-gram model, ``architecture`` ``ngram``): ``ids`` int64 ``batch×seq``
  (tf-idf feature columns of the run's ``ngram.json``, padded with 0) and ``weights`` float32
  ``batch×seq`` (their tf-idf values, 0 at pads) -> ``logits`` float32 ``batch×K``.

Functions take a *signature* name, ``"image"``, ``"text"``, ``"encoder"`` or ``"ngram"`` (:func:`signature_of`).
"""

from __future__ import annotations

from classifykit.models.meta import meta_extra

OUTPUT = "logits"


ENCODER_INPUTS = ["input_ids", "attention_mask"]
NGRAM_INPUTS = ["ids", "weights"]


def flat_meta(meta: dict) -> dict:
    """A ``model.json`` body with its ``extra`` fields (``encoder``, ``featurizer``) also at the top level,
    where export reads them (schema-1 files and exports wrote ``encoder`` there)."""
    return {**(meta.get("extra") or {}), **meta}


def signature_of(meta: dict) -> str:
    """The signature of a run's model: ``"ngram"`` for the n-gram model, ``"encoder"`` when ``model.json``
    has ``encoder`` (top level or in ``extra``), else its ``task``."""
    if meta.get("architecture") == "ngram":
        return "ngram"
    return "encoder" if flat_meta(meta).get("encoder") else meta["task"]


def input_names(task: str) -> list[str]:
    """Model input names in ``forward`` argument order for signature ``task`` (image, text, encoder or ngram)."""
    if task == "encoder":
        return list(ENCODER_INPUTS)
    if task == "ngram":
        return list(NGRAM_INPUTS)
    return ["images"] if task == "image" else ["ids", "lengths"]


def dynamic_axes(task: str) -> dict[str, dict[int, str]]:
    """ONNX ``dynamic_axes``: the batch axis everywhere, and the sequence axis of text ``ids`` / encoder inputs."""
    if task == "image":
        return {"images": {0: "batch"}, OUTPUT: {0: "batch"}}
    if task in ("encoder", "ngram"):
        return {**{name: {0: "batch", 1: "seq"} for name in input_names(task)}, OUTPUT: {0: "batch"}}
    return {"ids": {0: "batch", 1: "seq"}, "lengths": {0: "batch"}, OUTPUT: {0: "batch"}}


def describe(meta: dict) -> dict:
    """JSON-ready description of inputs and outputs for ``model.json``'s ``export`` entry."""
    k = meta["num_classes"]
    if meta["task"] == "image":
        size = meta.get("input_size")
        inputs = [{"name": "images", "dtype": "float32", "shape": ["batch", meta.get("in_chans") or 3, size, size]}]
    elif signature_of(meta) == "encoder":
        inputs = [{"name": name, "dtype": "int64", "shape": ["batch", "seq"]} for name in ENCODER_INPUTS]
    elif signature_of(meta) == "ngram":
        inputs = [{"name": "ids", "dtype": "int64", "shape": ["batch", "seq"]},
                  {"name": "weights", "dtype": "float32", "shape": ["batch", "seq"]}]
    else:
        inputs = [{"name": "ids", "dtype": "int64", "shape": ["batch", "seq"]},
                  {"name": "lengths", "dtype": "int64", "shape": ["batch"]}]
    return {"inputs": inputs, "outputs": [{"name": OUTPUT, "dtype": "float32", "shape": ["batch", k]}]}
