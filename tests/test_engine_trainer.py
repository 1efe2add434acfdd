"""engine.trainer.fit and engine.loop on a small synthetic problem: files, early stopping, clipping,
freezing, class weights, non-finite losses, and the evaluation/inference loops."""

import csv
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from classifykit.config import TrainConfig
from classifykit.engine.checkpoint import load_checkpoint, load_weights
from classifykit.engine.loop import evaluate, model_inputs, predict_logits
from classifykit.engine.sampling import SeededRandomSampler
from classifykit.engine.seed import seed_everything, seed_worker
from classifykit.engine.trainer import balanced_class_weights, fit
from classifykit.errors import ClassifykitError


class Blobs(Dataset):
    """3 classes of 1×4×4 images around fixed means; ``__getitem__`` adds torch and NumPy noise
    (an "augmentation" whose randomness must be seeded in DataLoader workers)."""

    def __init__(self, n=96, seed=0):
        means = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
        g = torch.Generator().manual_seed(seed)
        self.y = torch.arange(n) % 3
        self.x = means[self.y] + 0.8 * torch.randn(n, 1, 4, 4, generator=g)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        x = self.x[i] + 0.1 * torch.randn(1, 4, 4) + 0.1 * float(np.random.randn())
        return x, self.y[i]


class Net(nn.Module):
    """Layer groups ``stem.0`` (conv), ``stem.1`` (BatchNorm), ``head`` (two top-level modules are too
    coarse, so ``layer_groups`` descends into ``stem``); dropout draws from the global torch RNG."""

    def __init__(self, poison_at=None):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU())
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(6 * 16, 3)
        self.poison_at, self.calls = poison_at, 0

    def forward(self, x):
        if self.training:
            self.calls += 1
        out = self.head(self.drop(self.stem(x).flatten(1)))
        return out * float("nan") if self.calls == self.poison_at and self.training else out


class Crash(Exception):
    pass


class CrashingSampler(SeededRandomSampler):
    """Raises at ``set_epoch(crash_at)``: the run dies after ``crash_at`` complete epochs."""

    def __init__(self, n, seed, crash_at=None):
        super().__init__(n, seed)
        self.crash_at = crash_at

    def set_epoch(self, epoch):
        if epoch == self.crash_at:
            raise Crash(epoch)
        super().set_epoch(epoch)


def loaders(workers=0, crash_at=None, n=96, batch_size=16):
    train = DataLoader(Blobs(n), batch_size=batch_size, sampler=CrashingSampler(n, 0, crash_at), num_workers=workers,
                       worker_init_fn=seed_worker)
    val = DataLoader(Blobs(48, seed=1), batch_size=32)
    return train, val


def cfg(**kw):
    base = dict(epochs=3, lr=0.02, patience=0, quiet=True, weight_decay=0.01)
    return TrainConfig(**{**base, **kw})


def csv_rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_fit_writes_run_files(tmp_path):
    bests = []  # on_best(epoch, val_acc) each time model.safetensors is replaced
    seed_everything(0)
    result = fit(Net(), *loaders(), cfg(), tmp_path, on_best=lambda epoch, acc: bests.append((epoch, acc)))
    metrics = csv_rows(tmp_path / "metrics.csv")
    assert list(metrics[0]) == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "grad_norm_mean",
                                "grad_norm_max", "clipped_frac", "seconds", "samples_per_s", "skipped",
                                "val_macro_f1", "val_balanced_acc", "bad_epochs"]
    assert [int(r["epoch"]) for r in metrics] == [1, 2, 3]
    val_acc = [float(r["val_acc"]) for r in metrics]
    assert result.best_epoch == int(np.argmax(val_acc)) + 1 and result.best_val_acc == max(val_acc)
    assert result.epochs_run == 3 and not result.stopped_early
    assert max(val_acc) > 0.9  # the blobs are separable: training must actually learn
    assert all(float(r["samples_per_s"]) > 0 and r["skipped"] == "0" for r in metrics)
    steps = csv_rows(tmp_path / "steps.csv")
    assert list(steps[0]) == ["step", "epoch", "loss", "lr", "grad_norm", "clipped", "skipped", "gn:stem.0", "gn:stem.1", "gn:head"]
    assert [int(r["step"]) for r in steps] == list(range(1, 19)) and {r["clipped"] for r in steps} == {"0"}
    for r in steps:  # the global norm is the L2 norm of the per-group norms
        assert float(r["grad_norm"]) == pytest.approx(math.hypot(float(r["gn:stem.0"]), float(r["gn:stem.1"]), float(r["gn:head"])), rel=1e-5)
    # metrics' grad-norm summary is computed from the same per-step values
    epoch1 = [float(r["grad_norm"]) for r in steps if r["epoch"] == "1"]
    assert float(metrics[0]["grad_norm_mean"]) == pytest.approx(np.mean(epoch1))
    assert float(metrics[0]["grad_norm_max"]) == max(epoch1)
    assert bests[-1] == (result.best_epoch, result.best_val_acc)
    assert [e for e, _ in bests] == sorted({e for e, _ in bests})  # only strictly better epochs
    best = Net()
    load_weights(best, tmp_path / "model.safetensors")
    _, val = loaders()
    assert evaluate(best, val, torch.device("cpu"), nn.CrossEntropyLoss())["acc"] == result.best_val_acc
    saved = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert saved["epoch"] == 3 and saved["step"] == 18 and saved["best_epoch"] == result.best_epoch
    assert not list(tmp_path.rglob("*.tmp"))


def test_early_stopping_keeps_first_best(tmp_path):
    seed_everything(0)
    result = fit(Net(), *loaders(), cfg(epochs=6, lr=0.0, schedule="constant", patience=2), tmp_path)
    assert (result.best_epoch, result.epochs_run, result.stopped_early) == (1, 3, True)
    assert len(csv_rows(tmp_path / "metrics.csv")) == 3


def test_clipping_records_pre_clip_norm(tmp_path):
    seed_everything(0)
    fit(Net(), *loaders(), cfg(epochs=1, clip_grad_norm=1e-3), tmp_path)
    steps = csv_rows(tmp_path / "steps.csv")
    assert {r["clipped"] for r in steps} == {"1"} and min(float(r["grad_norm"]) for r in steps) > 1e-3
    assert float(csv_rows(tmp_path / "metrics.csv")[0]["clipped_frac"]) == 1.0


def test_frozen_epochs_freeze_params_and_batchnorm_stats(tmp_path):
    seed_everything(0)
    net = Net()
    before = {k: v.clone() for k, v in net.stem.state_dict().items()}
    head_before = net.head.weight.detach().clone()
    groups = [{"name": "stem", "params": list(net.stem.parameters()), "frozen_epochs": 1},
              {"name": "head", "params": list(net.head.parameters())}]
    train, val = loaders(crash_at=1)
    with pytest.raises(Crash):
        fit(net, train, val, cfg(), tmp_path, param_groups=groups)
    after_1 = load_checkpoint(tmp_path / "checkpoints" / "last.pt")["model"]
    for k, v in before.items():  # weights and BatchNorm running stats untouched in the frozen epoch
        assert torch.equal(after_1["stem." + k], v), k
    assert not torch.equal(after_1["head.weight"], head_before)
    train, val = loaders()
    fit(net, train, val, cfg(epochs=2), tmp_path / "b", param_groups=groups)
    steps = csv_rows(tmp_path / "b" / "steps.csv")
    assert {r["gn:stem.0"] for r in steps if r["epoch"] == "1"} == {""}
    assert {r["gn:stem.1"] for r in steps if r["epoch"] == "1"} == {""}
    assert all(float(r["gn:stem.0"]) > 0 and float(r["gn:stem.1"]) > 0 for r in steps if r["epoch"] == "2")
    assert not torch.equal(net.stem[1].running_mean, before["1.running_mean"])


def test_class_weights_balanced():
    w = balanced_class_weights([0, 0, 0, 1], 2)
    assert w.dtype == torch.float32 and w.tolist() == pytest.approx([4 / (2 * 3), 4 / (2 * 1)])
    with pytest.raises(ClassifykitError, match=r"class index\(es\) \[2\] have no training items"):
        balanced_class_weights([0, 1, 1], 3)


def test_fit_with_class_weights_and_label_smoothing(tmp_path):
    seed_everything(0)
    result = fit(Net(), *loaders(), cfg(label_smoothing=0.1), tmp_path, class_weights=torch.tensor([1.0, 2.0, 0.5]))
    assert result.best_val_acc > 0.8


def test_nonfinite_loss_stops_and_keeps_best(tmp_path):
    seed_everything(0)
    net = Net(poison_at=9)  # 6 steps per epoch: step 9 is the 3rd step of epoch 2
    with pytest.raises(ClassifykitError) as err:
        fit(net, *loaders(), cfg(), tmp_path)
    message = str(err.value)
    assert "non-finite loss at epoch 2, step 9" in message
    assert "the best model so far (epoch 1, val acc" in message and "--on-nonfinite skip" in message
    steps = csv_rows(tmp_path / "steps.csv")
    assert len(steps) == 9 and steps[-1]["loss"] == "nan" and steps[-1]["skipped"] == "1"
    epoch1 = load_checkpoint(tmp_path / "checkpoints" / "last.pt")["model"]
    best = load_file(tmp_path / "model.safetensors")
    assert all(torch.equal(best[k], epoch1[k]) for k in epoch1)


def test_nonfinite_loss_skip(tmp_path):
    seed_everything(0)
    net = Net(poison_at=9)
    result = fit(net, *loaders(), cfg(on_nonfinite="skip"), tmp_path)
    steps = csv_rows(tmp_path / "steps.csv")
    assert [r["step"] for r in steps if r["skipped"] == "1"] == ["9"] and steps[8]["loss"] == "nan"
    assert [r["skipped"] for r in csv_rows(tmp_path / "metrics.csv")] == ["0", "1", "0"]
    assert all(math.isfinite(float(r["train_loss"])) for r in csv_rows(tmp_path / "metrics.csv"))
    assert all(torch.isfinite(p).all() for p in net.parameters()) and result.best_val_acc > 0.8


def test_resume_errors(tmp_path):
    with pytest.raises(ClassifykitError, match="no checkpoint to resume from"):
        fit(Net(), *loaders(), cfg(), tmp_path, resume=True)
    fit(Net(), *loaders(), cfg(epochs=2), tmp_path)
    with pytest.raises(ClassifykitError, match=r"written by a run of 6 steps per epoch; this one has 3"):
        fit(Net(), *loaders(batch_size=32), cfg(epochs=2), tmp_path, resume=True)
    with pytest.raises(ClassifykitError, match=r"2 epochs already ran, more than --epochs 1. Give --epochs 3 or more"):
        fit(Net(), *loaders(), cfg(epochs=1), tmp_path, resume=True)
    with pytest.raises(ClassifykitError, match="--on-nonfinite 'ignore': use one of stop, skip"):
        fit(Net(), *loaders(), cfg(on_nonfinite="ignore"), tmp_path)


class PooledText(nn.Module):
    """A text-shaped model: ``forward(ids B×T, lengths B)``, mean of embeddings over the true length."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 2)
        with torch.no_grad():
            self.emb.weight.copy_(torch.arange(20.0).reshape(10, 2))

    def forward(self, ids, lengths):
        assert lengths.device.type == "cpu"
        mask = torch.arange(ids.shape[1])[None, :] < lengths[:, None]
        return (self.emb(ids) * mask[..., None]).sum(1) / lengths[:, None]


def test_model_inputs_moves_only_the_first_input():
    ids, lengths = torch.zeros(2, 3, dtype=torch.long), torch.tensor([3, 1])
    first, second = model_inputs((ids, lengths), torch.device("meta"))
    assert first.device.type == "meta" and second is lengths
    (img,) = model_inputs(torch.zeros(2, 3, 4, 4), torch.device("cpu"), channels_last=True)
    assert img.is_contiguous(memory_format=torch.channels_last)


def test_predict_logits_and_evaluate_on_tuple_inputs():
    ids = torch.tensor([[1, 2, 0], [3, 0, 0], [4, 5, 6]])
    lengths = torch.tensor([2, 1, 3])
    targets = torch.tensor([1, 0, 0])
    data = [((ids[i:i + 2], lengths[i:i + 2]), targets[i:i + 2]) for i in (0, 2)]
    logits, y = predict_logits(PooledText(), data, torch.device("cpu"))
    # embedding row r = (2r, 2r+1): means over tokens (1,2) -> (3,4); (3) -> (6,7); (4,5,6) -> (10,11)
    assert logits.dtype == torch.float32 and logits.tolist() == [[3.0, 4.0], [6.0, 7.0], [10.0, 11.0]]
    assert y.tolist() == [1, 0, 0]
    out = evaluate(PooledText(), data, torch.device("cpu"), nn.CrossEntropyLoss())
    expected_loss = nn.functional.cross_entropy(torch.tensor([[3.0, 4.0], [6.0, 7.0], [10.0, 11.0]]), targets).item()
    assert out["n"] == 3 and out["acc"] == pytest.approx(1 / 3) and out["loss"] == pytest.approx(expected_loss)


def test_evaluate_rejects_empty_loader():
    empty = DataLoader(TensorDataset(torch.zeros(0, 1, 4, 4), torch.zeros(0, dtype=torch.long)), batch_size=4)
    with pytest.raises(ClassifykitError, match="validation data is empty"):
        evaluate(Net(), empty, torch.device("cpu"), nn.CrossEntropyLoss())


def test_train_mode_policy_replaces_the_batchnorm_rule(tmp_path):
    # A caller's policy (here: BatchNorm always in eval mode, as --freeze-bn-stats does while fine-tuning)
    # runs after every model.train(): the running statistics never move although nothing is frozen.
    seed_everything(0)
    net = Net()
    before = net.stem[1].running_mean.clone()
    conv_before = net.stem[0].weight.detach().clone()
    seen = []

    def bn_eval(model):
        seen.append(model is net)
        model.stem[1].eval()

    train, val = loaders()
    fit(net, train, val, cfg(), tmp_path, train_mode=bn_eval)
    assert seen and all(seen)
    assert torch.equal(net.stem[1].running_mean, before)
    assert not torch.equal(net.stem[0].weight.detach().cpu(), conv_before)  # it did train


class DtypeNet(Net):
    """Records the dtype of the stem's output in training and in evaluation forwards."""

    def __init__(self):
        super().__init__()
        self.seen = {True: set(), False: set()}

    def forward(self, x):
        feats = self.stem(x)
        self.seen[self.training].add(feats.dtype)
        return self.head(self.drop(feats.flatten(1)))


@pytest.mark.parametrize("native", [True, False])
def test_cpu_bf16_autocasts_training_steps_only(tmp_path, monkeypatch, capsys, native):
    from classifykit.engine import device as device_mod
    from classifykit.engine import trainer as trainer_mod

    monkeypatch.setattr(device_mod, "native_cpu_bf16", lambda: native)
    monkeypatch.setattr(trainer_mod, "native_cpu_bf16", lambda: native)
    seed_everything(0)
    net = DtypeNet()
    result = fit(net, *loaders(), cfg(cpu_bf16=True, quiet=False), tmp_path)
    assert net.seen[True] == ({torch.bfloat16} if native else {torch.float32})
    assert net.seen[False] == {torch.float32}  # validation runs in float32
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert result.best_val_acc > 0.9
    assert ("--cpu-bf16 ignored" in capsys.readouterr().out) is not native


def test_metrics_lr_is_the_lr_of_the_epochs_last_step(tmp_path):
    seed_everything(0)
    fit(Net(), *loaders(), cfg(epochs=3), tmp_path)
    steps = csv_rows(tmp_path / "steps.csv")
    for row in csv_rows(tmp_path / "metrics.csv"):
        last = [s for s in steps if s["epoch"] == row["epoch"]][-1]
        assert float(row["lr"]) == float(last["lr"])
    # one-cycle: the last step of the run uses a tiny but non-zero LR, not the one after it
    assert 0 < float(csv_rows(tmp_path / "metrics.csv")[-1]["lr"]) < 1e-5


class CtrlCSampler(SeededRandomSampler):
    """Raises KeyboardInterrupt as epoch ``at`` (0-based) starts drawing batches, as Ctrl-C would."""

    def __init__(self, n, seed, at):
        super().__init__(n, seed)
        self.at, self.epoch_now = at, 0

    def set_epoch(self, epoch):
        self.epoch_now = epoch
        super().set_epoch(epoch)

    def __iter__(self):
        if self.epoch_now == self.at:
            raise KeyboardInterrupt
        return super().__iter__()


@pytest.mark.parametrize("at", [0, 2])
def test_ctrl_c_says_what_is_saved_and_how_to_resume(tmp_path, capsys, at):
    train = DataLoader(Blobs(96), batch_size=16, sampler=CtrlCSampler(96, 0, at))
    _, val = loaders()
    seed_everything(0)
    with pytest.raises(KeyboardInterrupt):
        fit(Net(), train, val, cfg(epochs=4, quiet=False), tmp_path)
    out = capsys.readouterr().out
    if at == 0:
        assert "Interrupted during epoch 1 of 4: no epoch finished, so there is nothing to resume." in out
    else:
        assert (f"Interrupted during epoch 3 of 4: epochs 1-2 are saved in {tmp_path / 'checkpoints' / 'last.pt'}; "
                f"continue with --resume {tmp_path}.") in out
        assert load_checkpoint(tmp_path / "checkpoints" / "last.pt")["epoch"] == 2
