"""Synthetic run folders in the docs/CONTRACTS.md formats (used by every report test), and tests of
reading them back (report.rundata)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifykit.errors import ClassifykitError
from classifykit.io import write_csv, write_json
from classifykit.report.rundata import load_run

EVIL = "<script>alert(1)"  # a class name that would open a script element if it were not escaped
IMAGE_CLASSES = sorted(["cat", "dog", EVIL])  # ['<script>alert(1)', 'cat', 'dog']
PIXEL = {"cat": 40, "dog": 160, EVIL: 250}    # every image of a class is one flat grey value
SPIKE_STEP = 25                               # steps.csv: grad_norm 100× the others here
ACCURACY = 6 / 9


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _metrics(run: Path) -> None:
    header = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "grad_norm_mean", "grad_norm_max",
              "clipped_frac", "seconds", "samples_per_s"]
    rows = [[1, 1.05, 0.45, 0.98, 0.50, 1e-3, 1.1, 2.0, 0.1, 3.0, 100.0],
            [2, 0.80, 0.62, 0.85, 0.58, 8e-4, 1.0, 1.9, 0.1, 3.0, 101.0],
            [3, 0.60, 0.74, 0.70, 0.75, 5e-4, 0.9, 100.0, 0.1, 3.0, 99.0],
            [4, 0.50, 0.80, 0.72, 0.70, 1e-4, 0.8, 1.5, 0.0, 3.0, 100.0]]
    write_csv(run / "metrics.csv", header, rows)


def _steps(run: Path) -> None:
    rng = np.random.default_rng(0)
    header = ["step", "epoch", "loss", "lr", "grad_norm", "clipped", "skipped", "gn:stem", "gn:layer1", "gn:fc"]
    rows = []
    for step in range(1, 41):
        norm = 100.0 if step == SPIKE_STEP else float(0.8 * np.exp(0.1 * rng.standard_normal()))
        rows.append([step, (step - 1) // 10 + 1, 1.0 - step / 50, 1e-3 * (1 - step / 41), norm,
                     int(norm > 1.0), 0, norm * 0.3, norm * 0.5, norm * 0.8])
    write_csv(run / "steps.csv", header, rows)


def _common(run: Path, classes: list[str], config: dict, task: str, split: list[tuple[str, str, str]],
            test_items: list[tuple[str, str, str, float]]) -> None:
    write_json(run / "config.json", {"config": config, "versions": {"python": "3.11.2", "torch": "2.14.1",
                                                                   "classifykit": "0.1.0"}})
    write_json(run / "classes.json", classes)
    write_csv(run / "split.csv", ["item", "label", "split"], split)
    _metrics(run)
    _steps(run)
    write_json(run / "model.json", {"task": task, "architecture": config["model"], "model_kwargs": {},
                                    "num_classes": len(classes), "classes": classes, "in_chans": 1,
                                    "input_size": 8, "mean": [0.5], "std": [0.5], "pretrained": None,
                                    "vocab": None, "best_epoch": 3, "best_val_acc": 0.75})
    write_csv(run / "test_predictions.csv", ["item", "label", "pred", "prob", "correct"],
              [(item, label, pred, f"{prob:.6f}", int(label == pred)) for item, label, pred, prob in test_items])
    correct = sum(label == pred for _, label, pred, _ in test_items)
    n = len(test_items)
    lo, hi = wilson(correct, n)
    index = {c: i for i, c in enumerate(classes)}
    cm = np.zeros((len(classes), len(classes)), dtype=int)
    for _, label, pred, _ in test_items:
        cm[index[label], index[pred]] += 1
    write_csv(run / "confusion.csv", ["true\\pred", *classes], ([c, *row] for c, row in zip(classes, cm.tolist())))
    per_class = []
    for i, c in enumerate(classes):
        tp, support, predicted = cm[i, i], cm[i].sum(), cm[:, i].sum()
        p, r = tp / predicted if predicted else 0.0, tp / support if support else 0.0
        per_class.append({"class": c, "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
                          "support": int(support)})
    acc = correct / n
    write_json(run / "eval.json", {"split": "test", "n": n, "correct": int(correct), "accuracy": acc,
                                   "ci95": [lo, hi], "ci_method": "wilson", "top_k": {"1": acc, "5": 1.0},
                                   "macro_f1": float(np.mean([r["f1"] for r in per_class])), "per_class": per_class,
                                   "n_for_pm2": math.ceil(1.959963984540054 ** 2 * acc * (1 - acc) / 0.02 ** 2)})


def make_image_run(tmp: Path, evil: str = EVIL, skipped_file: str = "cat/broken<1>.png") -> Path:
    """An image run: 3 classes × 6 flat-grey 8×8 PNGs (2 train, 1 val, 3 test each); 9 test items, 3 wrong.

    ``evil`` replaces the class name :data:`EVIL` (its pixel value stays 250); ``skipped_file`` is the
    one row of skipped.csv."""
    root, run = tmp / "data", tmp / "runs" / "img-run"
    run.mkdir(parents=True)
    classes = sorted(["cat", "dog", evil])
    pixel = {**PIXEL, evil: PIXEL[EVIL]}
    manifest, split, test_items = [], [], []
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(6):
            rel = f"{c}/{i}.png"
            Image.new("L", (8, 8), pixel[c]).save(root / rel)
            manifest.append((rel, c, 8, 8, "L"))
            split.append((rel, c, "train" if i < 2 else "val" if i == 2 else "test"))
    tests = [r for r in split if r[2] == "test"]
    wrong = {tests[0][0]: ("dog", 0.97), tests[4][0]: (evil, 0.90), tests[8][0]: ("cat", 0.55)}
    for item, label, _ in tests:
        pred, prob = wrong.get(item, (label, 0.8))
        test_items.append((item, label, pred, prob))
    write_csv(run / "manifest.csv", ["path", "label", "width", "height", "mode"], manifest)
    write_csv(run / "skipped.csv", ["file", "reason"], [(skipped_file, "cannot decode: truncated file")])
    config = {"data": str(root), "model": "resnet18-small", "clip_grad_norm": 1.0, "lr": 0.001, "epochs": 4}
    _common(run, classes, config, "image", split, test_items)
    return run


TEXTS = ["A <b>bold</b> & moving film.", "Dull, flat and too long.", '<script>alert("x")</script> rotten',
         "Sharp writing; great cast.", "I walked out.", "Loved every minute."]


def make_text_run(tmp: Path) -> Path:
    """A text run: 12 rows (texts cycle through TEXTS), fresh/rotten, 6 test rows of which 2 wrong."""
    run = tmp / "runs" / "text-run"
    run.mkdir(parents=True)
    classes = ["fresh", "rotten"]
    rows = [(i, TEXTS[i % len(TEXTS)], classes[i % 2]) for i in range(12)]
    write_csv(run / "manifest.csv", ["row", "text", "label"], rows)
    write_csv(run / "skipped.csv", ["file", "reason"], [])
    split = [(str(i), label, "train" if i < 6 else "test") for i, _, label in rows]
    wrong = {"6": 0.91, "8": 0.66}  # row 8's text is the <script> one
    test_items = [(item, label, ("rotten" if label == "fresh" else "fresh") if item in wrong else label,
                   wrong.get(item, 0.7)) for item, label, s in split if s == "test"]
    config = {"data": "rt.csv", "model": None, "rnn": "lstm", "clip_grad_norm": None, "lr": 0.002}
    _common(run, classes, {**config, "model": "lstm"}, "text", split, test_items)
    return run


def test_load_run_reads_every_file(tmp_path):
    run = load_run(make_image_run(tmp_path))
    assert run.task == "image"
    assert run.classes == IMAGE_CLASSES
    assert run.clip_grad_norm == 1.0
    assert run.metrics["val_acc"].tolist() == [0.50, 0.58, 0.75, 0.70]
    assert run.steps["grad_norm"][SPIKE_STEP - 1] == 100.0
    assert run.group_norm_columns == ["gn:stem", "gn:layer1", "gn:fc"]
    assert run.eval["n"] == 9 and run.eval["correct"] == 6
    labels, counts = run.confusion
    assert labels == IMAGE_CLASSES and counts.sum() == 9 and np.trace(counts) == 6
    assert len(run.predictions) == 9 and len(run.manifest) == 18 and run.skipped[0]["file"] == "cat/broken<1>.png"


def test_absent_files_are_none(tmp_path):
    run_dir = make_text_run(tmp_path)
    for name in ("eval.json", "confusion.csv", "test_predictions.csv", "steps.csv", "model.json"):
        (run_dir / name).unlink()
    run = load_run(run_dir)
    assert (run.eval, run.confusion, run.predictions, run.steps, run.model) == (None, None, None, None, None)
    assert run.task == "text"  # from the manifest's columns when model.json is gone
    assert run.skipped == []


def test_not_a_run_folder(tmp_path):
    with pytest.raises(ClassifykitError, match="no such folder"):
        load_run(tmp_path / "nope")
    with pytest.raises(ClassifykitError, match="is this a classifykit run folder"):
        load_run(tmp_path)


def test_damaged_metrics_names_row_and_column(tmp_path):
    run_dir = make_image_run(tmp_path)
    text = (run_dir / "metrics.csv").read_text().replace("0.58", "oops")
    (run_dir / "metrics.csv").write_text(text)
    with pytest.raises(ClassifykitError, match=r"metrics.csv, row 3, column 'val_acc': 'oops' is not a number"):
        load_run(run_dir)


def test_damaged_json_names_file(tmp_path):
    run_dir = make_image_run(tmp_path)
    (run_dir / "eval.json").write_text("{")
    with pytest.raises(ClassifykitError, match="eval.json: not valid JSON"):
        load_run(run_dir)


def test_true_false_and_empty_cells(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "steps.csv").write_text("step,grad_norm,clipped\n1,0.5,True\n2,,False\n3,nan,1\n")
    steps = load_run(run_dir).steps
    assert steps["clipped"].tolist() == [1.0, 0.0, 1.0]
    assert steps["grad_norm"][0] == 0.5 and np.isnan(steps["grad_norm"][1:]).all()


def _config(run: Path, **values) -> None:
    path = run / "config.json"
    saved = json.loads(path.read_text())
    saved["config"].update(values)
    write_json(path, saved)


def test_interrupted_at_reads_the_configured_epochs(tmp_path):
    run_dir = make_image_run(tmp_path)  # config epochs 4, 4 rows in metrics.csv
    assert load_run(run_dir).interrupted_at is None
    _config(run_dir, epochs=30, patience=5)
    assert load_run(run_dir).interrupted_at == (4, 30)
    _config(run_dir, patience=1)  # val acc fell in epoch 4: patience 1 stopped it early
    assert load_run(run_dir).interrupted_at is None
    _config(run_dir, patience=0)
    assert load_run(run_dir).interrupted_at == (4, 30)
    eval_json = json.loads((run_dir / "eval.json").read_text())
    write_json(run_dir / "eval.json", {**eval_json, "training_complete": True})
    assert load_run(run_dir).interrupted_at is None
