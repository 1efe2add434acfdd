"""engine.device, engine.seed, engine.sampling, engine.optim: small pieces with exact expectations."""

import random

import numpy as np
import pytest
import torch
from torch import nn

from classifykit.config import TrainConfig
from classifykit.engine import device as device_mod
from classifykit.engine.optim import build_optimizer, build_param_groups, build_scheduler
from classifykit.engine.sampling import SeededRandomSampler, ShardedEvalSampler, distributed_sampler
from classifykit.engine.seed import seed_everything, seed_worker
from classifykit.errors import ClassifykitError


def test_select_device_names(monkeypatch):
    assert device_mod.select_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device_mod.select_device("auto").type in ("cpu", "mps")
    with pytest.raises(ClassifykitError, match="--device 'gpu0' is not a device name; use one of auto, cpu"):
        device_mod.select_device("gpu0")
    with pytest.raises(ClassifykitError, match="--device cuda:1: CUDA is not available"):
        device_mod.select_device("cuda:1")


def test_select_device_prefers_cuda_and_checks_index(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert device_mod.select_device("auto") == torch.device("cuda")
    assert device_mod.select_device("CUDA:1") == torch.device("cuda", 1)
    with pytest.raises(ClassifykitError, match=r"has 2 CUDA device\(s\) \(cuda:0..cuda:1\)"):
        device_mod.select_device("cuda:2")


def test_amp_dtype_only_on_cuda():
    assert device_mod.amp_dtype(torch.device("cpu")) is None
    assert device_mod.amp_dtype(torch.device("cuda"), enabled=False) is None


def test_seed_everything_repeats_all_generators():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(()))

    seed_everything(7)
    first = draw()
    seed_everything(7)
    assert draw() == first
    seed_everything(8)
    assert draw() != first


def test_seed_everything_deterministic_flag():
    try:
        seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.benchmark
    finally:
        seed_everything(0, deterministic=False)
    assert not torch.are_deterministic_algorithms_enabled()


def test_seed_worker_seeds_numpy_from_torch_seed():
    torch.manual_seed(1234 + 1)  # what a DataLoader worker with base_seed 1234, id 1 starts with
    seed_worker(1)
    a = np.random.rand(3)
    np.random.seed(1235)
    assert np.array_equal(a, np.random.rand(3))


def test_seeded_sampler_depends_only_on_seed_and_epoch():
    s = SeededRandomSampler(50, seed=3)
    e0 = list(s)
    torch.manual_seed(99)  # the global generator must not matter
    assert list(s) == e0 and sorted(e0) == list(range(50)) and len(s) == 50
    s.set_epoch(1)
    e1 = list(s)
    assert e1 != e0
    g = torch.Generator().manual_seed(3 + 1)  # same convention as DistributedSampler: seed + epoch
    assert e1 == torch.randperm(50, generator=g).tolist()
    assert list(SeededRandomSampler(50, seed=4)) != e0


def test_sharded_eval_sampler_covers_each_item_once():
    shards = [list(ShardedEvalSampler(11, r, 3)) for r in range(3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8]]
    assert [len(ShardedEvalSampler(11, r, 3)) for r in range(3)] == [4, 4, 3]


def test_distributed_sampler_single_process():
    data = list(range(5))
    assert isinstance(distributed_sampler(data, shuffle=True, seed=1), SeededRandomSampler)
    assert list(distributed_sampler(data, shuffle=False)) == [0, 1, 2, 3, 4]


def _net():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))


def test_param_groups_no_decay_on_norms_and_biases():
    net = _net()
    groups = build_param_groups(net, [{"name": "body", "params": list(net[:2].parameters()), "frozen_epochs": 2, "lr": 0.1},
                                      {"name": "head", "params": list(net[3].parameters())}], 0.05)
    summary = [(g["name"], [tuple(p.shape) for p in g["params"]], g["weight_decay"], g["frozen_epochs"]) for g in groups]
    assert summary == [
        ("body", [(4, 1, 3, 3)], 0.05, 2),
        ("body.no_decay", [(4,), (4,), (4,)], 0.0, 2),  # conv bias, BN weight, BN bias
        ("head", [(2, 4)], 0.05, 0),
        ("head.no_decay", [(2,)], 0.0, 0),
    ]
    assert groups[0]["lr"] == 0.1 and "lr" not in groups[2]


def test_param_groups_must_cover_trainable_params():
    net = _net()
    with pytest.raises(ValueError, match="parameters in no parameter group"):
        build_param_groups(net, [{"params": list(net[3].parameters())}], 0.0)


def _lrs(cfg, steps_per_epoch=5):
    opt = build_optimizer(cfg, build_param_groups(_net(), None, cfg.weight_decay))
    sched = build_scheduler(cfg, opt, steps_per_epoch)
    out = []
    for _ in range(cfg.epochs * steps_per_epoch):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    return out, opt


def test_cosine_schedule_with_linear_warmup():
    lrs, _ = _lrs(TrainConfig(schedule="cosine", epochs=2, warmup_epochs=1.0, lr=1.0))
    # warmup 5 steps from 1/6 to 1, then cosine over the remaining 5 steps
    assert lrs[:6] == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1.0])
    assert lrs[6:] == pytest.approx([(1 + np.cos(np.pi * k / 5)) / 2 for k in range(1, 5)])


def test_onecycle_and_constant_schedules():
    lrs, opt = _lrs(TrainConfig(schedule="onecycle", epochs=2, lr=1.0))
    assert lrs[0] == pytest.approx(1 / 25) and max(lrs) == pytest.approx(1.0, rel=0.05) and lrs[-1] < 1e-3
    assert isinstance(opt, torch.optim.AdamW)
    lrs, opt = _lrs(TrainConfig(schedule="constant", optimizer="sgd", epochs=1, lr=0.3))
    assert lrs == [0.3] * 5 and opt.param_groups[0]["nesterov"] is True


def test_bad_optimizer_and_schedule_names():
    with pytest.raises(ClassifykitError, match="--optimizer 'adam': use one of adamw, sgd"):
        TrainConfig(optimizer="adam")
    with pytest.raises(ClassifykitError, match="--schedule 'step': use one of onecycle, cosine, constant"):
        TrainConfig(schedule="step")
    # A config changed after construction is still refused where the name is used.
    cfg = TrainConfig()
    cfg.optimizer = "adam"
    with pytest.raises(ClassifykitError, match="--optimizer 'adam': use adamw or sgd"):
        build_optimizer(cfg, build_param_groups(_net(), None, 0.0))
    opt = build_optimizer(TrainConfig(), build_param_groups(_net(), None, 0.0))
    cfg.schedule = "step"
    with pytest.raises(ClassifykitError, match="--schedule 'step': use onecycle, cosine or constant"):
        build_scheduler(cfg, opt, 3)


def test_init_distributed_without_torchrun(monkeypatch):
    from classifykit.engine.distributed import DistInfo, all_gather_objects, all_reduce_sum, init_distributed

    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    info = init_distributed()
    assert info == DistInfo(0, 1, 0) and info.is_main
    assert all_gather_objects({"a": 1}) == [{"a": 1}] and all_reduce_sum(torch.tensor([2.0])).tolist() == [2.0]
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ClassifykitError, match="RANK/WORLD_SIZE/LOCAL_RANK must be integers"):
        init_distributed()


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.out = nn.Linear(3, 5, bias=False)
        self.out.weight = self.emb.weight  # shared storage: safetensors refuses it unless copied


def test_save_and_load_weights_roundtrip(tmp_path):
    from classifykit.engine.checkpoint import load_weights, save_weights

    net = Tied()
    save_weights(net, tmp_path / "w.safetensors")
    other = Tied()
    load_weights(other, tmp_path / "w.safetensors")
    assert torch.equal(other.emb.weight, net.emb.weight) and other.out.weight is other.emb.weight
    with pytest.raises(ClassifykitError, match="weights do not fit the model built from model.json"):
        load_weights(_net(), tmp_path / "w.safetensors")
    with pytest.raises(ClassifykitError, match="no such weights file"):
        load_weights(net, tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ClassifykitError, match="not a readable safetensors file"):
        load_weights(net, tmp_path / "bad.safetensors")


def test_checkpoint_holds_only_plain_types(tmp_path):
    from classifykit.engine.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state

    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    save_checkpoint({"rng": rng_state(), "epoch": 3}, tmp_path / "c.pt")
    expected = (random.random(), float(np.random.rand()), float(torch.rand(())))
    state = load_checkpoint(tmp_path / "c.pt")  # weights_only=True: would raise on any pickled class
    set_rng_state(state["rng"])
    assert state["epoch"] == 3 and (random.random(), float(np.random.rand()), float(torch.rand(()))) == expected
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ClassifykitError, match="cannot read this checkpoint"):
        load_checkpoint(tmp_path / "bad.pt")


def test_layer_groups_descend_into_containers_when_the_top_level_is_too_coarse():
    from torch import nn

    from classifykit.engine.trainer import layer_groups

    flat = nn.Sequential()
    flat.add_module("features", nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3)))
    flat.add_module("fc", nn.Linear(3, 2))
    assert list(layer_groups(flat)) == ["features.0", "features.2", "fc"]

    deep = nn.Sequential()
    for name in ("stem", "layer1", "fc"):
        deep.add_module(name, nn.Sequential(nn.Linear(2, 2)))
    assert list(layer_groups(deep)) == ["stem", "layer1", "fc"]


def test_cpu_threads_leave_room_for_dataloader_workers():
    import torch

    from classifykit.cpus import usable_cpus
    from classifykit.engine.device import configure_cpu_threads

    before = torch.get_num_threads()
    try:
        cpus = usable_cpus()
        assert configure_cpu_threads(torch.device("cpu"), 0, 1) == max(1, cpus - 1)
        assert configure_cpu_threads(torch.device("cpu"), 0, 64) == 1
        assert configure_cpu_threads(torch.device("cpu"), 3, 0) == 3 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_adamw_is_fused_on_cpu_and_sgd_is_not():
    opt = build_optimizer(TrainConfig(), build_param_groups(_net(), None, 0.0))
    assert opt.defaults["fused"] is True
    sgd = build_optimizer(TrainConfig(optimizer="sgd"), build_param_groups(_net(), None, 0.0))
    assert isinstance(sgd, torch.optim.SGD)
