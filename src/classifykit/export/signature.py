"""What an exported model takes and returns: tensor names, dtypes and (symbolic) shapes per task.

The same names are used in the ONNX graph, in ``model.json``'s ``export`` entry and in the docs, so
a serving stack can feed an export without reading classifykit's code:

- image: ``images`` float32 ``batch×C×H×W`` (already resized and normalized with ``mean``/``std``
  from ``model.json``) -> ``logits`` float32 ``batch×K``.
- text: ``ids`` int64 ``batch×seq`` (vocabulary ids, padded with ``<pad>`` = 0) and ``lengths``
  int64 ``batch`` (true token count of each row, 1..seq) -> ``logits`` float32 ``batch×K``.
"""

from __future__ import annotations

OUTPUT = "logits"


def input_names(task: str) -> list[str]:
    """Model input names in ``forward`` argument order for ``task`` (``"image"`` or ``"text"``)."""
    return ["images"] if task == "image" else ["ids", "lengths"]


def dynamic_axes(task: str) -> dict[str, dict[int, str]]:
    """ONNX ``dynamic_axes``: the batch axis everywhere, and the sequence axis of text ``ids``."""
    if task == "image":
        return {"images": {0: "batch"}, OUTPUT: {0: "batch"}}
    return {"ids": {0: "batch", 1: "seq"}, "lengths": {0: "batch"}, OUTPUT: {0: "batch"}}


def describe(meta: dict) -> dict:
    """JSON-ready description of inputs and outputs for ``model.json``'s ``export`` entry."""
    k = meta["num_classes"]
    if meta["task"] == "image":
        size = meta.get("input_size")
        inputs = [{"name": "images", "dtype": "float32", "shape": ["batch", meta.get("in_chans") or 3, size, size]}]
    else:
        inputs = [{"name": "ids", "dtype": "int64", "shape": ["batch", "seq"]},
                  {"name": "lengths", "dtype": "int64", "shape": ["batch"]}]
    return {"inputs": inputs, "outputs": [{"name": OUTPUT, "dtype": "float32", "shape": ["batch", k]}]}
