"""torchrun integration: process group from torchrun's environment, rank queries, metric sums.

torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (and ``MASTER_ADDR``/``MASTER_PORT``) for every
process; ``init_distributed`` reads them as torchvision's ``references/classification/utils.py``
``init_distributed_mode`` does. NCCL is the backend when training runs on CUDA, Gloo otherwise
(``--device cpu`` on a machine with GPUs included: NCCL cannot carry CPU tensors).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from classifykit.engine.device import select_device
from classifykit.errors import ClassifykitError


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` in ``0..world_size-1``; ``local_rank`` on its machine."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that prints and writes files."""
        return self.rank == 0


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the process group torchrun describes; a no-op returning rank 0 of 1 without torchrun.

    ``device`` is the ``--device`` value training will use: the backend is NCCL when it resolves to
    CUDA (see ``engine.device.select_device``; ``auto`` does where CUDA exists) and Gloo otherwise.
    Idempotent. On CUDA also selects ``cuda:LOCAL_RANK`` as the current device.

    Raises:
        ClassifykitError: torchrun's variables are malformed (not integers), or ``device`` names no
            device of this machine (under torchrun only).
    """
    if dist.is_available() and dist.is_initialized():
        return dist_info()
    try:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as e:
        raise ClassifykitError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers (set by torchrun): {e}.") from e
    if world_size <= 1:
        return DistInfo(0, 1, 0)
    if select_device(device).type == "cuda":
        torch.cuda.set_device(local_rank)
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistInfo(rank, world_size, local_rank)


def dist_info() -> DistInfo:
    """This process's rank and world size from the current process group (rank 0 of 1 if none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistInfo(0, 1, 0)
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Element-wise sum of ``values`` over all processes (returned unchanged without a group)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def all_gather_objects(obj: object) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` (plain Python objects); ``[obj]`` without a group."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [obj]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    """Wait for every process (no-op without a group)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def cleanup_distributed() -> None:
    """Leave the process group, if this process joined one (no-op otherwise).

    The end of a torchrun run calls it, after the last collective (the test evaluation), so NCCL
    and Gloo free their communicators instead of warning at interpreter exit.
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
