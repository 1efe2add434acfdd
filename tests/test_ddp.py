"""fit under torch.distributed: 2 CPU processes with Gloo on real data (scikit-learn's 1,797 digits).

With an unshuffled DistributedSampler, rank r's batch b holds items r, r+2, ... of the single-process
batch b of twice the size, and DDP averages the two ranks' mean gradients: the 2-process run takes
the same optimizer steps as one process with the same global batch, up to float32 summation order.
"""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from classifykit.config import TrainConfig
from classifykit.engine.checkpoint import load_checkpoint
from classifykit.engine.distributed import cleanup_distributed, init_distributed
from classifykit.engine.sampling import ShardedEvalSampler, distributed_sampler
from classifykit.engine.seed import seed_everything
from classifykit.engine.trainer import fit
from classifykit.io import read_csv_rows

GLOBAL_BATCH = 32
EPOCHS = 4


def digits():
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.int64)
    return TensorDataset(x[:1280], y[:1280]), TensorDataset(x[1280:], y[1280:])  # 40 global batches; 517 val


def mlp():
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


class Crash(Exception):
    pass


def run(run_dir, world_size, crash_at=None, resume=False):
    """Train the MLP; with ``crash_at`` the train sampler raises at ``set_epoch(crash_at)`` on every rank."""
    train_ds, val_ds = digits()
    train_sampler = distributed_sampler(train_ds, shuffle=False, evaluation=False)
    if crash_at is not None:
        original = train_sampler.set_epoch

        def set_epoch(epoch):
            if epoch == crash_at:
                raise Crash(epoch)
            original(epoch)

        train_sampler.set_epoch = set_epoch
    val_sampler = distributed_sampler(val_ds, shuffle=False)
    train = DataLoader(train_ds, batch_size=GLOBAL_BATCH // world_size, sampler=train_sampler)
    val = DataLoader(val_ds, batch_size=100, sampler=val_sampler)
    seed_everything(0)
    model = mlp()
    # the first layer is frozen in epoch 1: under DDP the wrapper is rebuilt when it unfreezes
    groups = [{"name": "head", "params": list(model[2].parameters())},
              {"name": "body", "params": list(model[0].parameters()), "frozen_epochs": 1}]
    cfg = TrainConfig(epochs=EPOCHS, lr=3e-3, patience=0, quiet=True, deterministic=True)
    return fit(model, train, val, cfg, run_dir, param_groups=groups, resume=resume), type(val_sampler).__name__


def _worker(rank, world_size, port, run_dir, results):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    info = init_distributed()
    try:
        results[rank] = (info.rank, info.world_size, *run(run_dir + "/ddp", world_size))
        try:  # checkpoint and resume under DDP: stop after epoch 2 on both ranks, resume with a fresh model
            run(run_dir + "/resumed", world_size, crash_at=2)
        except Crash:
            results[f"resumed{rank}"] = run(run_dir + "/resumed", world_size, resume=True)[0]
    finally:
        cleanup_distributed()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.integration
@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    single, _ = run(tmp_path / "single", 1)
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_worker, args=(2, free_port(), str(tmp_path), results), nprocs=2, join=True)
        results = dict(results)
    # both ranks ran, saw the process group, sharded validation, and agree on the result
    assert sorted(results, key=str) == [0, 1, "resumed0", "resumed1"]
    assert [results[r][:2] for r in (0, 1)] == [(0, 2), (1, 2)]
    assert {results[r][3] for r in (0, 1)} == {ShardedEvalSampler.__name__}
    assert results[0][2] == results[1][2]
    ddp = results[0][2]
    # one set of run files: rank 1 wrote nothing beside rank 0 (no duplicated step rows, no temp files)
    files = sorted(p.relative_to(tmp_path / "ddp").as_posix() for p in (tmp_path / "ddp").rglob("*") if p.is_file())
    assert files == ["checkpoints/last.pt", "metrics.csv", "model.safetensors", "steps.csv"]
    steps = read_csv_rows(tmp_path / "ddp" / "steps.csv")
    assert [int(r["step"]) for r in steps] == list(range(1, EPOCHS * 40 + 1))
    assert {r["gn:0"] for r in steps if r["epoch"] == "1"} == {""} and all(float(r["gn:0"]) > 0 for r in steps[40:])
    # validation is summed over both shards: all 517 items, same counts as one process
    ddp_metrics = read_csv_rows(tmp_path / "ddp" / "metrics.csv")
    single_metrics = read_csv_rows(tmp_path / "single" / "metrics.csv")
    val_correct = [round(float(r["val_acc"]) * 517) for r in ddp_metrics]
    # Tolerance: the same optimizer steps up to float32 summation order -> at most 1 of 517 val items differs.
    for a, b in zip(ddp_metrics, single_metrics):
        assert abs(float(a["val_acc"]) - float(b["val_acc"])) <= 1 / 517
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), rel=1e-4)
    assert abs(ddp.best_val_acc - single.best_val_acc) <= 1 / 517 and ddp.best_val_acc > 0.85
    assert all(abs(c / 517 - float(r["val_acc"])) < 1e-12 for c, r in zip(val_correct, ddp_metrics))
    w_ddp = load_checkpoint(tmp_path / "ddp/checkpoints/last.pt")["model"]
    w_one = load_checkpoint(tmp_path / "single/checkpoints/last.pt")["model"]
    max_diff = max((w_ddp[k] - w_one[k]).abs().max().item() for k in w_one)
    print(f"val acc 2 processes {ddp.best_val_acc:.4f}, 1 process {single.best_val_acc:.4f}; max |weight diff| {max_diff:.2e}")
    assert max_diff < 1e-4
    # resumed under DDP: same result and bit-identical final weights as the uninterrupted DDP run
    assert results["resumed0"] == results["resumed1"] == ddp
    w_res = load_checkpoint(tmp_path / "resumed/checkpoints/last.pt")["model"]
    assert all(torch.equal(w_res[k], w_ddp[k]) for k in w_ddp)
    assert read_csv_rows(tmp_path / "resumed/steps.csv") == steps
