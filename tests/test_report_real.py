"""The gradient diagnoses on real training: engine.trainer.fit on 512 real Fashion-MNIST images.

A 10-layer sigmoid MLP is the textbook vanishing-gradient case; a 3-layer ReLU MLP at a sane
learning rate is healthy; the same MLP with SGD at lr 3 (momentum 0.9) explodes.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from classifykit.config import TrainConfig, config_to_dict
from classifykit.data.fashion_mnist import load_split
from classifykit.engine.trainer import fit
from classifykit.io import write_json
from classifykit.report import write_report
from classifykit.report.diagnose import diagnose_run
from classifykit.report.rundata import load_run

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fmnist():
    images, labels = load_split("train")
    x = torch.tensor(images[:512], dtype=torch.float32).reshape(512, -1) / 255.0
    return x, torch.tensor(labels[:512], dtype=torch.int64)


def _train(run_dir, model, data, **kw):
    x, y = data
    cfg = TrainConfig(epochs=2, batch_size=64, optimizer="sgd", schedule="constant", device="cpu", amp=False,
                      num_workers=0, quiet=True, patience=0, **kw)
    run_dir.mkdir()
    write_json(run_dir / "config.json", config_to_dict(cfg))
    train = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
    fit(model, train, DataLoader(TensorDataset(x[:128], y[:128]), batch_size=128), cfg, run_dir)
    return run_dir


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def _titles(run_dir):
    run = load_run(run_dir)
    return [f.title for f in diagnose_run(run.steps, run.metrics, run.clip_grad_norm) if f.level == "warning"]


def test_deep_sigmoid_mlp_is_diagnosed_as_vanishing(tmp_path, fmnist):
    torch.manual_seed(0)
    layers = [m for i in range(10) for m in (nn.Linear(784 if i == 0 else 64, 64), nn.Sigmoid())]
    run_dir = _train(tmp_path / "vanish", nn.Sequential(*layers, nn.Linear(64, 10)), fmnist, lr=0.1)
    html = write_report(run_dir).read_text(encoding="utf-8")
    assert re.findall(r'<div class="finding warning"><b>([^<]*)</b>', html) == ["Vanishing gradients"]
    # groups are the Sequential indices: Linear layers 0, 2, ..., 18 and the head 20
    message = re.search(r"<b>Vanishing gradients</b>([^<]*)", html).group(1)
    assert "relative to the last group (20, " in message and " 0 at " in message


def test_relu_mlp_is_healthy(tmp_path, fmnist):
    assert _titles(_train(tmp_path / "healthy", _mlp(), fmnist, lr=0.05)) == []


def test_too_high_lr_is_diagnosed_as_exploding(tmp_path, fmnist):
    titles = _titles(_train(tmp_path / "explode", _mlp(), fmnist, lr=3.0, on_nonfinite="skip"))
    assert titles[0] == "Exploding gradients"
