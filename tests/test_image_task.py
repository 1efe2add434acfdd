"""The image task end to end on small generated folders: run files, test figures, evaluate, predict."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from classifykit.cli.app import app
from classifykit.config import ImageConfig, build_config
from classifykit.errors import ClassifykitError
from classifykit.io import read_csv_rows
from classifykit.tasks.pipeline import evaluate as evaluate_run, predict as predict_run
from classifykit.tasks.pipeline import train as train_images

CLASSES = ["bright", "dark", "stripes"]


def _image(kind: str, rng: np.random.Generator) -> Image.Image:
    noise = rng.integers(0, 40, (20, 20))
    if kind == "bright":
        a = 200 + noise
    elif kind == "dark":
        a = 10 + noise
    else:
        a = np.where(np.arange(20)[None, :] % 4 < 2, 220, 20) + noise
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(0)
    for c in CLASSES:
        (root / c).mkdir()
        for i in range(40):
            _image(c, rng).save(root / c / f"{c}_{i:02d}.png")
    (root / "dark" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    (root / ".DS_Store").write_bytes(b"junk")
    return root


@pytest.fixture(scope="module")
def run(folder, tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    cfg = build_config(ImageConfig, data=str(folder), runs_dir=str(runs), name="shapes", model="smallcnn",
                       epochs=4, batch_size=16, lr=3e-3, augment="none", num_workers=0, quiet=True, device="cpu")
    return train_images(cfg)


def test_run_folder_has_every_stage_file(run):
    for name in ("config.json", "manifest.csv", "skipped.csv", "split.csv", "classes.json", "metrics.csv",
                 "steps.csv", "checkpoints/last.pt", "model.safetensors", "model.json", "eval.json",
                 "confusion.csv", "test_predictions.csv", "report.html"):
        assert (run / name).is_file(), name
    assert json.loads((run / "classes.json").read_text()) == CLASSES
    skipped = list(csv.DictReader(open(run / "skipped.csv", encoding="utf-8")))
    assert [r["file"] for r in skipped] == ["dark/broken.png"]
    splits = [r["split"] for r in csv.DictReader(open(run / "split.csv", encoding="utf-8"))]
    # 120 images: 25% test, 15% val, stratified per class (10 + 6 + 24 of each 40).
    assert (splits.count("train"), splits.count("val"), splits.count("test")) == (72, 18, 30)
    meta = json.loads((run / "model.json").read_text())
    assert meta["in_chans"] == 1 and meta["input_size"] == 28 and meta["classes"] == CLASSES
    assert len(meta["mean"]) == 1 and 0 < meta["mean"][0] < 1


def test_test_figures_are_consistent(run):
    report = json.loads((run / "eval.json").read_text())
    assert report["n"] == 30
    assert report["accuracy"] >= 0.9  # three trivially separable classes
    lo, hi = report["ci95"]
    assert lo < report["accuracy"] <= hi
    rows = list(csv.DictReader(open(run / "test_predictions.csv", encoding="utf-8")))
    assert len(rows) == 30
    assert sum(int(r["correct"]) for r in rows) == report["correct"]
    cm = list(csv.reader(open(run / "confusion.csv", encoding="utf-8")))
    assert cm[0] == ["true\\pred", *CLASSES]
    assert sum(int(v) for row in cm[1:] for v in row[1:]) == 30


def test_evaluate_reuses_the_saved_split(run):
    before = json.loads((run / "eval.json").read_text())
    report, out = evaluate_run(run, device="cpu")
    assert out == run
    assert report["n"] == before["n"] and report["correct"] == before["correct"]


def test_evaluate_other_data_maps_labels_by_name(run, folder, tmp_path):
    other = tmp_path / "other"
    (other / "stripes").mkdir(parents=True)
    rng = np.random.default_rng(5)
    for i in range(6):
        _image("stripes", rng).save(other / "stripes" / f"s{i}.png")
    report, out = evaluate_run(run, str(other), device="cpu")
    assert report["n"] == 6 and report["split"] == "data:other"
    assert json.loads((out / "eval.json").read_text())["split"] == "data:other"
    assert out == run / "eval-other"
    (other / "circles").mkdir()
    _image("dark", rng).save(other / "circles" / "c.png")
    with pytest.raises(ClassifykitError, match="'circles' are not among the model's classes"):
        evaluate_run(run, str(other), device="cpu")


def test_predict_names_classes_and_reports_unreadable_files(run, tmp_path):
    rng = np.random.default_rng(9)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for c in CLASSES:
        _image(c, rng).convert("RGB").save(inputs / f"{c}.jpg")  # colour JPEG into a grey model
    (inputs / "notes.jpg").write_text("<html>not an image</html>")
    out = tmp_path / "pred.csv"
    n, failures = predict_run(run, [str(inputs)], [], out, top_k=2, device="cpu")
    assert n == 3
    assert [Path(p).name for p, _ in failures] == ["notes.jpg"]
    rows = {Path(r["path"]).stem: r for r in csv.DictReader(open(out, encoding="utf-8"))}
    assert [rows[c]["label"] for c in CLASSES] == CLASSES
    assert rows["notes"]["label"] == "" and "notes.jpg" in rows["notes"]["error"]
    top = rows["bright"]["top_k"].split(";")
    assert len(top) == 2 and top[0].startswith("bright:")


def test_cli_train_refuses_to_overwrite_a_named_run(run, folder):
    result = CliRunner().invoke(app, ["train", "images", str(folder), "--runs-dir", str(run.parent), "--name", run.name,
                                      "--epochs", "1"])
    assert result.exit_code != 0
    assert "already holds a run" in str(result.exception)


def test_config_file_gives_defaults_and_flags_override(tmp_path, folder):
    from classifykit.cli.options import config_command

    seen = {}
    cmd = config_command(ImageConfig, lambda cfg: seen.update(cfg=cfg))
    import typer

    probe = typer.Typer()
    probe.command()(cmd)
    conf = tmp_path / "c.yaml"
    conf.write_text("epochs: 7\nlr: 0.01\naugment: strong\n")
    result = CliRunner().invoke(probe, [str(folder), "--config", str(conf), "--lr", "0.5", "--no-cache"])
    assert result.exit_code == 0, result.output
    cfg = seen["cfg"]
    assert (cfg.epochs, cfg.lr, cfg.augment, cfg.cache) == (7, 0.5, "strong", False)
    conf.write_text("epoch: 7\n")
    result = CliRunner().invoke(probe, [str(folder), "--config", str(conf)])
    assert isinstance(result.exception, ClassifykitError) and "Unknown config file key 'epoch'" in str(result.exception)


def test_same_seed_gives_the_same_model(folder, tmp_path):
    from safetensors.torch import load_file

    weights = []
    for name in ("a", "b"):
        cfg = build_config(ImageConfig, data=str(folder), runs_dir=str(tmp_path), name=name, model="smallcnn",
                           epochs=1, batch_size=16, augment="light", num_workers=0, quiet=True, device="cpu",
                           deterministic=True)
        weights.append(load_file(str(train_images(cfg) / "model.safetensors")))
    assert weights[0].keys() == weights[1].keys()
    assert all(weights[0][k].equal(weights[1][k]) for k in weights[0])


def test_a_failed_start_leaves_no_run_folder(tmp_path):
    one_class = tmp_path / "one" / "cats"
    one_class.mkdir(parents=True)
    Image.new("L", (8, 8)).save(one_class / "a.png")
    cfg = build_config(ImageConfig, data=str(tmp_path / "one"), runs_dir=str(tmp_path / "runs"), name="r", quiet=True)
    with pytest.raises(ClassifykitError, match="a classifier needs at least 2"):
        train_images(cfg)
    assert not (tmp_path / "runs" / "r").exists()


def test_damaged_run_files_are_named(run, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    (broken / "model.json").write_text('{"task": "ima')
    with pytest.raises(ClassifykitError, match=r"model.json: damaged"):
        evaluate_run(broken, device="cpu")


def test_default_input_size_follows_images_and_model():
    from classifykit.data.manifest import ManifestItem
    from classifykit.tasks.image import ImageData, default_input_size

    def data(side):
        items = [ManifestItem(f"{i}.png", "a", side, side + 10, "L") for i in range(3)]
        return ImageData(root=Path("."), items=items, splits=["train"] * 3, classes=["a"])

    assert default_input_size(data(28), "smallcnn") == 28
    assert default_input_size(data(28), "resnet18-small") == 64  # a 28 px input would vanish in its strides
    assert default_input_size(data(150), "resnet18-small") == 150
    assert default_input_size(data(900), "smallcnn") == 224


def test_a_class_too_small_to_split_is_said_not_raised_as_a_python_warning(tmp_path, capsys):
    import warnings

    from classifykit.tasks.image import prepare_data

    rng = np.random.default_rng(0)
    for c, n in (("bright", 8), ("dark", 8), ("stripes", 2)):
        (tmp_path / "d" / c).mkdir(parents=True)
        for i in range(n):
            _image(c, rng).save(tmp_path / "d" / c / f"{i}.png")
    (tmp_path / "run").mkdir()
    cfg = build_config(ImageConfig, data=str(tmp_path / "d"), runs_dir=str(tmp_path / "runs"), name="r", quiet=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escapes the task fails the test
        prepare_data(cfg, tmp_path / "run")
    assert "warning: 1 class(es) have fewer than 3 items, too few for one in each split, and go to train only " \
           "(val/test will not measure them): 'stripes' (2). Add items to these classes or remove them.\n" \
           in capsys.readouterr().err  # a data warning: on stderr, also under --quiet


def test_a_class_too_small_for_val_in_preset_split_folders_is_said(tmp_path, capsys):
    import warnings

    from classifykit.tasks.image import prepare_data

    rng = np.random.default_rng(0)
    for split, counts in (("train", (("bright", 8), ("dark", 8), ("stripes", 1))), ("test", (("bright", 2), ("dark", 2), ("stripes", 2)))):
        for c, n in counts:
            (tmp_path / "d" / split / c).mkdir(parents=True)
            for i in range(n):
                _image(c, rng).save(tmp_path / "d" / split / c / f"{i}.png")
    (tmp_path / "run").mkdir()
    cfg = build_config(ImageConfig, data=str(tmp_path / "d"), runs_dir=str(tmp_path / "runs"), name="r", quiet=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prepare_data(cfg, tmp_path / "run")
    captured = capsys.readouterr()
    assert "warning: " in captured.err and "'stripes' (1)" in captured.err
    assert "Using the split given by the data's train/val/test folders." in captured.out


@pytest.mark.parametrize("saved_before_crop_pct", [False, True])
def test_an_interrupted_image_run_resumes_to_the_end(folder, tmp_path, monkeypatch, saved_before_crop_pct):
    from classifykit.engine import trainer

    cfg = build_config(ImageConfig, data=str(folder), runs_dir=str(tmp_path), name="cut", model="smallcnn",
                       epochs=3, batch_size=16, lr=3e-3, augment="none", num_workers=0, quiet=True, device="cpu")
    real = trainer._set_sampler_epoch

    def stop_before_epoch_2(loader, epoch):
        if epoch == 1:
            raise KeyboardInterrupt  # Ctrl-C after epoch 1 was saved
        real(loader, epoch)

    monkeypatch.setattr(trainer, "_set_sampler_epoch", stop_before_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train_images(cfg)
    run = tmp_path / "cut"
    assert len(read_csv_rows(run / "metrics.csv")) == 1
    meta = json.loads((run / "model.json").read_text())
    assert meta["crop_pct"] == 1.0  # 20 px images train at 28 px, evaluated whole
    if saved_before_crop_pct:  # a run saved before model.json recorded crop_pct resumes with 0.875
        del meta["crop_pct"]
        (run / "model.json").write_text(json.dumps(meta))
    monkeypatch.setattr(trainer, "_set_sampler_epoch", real)
    assert train_images(cfg, resume=str(run)) == run
    assert [r["epoch"] for r in read_csv_rows(run / "metrics.csv")] == ["1", "2", "3"]
    # model.json is rewritten by its one writer after training (the calibrated temperature), which records the
    # 0.875 such a run was evaluated with
    assert json.loads((run / "model.json").read_text()).get("crop_pct") == (0.875 if saved_before_crop_pct else 1.0)
    assert (run / "eval.json").is_file()


def test_predict_encoding_is_refused_for_an_image_run(run, folder, tmp_path):
    with pytest.raises(ClassifykitError, match="--encoding: .* is an image run"):
        predict_run(run, [str(folder / "dark")], [], tmp_path / "p.csv", encoding="latin-1")
    assert not (tmp_path / "p.csv").exists()
