"""init_distributed picks the backend from the --device training will use, not from whether CUDA exists:
``--device cpu`` on a GPU machine needs Gloo (NCCL cannot carry CPU tensors)."""

import pytest
import torch
import torch.distributed as dist

from classifykit.engine.distributed import DistInfo, init_distributed
from classifykit.errors import ClassifykitError


@pytest.fixture
def torchrun(monkeypatch):
    """Rank 1 of 2 as torchrun describes it; records the backend and the CUDA device chosen."""
    calls = {}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda **kw: calls.update(kw))
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: calls.update(cuda_device=index))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    return calls


def _cuda(monkeypatch, available: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)


@pytest.mark.parametrize("device", ["cpu", "CPU"])
def test_cpu_device_on_a_gpu_machine_uses_gloo(torchrun, monkeypatch, device):
    _cuda(monkeypatch, True)
    assert init_distributed(device) == DistInfo(1, 2, 1)
    assert torchrun == {"backend": "gloo", "rank": 1, "world_size": 2}  # no CUDA device selected


@pytest.mark.parametrize("device", ["auto", "cuda", "cuda:1"])
def test_cuda_devices_use_nccl(torchrun, monkeypatch, device):
    _cuda(monkeypatch, True)
    init_distributed(device)
    assert torchrun == {"backend": "nccl", "rank": 1, "world_size": 2, "cuda_device": 1}


def test_default_is_auto(torchrun, monkeypatch):
    _cuda(monkeypatch, True)
    init_distributed()
    assert torchrun["backend"] == "nccl"


def test_auto_without_cuda_uses_gloo(torchrun, monkeypatch):
    _cuda(monkeypatch, False)
    init_distributed("auto")
    assert torchrun == {"backend": "gloo", "rank": 1, "world_size": 2}


def test_cuda_requested_without_cuda_is_a_named_error(torchrun, monkeypatch):
    _cuda(monkeypatch, False)
    with pytest.raises(ClassifykitError, match="--device cuda: CUDA is not available"):
        init_distributed("cuda")
    assert torchrun == {}


def test_single_process_ignores_the_device(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert init_distributed("cuda") == DistInfo(0, 1, 0)  # nothing to join; fit checks the device later


class _Joined(Exception):
    """Stops a task right after it chose the process group's device."""


@pytest.mark.parametrize("task", ["image", "text"])
def test_resume_joins_with_the_saved_device_not_the_default(tmp_path, monkeypatch, task):
    # trained with --device cpu, resumed without --device (auto) on a GPU machine: must stay on Gloo
    import classifykit.tasks.pipeline as pipeline
    from classifykit import runfolder as rf
    from classifykit.config import ImageConfig, TextConfig
    from classifykit.tasks.common import save_config

    cls = ImageConfig if task == "image" else TextConfig
    run = tmp_path / "run"
    (run / rf.LAST_CHECKPOINT).parent.mkdir(parents=True)
    (run / rf.LAST_CHECKPOINT).write_bytes(b"")
    save_config(run, cls(data=str(tmp_path / "data"), device="cpu"))
    devices = []

    def joined(device="auto"):
        devices.append(device)
        raise _Joined

    monkeypatch.setattr(pipeline, "init_distributed", joined)
    with pytest.raises(_Joined):
        pipeline.train(cls(device="auto"), resume=str(run))
    assert devices == ["cpu"]
