"""fit's model selection and stopping: patience waits for a decaying schedule's anneal, "stopped early"
only when it did, --select-metric, bounded skips under --on-nonfinite skip, extending a finished run,
the fused group norms, and MFU in the epoch line."""

import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from sklearn.metrics import balanced_accuracy_score
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from classifykit.engine.checkpoint import load_checkpoint
from classifykit.engine.loop import evaluate
from classifykit.engine.metrics import classification_report
from classifykit.engine.mfu import throughput_text
from classifykit.engine.seed import seed_everything
from classifykit.engine.steps import GroupNorms
from classifykit.engine.stopping import patience_counts
from classifykit.engine.trainer import fit, layer_groups
from classifykit.errors import ClassifykitError
from classifykit.report.rundata import read_numeric_csv, replay_early_stopping
from test_engine_trainer import Blobs, Net, cfg, csv_rows, loaders


@pytest.fixture(autouse=True)
def _restore_determinism():
    yield
    torch.use_deterministic_algorithms(False)


def test_patience_counts_only_in_the_last_30_percent_of_a_segment():
    assert [e for e in range(1, 21) if patience_counts("onecycle", e, 0, 20)] == list(range(15, 21))
    assert [e for e in range(1, 11) if patience_counts("cosine", e, 0, 10)] == [8, 9, 10]
    assert [e for e in range(11, 31) if patience_counts("onecycle", e, 10, 30)] == list(range(25, 31))
    assert all(patience_counts("constant", e, 0, 5) for e in range(1, 6))


def fixed_val():
    """The val blobs drawn once (Blobs adds fresh noise on every read)."""
    seed_everything(0)
    blobs = Blobs(48, seed=1)
    return DataLoader(TensorDataset(torch.stack([blobs[i][0] for i in range(48)]), blobs.y), batch_size=32)


def steady(n=48):
    """Train loader and a val loader whose score cannot change when nothing trains."""
    return loaders(n=n)[0], fixed_val()


def frozen(model):
    """No BatchNorm statistics or dropout in training: with lr 0 every epoch's val score is the same."""
    model.eval()


def test_onecycle_is_not_stopped_before_its_anneal(tmp_path, capsys):
    # lr 0: val accuracy never improves after epoch 1. Before the fix patience 5 stopped at epoch 6.
    seed_everything(0)
    result = fit(Net(), *steady(), cfg(epochs=20, lr=0.0, patience=5, quiet=False), tmp_path, train_mode=frozen)
    assert (result.best_epoch, result.epochs_run, result.stopped_early) == (1, 19, True)
    bad = [int(r["bad_epochs"]) for r in csv_rows(tmp_path / "metrics.csv")]
    assert bad == [0] * 14 + [1, 2, 3, 4, 5]
    # the report replays fit's decision from metrics.csv (its bad_epochs column)
    metrics = read_numeric_csv(tmp_path / "metrics.csv")
    assert replay_early_stopping(metrics["val_acc"].tolist(), 5, metrics["bad_epochs"].tolist()) == (1, True)
    assert replay_early_stopping(metrics["val_acc"].tolist()[:14], 5, bad[:14]) == (1, False)
    assert "stopped early: no better val accuracy for 5 counted epochs (stopped at epoch 19 of 20)" in capsys.readouterr().out


def test_stopped_early_is_said_only_when_epochs_were_left(tmp_path, capsys):
    # Issue 15 defect 16: patience reached on the last epoch printed "stopped early" though every epoch ran.
    seed_everything(0)
    result = fit(Net(), *steady(), cfg(epochs=3, lr=0.0, schedule="constant", patience=2, quiet=False), tmp_path,
                 train_mode=frozen)
    assert (result.epochs_run, result.stopped_early) == (3, False)
    assert "stopped early" not in capsys.readouterr().out
    result = fit(Net(), *steady(), cfg(epochs=4, lr=0.0, schedule="constant", patience=2, quiet=False), tmp_path / "b",
                 train_mode=frozen)
    assert (result.epochs_run, result.stopped_early) == (3, True)
    assert "stopped early: no better val accuracy for 2 counted epochs (stopped at epoch 3 of 4)" in capsys.readouterr().out


class NeverClass2(Net):
    """Net whose logit for class 2 is pushed far down: class 2 is never predicted (val recall 0)."""

    def forward(self, x):
        out = super().forward(x)
        return out - torch.tensor([0.0, 0.0, 1e4])


def test_evaluate_scores_match_scikit_learn():
    val = fixed_val()
    seed_everything(0)
    model = NeverClass2().eval()
    out = evaluate(model, val, torch.device("cpu"), nn.CrossEntropyLoss())
    with torch.no_grad():
        logits = torch.cat([model(x) for x, _ in val])
    y = torch.cat([t for _, t in val])
    report = classification_report(y, logits, ["a", "b", "c"])
    assert out["acc"] == pytest.approx(report["accuracy"]) and out["macro_f1"] == pytest.approx(report["macro_f1"])
    assert out["balanced_acc"] == pytest.approx(balanced_accuracy_score(y.numpy(), logits.argmax(1).numpy()))
    assert out["recall"][2] == 0.0 and out["support"] == [16, 16, 16]


@pytest.mark.parametrize("metric,column", [("macro_f1", "val_macro_f1"), ("balanced_accuracy", "val_balanced_acc")])
def test_select_metric_picks_the_best_epoch_and_names_recall_0_classes(tmp_path, capsys, metric, column):
    seed_everything(0)
    result = fit(NeverClass2(), *loaders(), cfg(epochs=3, select_metric=metric, quiet=False), tmp_path,
                 class_names=["T-shirt", "Coat", "Shirt"])
    rows = csv_rows(tmp_path / "metrics.csv")
    scores = [float(r[column]) for r in rows]
    assert result.best_epoch == int(np.argmax(scores)) + 1 and result.best_score == pytest.approx(max(scores))
    assert result.best_val_acc == float(rows[result.best_epoch - 1]["val_acc"])
    assert all(s < 0.7 for s in scores)  # class 2 is never right: F1 / recall of 1/3 of the classes is 0
    out = capsys.readouterr().out
    assert out.count("val recall 0: Shirt") == 3


def test_skip_stops_after_consecutive_skips_and_keeps_the_best(tmp_path):
    # Issue 15 defect 4: once the loss is NaN for good, every later step is skipped. 6 steps per epoch:
    # the bound is min(50, 6) = 6 skipped steps in a row.
    seed_everything(0)

    class Poisoned(Net):
        def forward(self, x):
            out = super().forward(x)
            return out * float("nan") if self.training and self.calls >= 9 else out

    with pytest.raises(ClassifykitError) as err:
        fit(Poisoned(), *loaders(), cfg(epochs=5, on_nonfinite="skip"), tmp_path)
    message = str(err.value)
    assert "6 steps in a row were skipped" in message and "from epoch 2, step 9 to epoch 3, step 14" in message
    assert f"is kept in {tmp_path / 'model.safetensors'}" in message and (tmp_path / "model.safetensors").is_file()
    assert [r["step"] for r in csv_rows(tmp_path / "steps.csv")][-1] == "14"
    best = load_file(tmp_path / "model.safetensors")
    assert all(torch.isfinite(t).all() for t in best.values())


def test_skip_from_the_first_step_names_no_missing_weights(tmp_path):
    seed_everything(0)
    with pytest.raises(ClassifykitError) as err:
        fit(Net(poison_at=None), *loaders(), cfg(epochs=2, on_nonfinite="skip", lr=float("inf")), tmp_path)
    message = str(err.value)
    assert "steps in a row were skipped" in message and "no model was saved yet" in message
    assert "model.safetensors" not in message and not (tmp_path / "model.safetensors").exists()


@pytest.mark.parametrize("log_every", [1, 4])
def test_stop_is_found_at_the_next_flush_and_names_the_first_bad_step(tmp_path, log_every):
    seed_everything(0)
    with pytest.raises(ClassifykitError, match="non-finite loss at epoch 2, step 9"):
        fit(Net(poison_at=9), *loaders(), cfg(log_every=log_every), tmp_path)
    steps = csv_rows(tmp_path / "steps.csv")
    assert len(steps) == 9 and steps[-1]["skipped"] == "1"


def extend(run_dir, first, then, crash_at=None, schedule="onecycle"):
    """Train ``first`` epochs, then resume with --epochs ``then`` (a fresh model object each time)."""
    seed_everything(0)
    fit(Net(), *loaders(), cfg(epochs=first, deterministic=True, schedule=schedule), run_dir)
    seed_everything(1)
    return fit(Net(), *loaders(crash_at=crash_at), cfg(epochs=then, deterministic=True, schedule=schedule, quiet=False),
               run_dir, resume=True)


def test_extending_a_finished_run_starts_a_new_cycle_deterministically(tmp_path, capsys):
    result = extend(tmp_path / "a", 2, 4)
    assert result.epochs_run == 4
    out = capsys.readouterr().out
    assert "extending 2 → 4 epochs: a new one-cycle cycle over epochs 3–4 at peak lr 2.00e-02" in out
    steps = csv_rows(tmp_path / "a" / "steps.csv")
    assert [int(s["step"]) for s in steps] == list(range(1, 25))
    lr = [float(s["lr"]) for s in steps]
    assert lr[12] == pytest.approx(0.02 / 25) and max(lr[12:]) == pytest.approx(0.02, rel=0.05) and lr[-1] < 1e-5
    assert len(csv_rows(tmp_path / "a" / "metrics.csv")) == 4
    assert load_checkpoint(tmp_path / "a" / "checkpoints" / "last.pt")["segment_start"] == 2
    extend(tmp_path / "b", 2, 4)
    assert csv_rows(tmp_path / "a" / "steps.csv") == csv_rows(tmp_path / "b" / "steps.csv")
    wa, wb = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_an_extended_run_resumes_exactly(tmp_path):
    from test_engine_trainer import Crash

    extend(tmp_path / "full", 2, 4)
    with pytest.raises(Crash):
        extend(tmp_path / "cut", 2, 4, crash_at=3)  # dies after epoch 3 of the extension
    seed_everything(5)
    fit(Net(), *loaders(), cfg(epochs=4, deterministic=True), tmp_path / "cut", resume=True)
    assert csv_rows(tmp_path / "full" / "steps.csv") == csv_rows(tmp_path / "cut" / "steps.csv")


def test_extending_a_constant_schedule_keeps_the_lr(tmp_path, capsys):
    extend(tmp_path, 1, 2, schedule="constant")
    assert {s["lr"] for s in csv_rows(tmp_path / "steps.csv")} == {"0.02"}
    assert "extending 1 → 2 epochs: the constant lr 2.00e-02 continues over epochs 2–2" in capsys.readouterr().out


def test_group_norms_match_get_total_norm():
    seed_everything(0)
    net = Net()
    x, y = next(iter(loaders()[0]))
    nn.functional.cross_entropy(net(x), y).backward()
    groups = layer_groups(net)
    norms, total, present = GroupNorms(groups, torch.float64)(torch.device("cpu"))
    expected = [torch.nn.utils.get_total_norm([p.grad for p in g]).item() for g in groups.values()]
    assert norms.tolist() == pytest.approx(expected, rel=1e-6) and present == [True, True, True]
    assert total.item() == pytest.approx(math.sqrt(sum(e * e for e in expected)), rel=1e-6)
    net.head.weight.grad = None
    net.head.bias.grad = None
    norms, _, present = GroupNorms(groups, torch.float64)(torch.device("cpu"))
    assert present == [True, True, False] and norms[2].item() == 0.0


def test_mfu_in_the_epoch_line(tmp_path, capsys):
    seed_everything(0)
    fit(Net(), *loaders(), cfg(epochs=1, quiet=False), tmp_path, flops_per_sample=2e5)
    line = [s for s in capsys.readouterr().out.splitlines() if s.startswith("epoch 1/1  train")][0]
    assert " samples/s MFU " in line
    assert throughput_text(1e9, 10.0, None) == "30.0 GFLOP/s" and throughput_text(1e9, 10.0, 60e9) == "MFU 50.0%"
