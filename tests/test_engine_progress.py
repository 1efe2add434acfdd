"""engine.progress and the AMP GradScaler / non-finite-weights paths of the trainer."""

import csv
import math

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from classifykit.engine.progress import EpochProgress, progress_mode, summary
from classifykit.engine.seed import seed_everything
from classifykit.engine.trainer import fit, layer_groups, train_one_epoch
from test_engine_trainer import Net, cfg, loaders


def test_progress_mode(monkeypatch):
    monkeypatch.setenv("CLASSIFYKIT_PROGRESS", "plain")
    assert progress_mode(is_main=False, quiet=False) == "off"
    assert progress_mode(is_main=True, quiet=True) == "quiet"
    assert progress_mode(is_main=True, quiet=False) == "plain"
    monkeypatch.setenv("CLASSIFYKIT_PROGRESS", "")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert progress_mode(is_main=True, quiet=False) == "bar"


def test_plain_lines_every_log_every_steps(capsys):
    p = EpochProgress("plain", epoch=2, epochs=5, steps=5, log_every=2)
    for step in range(1, 6):
        p.update(step, loss=0.5 * step, samples_per_s=100.0 * step)
    p.close()
    summary("plain", "done")
    assert capsys.readouterr().out.splitlines() == [
        "epoch 2/5 step 2/5 loss 1.0000 200 samples/s",
        "epoch 2/5 step 4/5 loss 2.0000 400 samples/s",
        "epoch 2/5 step 5/5 loss 2.5000 500 samples/s",
        "done",
    ]


@pytest.mark.parametrize("mode,lines", [("quiet", ["done"]), ("off", [])])
def test_quiet_and_off_print_no_steps(capsys, mode, lines):
    p = EpochProgress(mode, epoch=1, epochs=1, steps=3, log_every=1)
    for step in range(1, 4):
        p.update(step, loss=1.0, samples_per_s=1.0)
    p.close()
    summary(mode, "done")
    assert capsys.readouterr().out.splitlines() == lines


def test_fit_prints_only_summaries_when_quiet(tmp_path, capsys):
    seed_everything(0)
    fit(Net(), *loaders(), cfg(epochs=2, quiet=True, log_every=1), tmp_path)
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in out] == [["epoch", "1/2"], ["epoch", "2/2"], ["best", "val"]]


def test_grad_scaler_overflow_steps_are_skipped_not_fatal():
    """fp16-style overflow: a huge loss scale makes scaled gradients inf; the scaler skips and backs off."""
    seed_everything(0)
    net = Net()
    train, _ = loaders(n=288)  # 18 steps

    def big_loss(logits, targets):  # ~1e4: scaled by 2^120 it exceeds float32's max (~2^128)
        return 1e4 * nn.functional.cross_entropy(logits, targets)

    opt = torch.optim.SGD(net.parameters(), lr=1e-6)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**120, growth_interval=1000)
    rows = []
    stats = train_one_epoch(net, train, opt, None, big_loss, torch.device("cpu"), epoch=1, first_step=0,
                            groups=layer_groups(net), scaler=scaler, on_nonfinite="stop", step_rows=rows)
    skipped = [r[6] for r in rows]
    # each overflow halves the scale until scaled gradients fit: the skipped steps are a prefix
    k = stats.skipped
    assert k >= 1 and skipped == [1] * k + [0] * (len(rows) - k) and k < len(rows)
    assert scaler.get_scale() == 2.0 ** (120 - k)
    assert stats.n == 16 * (len(rows) - stats.skipped) and math.isfinite(stats.loss)
    assert all(torch.isfinite(p).all() for p in net.parameters())


class Canary(Net):
    """Writes NaN into a buffer (not used by forward) during epoch 2: outputs stay finite."""

    def __init__(self):
        super().__init__()
        self.register_buffer("canary", torch.zeros(1))

    def forward(self, x):
        out = super().forward(x)
        if self.training and self.calls == 7:
            self.canary.fill_(float("nan"))
        return out


def test_non_finite_weights_never_become_best(tmp_path):
    seed_everything(0)
    result = fit(Canary(), *loaders(), cfg(), tmp_path)
    with open(tmp_path / "metrics.csv", encoding="utf-8") as f:
        val_acc = [float(r["val_acc"]) for r in csv.DictReader(f)]
    assert val_acc[1] > val_acc[0] or val_acc[2] > val_acc[0]  # later epochs were better: only NaN stops them
    assert result.best_epoch == 1 and result.best_val_acc == val_acc[0]
    assert load_file(tmp_path / "model.safetensors")["canary"].tolist() == [0.0]
