"""Resume: a run stopped after epoch 2 and resumed (fresh model object, scrambled RNG, or a fresh
process) ends with exactly the metrics and weights of an uninterrupted run (CPU, deterministic)."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from classifykit.engine.checkpoint import load_checkpoint
from classifykit.engine.seed import seed_everything
from classifykit.engine.trainer import fit
from test_engine_trainer import Crash, Net, cfg, loaders

TIMING = {"seconds", "samples_per_s"}


@pytest.fixture(autouse=True)
def _restore_determinism():
    yield
    torch.use_deterministic_algorithms(False)


def train(run_dir, workers, crash_at=None, resume=False, init_seed=0):
    """Four epochs of onecycle AdamW; dropout, shuffling and per-item noise all draw random numbers."""
    seed_everything(init_seed)  # a resumed run builds its model from a different init: the checkpoint must win
    train_loader, val_loader = loaders(workers=workers, crash_at=crash_at)
    return fit(Net(), train_loader, val_loader, cfg(epochs=4, deterministic=True), run_dir, resume=resume)


def rows(path, drop=()):
    with open(path, encoding="utf-8", newline="") as f:
        return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(f)]


def assert_same_run(a: Path, b: Path):
    assert rows(a / "metrics.csv", TIMING) == rows(b / "metrics.csv", TIMING)
    assert rows(a / "steps.csv") == rows(b / "steps.csv")
    for name in ("model.safetensors",):
        wa, wb = load_file(a / name), load_file(b / name)
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    ma, mb = load_checkpoint(a / "checkpoints/last.pt")["model"], load_checkpoint(b / "checkpoints/last.pt")["model"]
    assert all(torch.equal(ma[k], mb[k]) for k in ma)


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_matches_uninterrupted_run(tmp_path, workers):
    full = train(tmp_path / "full", workers)
    with pytest.raises(Crash):
        train(tmp_path / "resumed", workers, crash_at=2)
    assert len(rows(tmp_path / "resumed" / "metrics.csv")) == 2
    torch.manual_seed(12345)  # scramble the global generators: resume must restore them
    np.random.seed(12345)
    resumed = train(tmp_path / "resumed", workers, resume=True, init_seed=99)
    assert resumed == full and full.epochs_run == 4
    assert_same_run(tmp_path / "full", tmp_path / "resumed")
    assert load_checkpoint(tmp_path / "resumed/checkpoints/last.pt")["sampler_epoch"] == 4


@pytest.mark.slow
def test_resume_in_a_fresh_process(tmp_path):
    train(tmp_path / "full", 2)
    with pytest.raises(Crash):
        train(tmp_path / "resumed", 2, crash_at=2)
    tests_dir = Path(__file__).parent
    code = (f"import sys; sys.path.insert(0, {str(tests_dir)!r}); import torch; torch.set_num_threads(1); "
            f"from test_engine_resume import train; train({str(tmp_path / 'resumed')!r}, 2, resume=True, init_seed=5)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
    assert_same_run(tmp_path / "full", tmp_path / "resumed")


def test_resume_after_last_epoch_does_nothing(tmp_path):
    first = train(tmp_path, 0)
    before = rows(tmp_path / "metrics.csv")
    again = train(tmp_path, 0, resume=True)
    assert again == first and rows(tmp_path / "metrics.csv") == before


def train_digits(run_dir, crash_at=None, resume=False, init_seed=0):
    """Real data: scikit-learn's 1,797 8×8 digits, an MLP with dropout, shuffled by a seeded sampler, 2 workers."""
    from sklearn.datasets import load_digits
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from classifykit.engine.seed import seed_worker
    from test_engine_trainer import CrashingSampler

    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y)
    train_ds, val_ds = TensorDataset(x[:1400], y[:1400]), TensorDataset(x[1400:], y[1400:])
    train = DataLoader(train_ds, batch_size=64, sampler=CrashingSampler(1400, 0, crash_at), num_workers=2,
                       worker_init_fn=seed_worker)
    seed_everything(init_seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
    return fit(model, train, DataLoader(val_ds, batch_size=200), cfg(epochs=4, lr=1e-2, deterministic=True), run_dir,
               resume=resume)


@pytest.mark.integration
def test_resume_exact_on_real_digits(tmp_path):
    full = train_digits(tmp_path / "full")
    with pytest.raises(Crash):
        train_digits(tmp_path / "resumed", crash_at=2)
    resumed = train_digits(tmp_path / "resumed", resume=True, init_seed=3)
    assert resumed == full and full.best_val_acc > 0.85
    assert_same_run(tmp_path / "full", tmp_path / "resumed")
