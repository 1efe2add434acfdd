"""The one pipeline: old (schema 1) run folders still evaluate, predict and export; every predict input
row gets an output row; temperature; --threads; options refused before any run folder is made."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from classifykit import runfolder as rf
from classifykit.cli.app import app
from classifykit.config import ImageConfig, TextConfig, build_config
from classifykit.engine.checkpoint import save_weights
from classifykit.errors import ClassifykitError
from classifykit.export import export_model
from classifykit.io import read_csv_rows, read_json, write_csv
from classifykit.models.meta import SCHEMA_VERSION, ModelMeta
from classifykit.models.registry import create_model
from classifykit.tasks.common import save_config, write_classes
from classifykit.tasks.pipeline import evaluate, predict
from classifykit.text.vocab import Vocab

CLASSES = ["dark", "light"]
WORDS = ["good", "great", "bad", "awful", "film"]


def _images(folder, n=4):
    """``folder/<class>/<i>.png``: 40×36 grey images, dark or light (a size other than the input size)."""
    for c, value in zip(CLASSES, (40, 210)):
        (folder / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((36, 40), value + i, dtype=np.uint8), mode="L").save(folder / c / f"{i}.png")
    return folder


def old_image_run(tmp_path):
    """An image run folder as classifykit wrote it before model.json v2: no schema_version, no crop_pct
    (so 0.875), ``best_val_acc`` null."""
    data = _images(tmp_path / "photos")
    run = tmp_path / "old-image"
    run.mkdir()
    save_config(run, ImageConfig(data=str(data), model="smallcnn"))
    paths = [f"{c}/{i}.png" for c in CLASSES for i in range(4)]
    write_csv(run / rf.MANIFEST, ["path", "label"], [[p, p.split("/")[0]] for p in paths])
    write_csv(run / rf.SPLIT, ["item", "label", "split"],
              [[p, p.split("/")[0], "test" if p.endswith(("2.png", "3.png")) else "train"] for p in paths])
    write_classes(run, CLASSES)
    torch.manual_seed(0)
    save_weights(create_model("smallcnn", 2, in_chans=1), run / rf.WEIGHTS)
    (run / rf.MODEL_META).write_text(json.dumps({
        "task": "image", "architecture": "smallcnn", "model_kwargs": {}, "num_classes": 2, "classes": CLASSES,
        "in_chans": 1, "input_size": 28, "mean": [0.5], "std": [0.25], "pretrained": None, "vocab": None,
        "best_epoch": 1, "best_val_acc": None}))
    return run, data


def old_text_run(tmp_path):
    """A text run folder as written before model.json v2 (``best_val_acc`` 0.0, no schema_version)."""
    run = tmp_path / "old-text"
    run.mkdir()
    table = tmp_path / "reviews.csv"
    rows = [[f"{w} film", "pos" if w in ("good", "great") else "neg"] for w in WORDS[:4]] * 2
    write_csv(table, ["text", "label"], rows)
    save_config(run, TextConfig(data=str(table)))
    write_csv(run / rf.MANIFEST, ["row", "text", "label"], [[i, t, lab] for i, (t, lab) in enumerate(rows)])
    write_csv(run / rf.SPLIT, ["item", "label", "split"],
              [[i, lab, "test" if i >= 4 else "train"] for i, (_, lab) in enumerate(rows)])
    write_classes(run, ["neg", "pos"])
    Vocab(["<pad>", "<unk>", *WORDS]).save(run / rf.VOCAB)
    kwargs = {"vocab_size": 2 + len(WORDS), "embed_dim": 8, "hidden_size": 8, "num_layers": 1,
              "bidirectional": True, "dropout": 0.0, "pooling": "last"}
    torch.manual_seed(0)
    save_weights(create_model("lstm", 2, **kwargs), run / rf.WEIGHTS)
    (run / rf.MODEL_META).write_text(json.dumps({
        "task": "text", "architecture": "lstm", "model_kwargs": kwargs, "num_classes": 2, "classes": ["neg", "pos"],
        "in_chans": None, "input_size": None, "mean": None, "std": None, "pretrained": None, "vocab": rf.VOCAB,
        "max_length": 16, "embeddings": None, "best_epoch": 0, "best_val_acc": 0.0}))
    return run, table


def test_schema_1_image_run_loads_evaluates_predicts_and_exports(tmp_path):
    run, data = old_image_run(tmp_path)
    meta = ModelMeta.load(run)
    assert (meta.schema_version, meta.crop_pct, meta.interpolation, meta.temperature, meta.extra) == (
        SCHEMA_VERSION, 0.875, "bilinear", 1.0, {})
    report, out = evaluate(run, device="cpu")
    assert out == run and report["n"] == 4 and report["split"] == "test"
    assert report["training_complete"] is None  # no checkpoint, no metrics.csv: the folder does not say
    report, out = evaluate(run, str(data), device="cpu")
    assert out == run / "eval-photos" and report["n"] == 8
    assert read_csv_rows(out / rf.SKIPPED) == []  # --data writes its skipped.csv for images too
    n, failures = predict(run, [str(data / "dark")], [], tmp_path / "p.csv", device="cpu")
    assert n == 4 and failures == []
    assert [r["path"] for r in read_csv_rows(tmp_path / "p.csv")] == [str(data / "dark" / f"{i}.png") for i in range(4)]
    result = export_model(run, "onnx")
    assert "test" in result.inputs  # real test-split images, preprocessed with crop_pct 0.875
    assert read_json(result.path.parent / rf.MODEL_META)["schema_version"] == SCHEMA_VERSION


def test_schema_1_text_run_loads_evaluates_predicts_and_exports(tmp_path):
    run, table = old_text_run(tmp_path)
    assert ModelMeta.load(run).best_val_acc == 0.0 and ModelMeta.load(run).crop_pct is None
    report, _ = evaluate(run, device="cpu")
    assert report["n"] == 4
    report, out = evaluate(run, str(table), device="cpu")
    assert out == run / "eval-reviews" and report["n"] == 8 and (out / rf.SKIPPED).is_file()
    n, failures = predict(run, [], ["good film", "awful"], tmp_path / "p.csv", device="cpu")
    assert n == 2 and failures == []
    assert list(read_csv_rows(tmp_path / "p.csv")[0]) == ["input", "text", "label", "probability", "top_k", "error"]
    export_model(run, "torchscript")


def test_every_table_row_gets_a_prediction_row(tmp_path):
    # issue 15 defect 1: a one-column table whose row is a quoted empty string lost that row silently
    run, _ = old_text_run(tmp_path)
    table = tmp_path / "in.csv"
    table.write_text('text\n""\ngood film\n\nawful film\n', encoding="utf-8")
    n, failures = predict(run, [str(table)], [], tmp_path / "p.csv", device="cpu")
    rows = read_csv_rows(tmp_path / "p.csv")
    assert [r["input"] for r in rows] == [f"{table}:2", f"{table}:3", f"{table}:5"]
    assert rows[0]["label"] == "" and rows[0]["error"].startswith("empty text")
    assert all(r["label"] in ("neg", "pos") for r in rows[1:])
    assert n == 2 and failures == [(f"{table}:2", rows[0]["error"])]


def test_temperature_divides_the_logits(tmp_path):
    run, _ = old_text_run(tmp_path)
    predict(run, [], ["good film", "awful film"], tmp_path / "t1.csv", device="cpu")
    meta = ModelMeta.load(run)
    meta.temperature = 4.0
    meta.save(run)
    predict(run, [], ["good film", "awful film"], tmp_path / "t4.csv", device="cpu")
    p1 = [float(r["probability"]) for r in read_csv_rows(tmp_path / "t1.csv")]
    p4 = [float(r["probability"]) for r in read_csv_rows(tmp_path / "t4.csv")]
    # two classes: p = sigmoid(d / T), so logit(p4) = logit(p1) / 4
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    assert np.allclose(logit(np.array(p4)), logit(np.array(p1)) / 4, atol=1e-3)


def test_evaluate_and_predict_take_threads(tmp_path):
    run, _ = old_text_run(tmp_path)
    before = torch.get_num_threads()
    try:
        result = CliRunner().invoke(app, ["evaluate", str(run), "--threads", "1", "--device", "cpu"])
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1
        result = CliRunner().invoke(app, ["predict", str(run), "--text", "good film", "--threads", "2",
                                          "--device", "cpu", "--out", str(tmp_path / "p.csv")])
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_model_meta_round_trip_and_refuses_a_newer_schema(tmp_path):
    meta = ModelMeta(task="text", architecture="lstm", num_classes=2, classes=["a", "b"], extra={"featurizer": "ngram.json"})
    meta.save(tmp_path)
    body = read_json(tmp_path / rf.MODEL_META)
    assert list(body)[0] == "schema_version" and body["best_val_acc"] is None and body["temperature"] == 1.0
    assert ModelMeta.load(tmp_path) == meta
    (tmp_path / rf.MODEL_META).write_text(json.dumps({**body, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(ClassifykitError, match="newer than this classifykit reads"):
        ModelMeta.load(tmp_path)


@pytest.mark.parametrize(("option", "message"), [
    (["--model", "resnet18_small"], "--model 'resnet18_small': no such architecture. Did you mean 'resnet18-small'?"),
    (["--model", "lstm"], "--model lstm: must be auto or an image architecture (resnet18-small, "),
    (["--pretrained", "weights/missing.pth"], "--pretrained weights/missing.pth: must be an existing weights file"),
    (["--freeze", "backbone", "--fine-tune", "2"], "--freeze backbone and --fine-tune N both given"),
])
def test_bad_image_options_are_refused_before_any_run_folder(tmp_path, option, message):
    # issue 15 defect 11: a bad --model or a missing --pretrained file was refused only after the scan
    data = _images(tmp_path / "photos")
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["train", "images", str(data), "--runs-dir", str(runs), *option])
    assert isinstance(result.exception, ClassifykitError)
    assert str(result.exception).startswith(message)
    assert not runs.exists()  # no run folder, no scan cache


def test_rule_lists_match_the_libraries():
    from classifykit.config import RNN_CELLS, RNN_POOLINGS
    from classifykit.models import rnn

    assert set(RNN_CELLS) == set(rnn.CELLS) and RNN_POOLINGS == rnn.POOLINGS
    with pytest.raises(ClassifykitError, match="--rnn 'transformer': use one of lstm, gru."):
        build_config(TextConfig, rnn="transformer")


def test_text_runs_seed_with_deterministic_and_start_best_val_acc_as_images(tmp_path, monkeypatch):
    # text runs used to seed without --deterministic, and wrote best_val_acc 0.0 where images wrote null
    from test_text_task import _cfg

    import classifykit.tasks.pipeline as pipeline

    calls, saved = [], []
    real_seed, real_save = pipeline.seed_everything, ModelMeta.save
    monkeypatch.setattr(pipeline, "seed_everything", lambda seed, det=False: calls.append((seed, det)) or real_seed(seed, det))
    monkeypatch.setattr(ModelMeta, "save", lambda self, run: saved.append(self.best_val_acc) or real_save(self, run))
    try:
        run = pipeline.train(_cfg(tmp_path, epochs=1, deterministic=True, seed=7))
    finally:
        torch.use_deterministic_algorithms(False)
    assert calls == [(7, True), (7, True)]  # at the start, and before the model's initial weights
    assert saved[0] is None and ModelMeta.load(run).best_epoch == 1
