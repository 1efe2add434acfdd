"""Exports carry the run's temperature inside the graph: softmax(output) = predict's probabilities."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from classifykit.export import export_model
from classifykit.export.to_onnx import OnnxRunner
from classifykit.export.to_torchscript import TorchScriptRunner
from classifykit.io import read_json, write_json
from classifykit.models import create_model
from test_export import make_run, padded, text_run


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_image_export_divides_the_logits_by_the_temperature(tmp_path, fmt):
    run = make_run(tmp_path / "run", "smallcnn")
    meta = read_json(run / "model.json")
    write_json(run / "model.json", {**meta, "temperature": 2.5})
    images = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    result = export_model(run, fmt, inputs=(images,))
    model = create_model("smallcnn", 3, in_chans=1)
    model.load_state_dict(load_file(str(run / "model.safetensors")))
    runner = OnnxRunner(result.path, "image") if fmt == "onnx" else TorchScriptRunner(result.path)
    with torch.no_grad():
        raw = model.eval()(images)
        out = runner(images)
    assert (out - raw / 2.5).abs().max().item() < 1e-4
    assert (out - raw).abs().max().item() > 1e-3  # the division really happened
    sidecar = read_json(result.path.parent / "model.json")
    assert sidecar["exports"][fmt]["temperature"] == 2.5


def test_text_onnx_export_divides_the_logits_by_the_temperature(tmp_path):
    run = text_run(tmp_path)
    meta = read_json(run / "model.json")
    write_json(run / "model.json", {**meta, "temperature": 0.5})
    ids, lengths = padded([5, 3, 2])
    result = export_model(run, "onnx", inputs=(ids, lengths))
    model = create_model("lstm", 3, **meta["model_kwargs"])
    model.load_state_dict(load_file(str(run / "model.safetensors")))
    with torch.no_grad():
        raw = model.eval()(ids, lengths)
    assert (OnnxRunner(result.path, "text")(ids, lengths) - raw / 0.5).abs().max().item() < 1e-4
