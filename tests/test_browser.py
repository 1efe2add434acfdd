"""report.html rendered by a real browser: headless Chromium with networking off.

Chromium is installed by `make test` (Debian package `chromium`).
"""

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from classifykit.report import SCREENSHOT, write_report
from classifykit.report.browser import dump_dom, page_height
from test_report_runfolder import make_image_run, make_text_run

pytestmark = pytest.mark.integration


def test_every_image_loads_and_key_numbers_show(tmp_path):
    run = make_image_run(tmp_path)
    path = write_report(run)
    n_images = path.read_text(encoding="utf-8").count("<img ")
    dom = dump_dom(path)
    assert n_images == 9  # 6 figures + 3 gallery thumbnails
    assert f'data-images-loaded="{n_images}/{n_images}"' in dom
    assert re.search(r'id="test-accuracy">66\.7%<', dom)
    assert "95% CI 35.4%–87.9% · n = 9" in dom
    assert "<script>alert" not in dom  # the class name stayed text


def test_a_broken_image_is_detected(tmp_path):
    """The check itself can fail: a PNG that does not decode is counted as not loaded."""
    run = make_text_run(tmp_path)
    path = write_report(run)
    html = path.read_text(encoding="utf-8")
    broken = re.sub(r'src="data:image/png;base64,[^"]{40}', 'src="data:image/png;base64,AAAA', html, count=1)
    path.write_text(broken, encoding="utf-8")
    n = html.count("<img ")
    assert f'data-images-loaded="{n - 1}/{n}"' in dump_dom(path)


def test_screenshot(tmp_path):
    run = make_text_run(tmp_path)
    write_report(run, screenshot=True)
    shot = Image.open(run / SCREENSHOT).convert("RGB")
    assert shot.size == (1280, page_height(run / "report.html"))
    assert tuple(np.asarray(shot)[20, 20]) == (17, 24, 39)  # the dark header (#111827) was painted


def test_long_report_screenshot_covers_the_last_section(tmp_path):
    """Issue 14: a fixed 1280×4000 capture cut off the Data and Configuration sections of long reports."""
    run = make_text_run(tmp_path)
    ev = json.loads((run / "eval.json").read_text())
    ev["findings"] = [{"severity": "info", "title": f"Finding {i}", "detail": "x " * 200, "fix": "y"} for i in range(60)]
    (run / "eval.json").write_text(json.dumps(ev))
    path = write_report(run, screenshot=True)
    height = page_height(path)
    shot = np.asarray(Image.open(run / SCREENSHOT).convert("RGB")).astype(int)
    assert height > 6000 and shot.shape[:2] == (height, 1280)
    background = np.array([246, 247, 249])  # body background (#f6f7f9) around the sections and the footer
    ink = (np.abs(shot - background).sum(axis=2) > 60).any(axis=1)  # rows with text or card borders
    last_ink = int(np.flatnonzero(ink)[-1])
    # the footer line (after the Configuration section) is painted, 30 px of padding above the page end
    assert height - 60 < last_ink < height - 20


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """A real run folder: 600 Fashion-MNIST test-set photos as PNG files, an MLP trained by
    engine.trainer.fit, evaluated with tasks.common.write_evaluation (the image task's own writer)."""
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from classifykit.config import ImageConfig, build_config
    from classifykit.data.fashion_mnist import CLASSES, load_split
    from classifykit.engine.loop import predict_logits
    from classifykit.engine.trainer import fit
    from classifykit.io import write_csv, write_json
    from classifykit.tasks.common import save_config, write_classes, write_evaluation

    tmp = tmp_path_factory.mktemp("real")
    root, run = tmp / "fmnist", tmp / "runs" / "fmnist-mlp"
    run.mkdir(parents=True)
    images, labels = load_split("test")
    images, labels = images[:600], labels[:600]
    paths = [f"{CLASSES[y]}/test_{i:05d}.png" for i, y in enumerate(labels)]
    for path, image in zip(paths, images):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, "L").save(root / path)
    classes = sorted(CLASSES)
    index = {c: i for i, c in enumerate(classes)}
    targets = torch.tensor([index[CLASSES[y]] for y in labels])
    splits = ["train"] * 400 + ["val"] * 100 + ["test"] * 100
    cfg = build_config(ImageConfig, data=str(root), epochs=3, batch_size=50, lr=3e-3, device="cpu", amp=False,
                       num_workers=0, quiet=True, patience=0, clip_grad_norm=5.0)
    cfg.model = "mlp"  # the test's own MLP, not a registry architecture (which --model would refuse)
    save_config(run, cfg)
    write_classes(run, classes)
    write_csv(run / "manifest.csv", ["path", "label", "width", "height", "mode"],
              [(p, CLASSES[y], 28, 28, "L") for p, y in zip(paths, labels)])
    write_csv(run / "skipped.csv", ["file", "reason"], [])
    write_csv(run / "split.csv", ["item", "label", "split"], [(p, CLASSES[y], s) for p, y, s in zip(paths, labels, splits)])
    write_json(run / "model.json", {"task": "image", "architecture": "mlp", "model_kwargs": {}, "num_classes": 10,
                                    "classes": classes, "in_chans": 1, "input_size": 28, "mean": [0.0], "std": [1.0],
                                    "pretrained": None, "vocab": None, "best_epoch": 0, "best_val_acc": 0.0})
    x = torch.tensor(images, dtype=torch.float32).reshape(600, -1) / 255.0
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    part = {s: [i for i, t in enumerate(splits) if t == s] for s in ("train", "val", "test")}
    loader = {s: DataLoader(TensorDataset(x[part[s]], targets[part[s]]), batch_size=50, shuffle=s == "train")
              for s in part}
    fit(model, loader["train"], loader["val"], cfg, run)
    logits, y = predict_logits(model, loader["test"], torch.device("cpu"))
    write_evaluation(run, [paths[i] for i in part["test"]], y, logits, classes)
    return run


def test_real_run_renders_completely(real_run):
    ev = json.loads((real_run / "eval.json").read_text())
    wrong = ev["n"] - ev["correct"]
    path = write_report(real_run, screenshot=True)
    dom = dump_dom(path)
    n_images = 6 + min(24, wrong)  # figures + thumbnails of real photos
    assert f'data-images-loaded="{n_images}/{n_images}"' in dom
    assert f'id="test-accuracy">{100 * ev["accuracy"]:.1f}%<' in dom
    lo, hi = ev["ci95"]
    assert f"95% CI {100 * lo:.1f}%–{100 * hi:.1f}% · n = 100" in dom
    assert Image.open(real_run / SCREENSHOT).size == (1280, page_height(path))
