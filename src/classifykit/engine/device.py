"""Which device to train on, and which mixed-precision dtype it supports."""

from __future__ import annotations

import re

import torch

from classifykit.cpus import usable_cpus
from classifykit.errors import ClassifykitError

_VALID = "auto, cpu, cuda, cuda:N or mps"


def select_device(name: str = "auto") -> torch.device:
    """The ``torch.device`` for ``--device NAME``.

    ``auto`` picks CUDA, then Apple MPS, then the CPU (the first one present). ``cuda`` means the
    current CUDA device; ``cuda:N`` a given one.

    Raises:
        ClassifykitError: ``name`` is not one of auto, cpu, cuda, cuda:N, mps, or names a device
            this machine does not have.
    """
    key = str(name).strip().lower()
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    if key == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    if key == "cpu":
        return torch.device("cpu")
    if key == "mps":
        if not mps_ok:
            raise ClassifykitError("--device mps: Apple MPS is not available on this machine; use --device auto or cpu.")
        return torch.device("mps")
    match = re.fullmatch(r"cuda(?::(\d+))?", key)
    if match is None:
        raise ClassifykitError(f"--device {name!r} is not a device name; use one of {_VALID}.")
    if not torch.cuda.is_available():
        raise ClassifykitError(f"--device {name}: CUDA is not available on this machine; use --device auto or cpu.")
    if match.group(1) is not None:
        index = int(match.group(1))
        count = torch.cuda.device_count()
        if index >= count:
            raise ClassifykitError(f"--device {name}: this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1}).")
        return torch.device("cuda", index)
    return torch.device("cuda")


def amp_dtype(device: torch.device, enabled: bool = True) -> torch.dtype | None:
    """The autocast dtype for ``device``: bfloat16 on CUDA where supported, else float16; None off CUDA.

    float16 needs a ``torch.amp.GradScaler`` (its range is too small for raw gradients); bfloat16 has
    float32's exponent range and needs none (Micikevicius et al. 2018, "Mixed Precision Training").
    """
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def native_cpu_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX tiles), as oneDNN needs for speed.

    Elsewhere bf16 convolutions are emulated and slower than float32.
    """
    checks = (getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return any(check() for check in checks if check is not None)


def train_amp_dtype(device: torch.device, amp: bool, cpu_bf16: bool) -> torch.dtype | None:
    """The autocast dtype for training steps: :func:`amp_dtype` off the CPU; on the CPU bfloat16 when
    ``cpu_bf16`` and :func:`native_cpu_bf16`, else None (float32).

    Measured on this project's 2-core AVX512-BF16 machine, one thread, training step with AdamW:
    resnet18-small 224 px batch 32 with channels_last 366 img/s float32, 516 bf16 (1.4×); smallcnn
    28 px batch 128 658 vs 1,143 (1.7×). Weights, gradients and the optimizer stay float32.
    """
    if device.type == "cpu":
        return torch.bfloat16 if cpu_bf16 and native_cpu_bf16() else None
    return amp_dtype(device, amp)


def sum_dtype(device: torch.device) -> torch.dtype:
    """dtype for metric sums kept on ``device``: float64, except on MPS, which has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


def configure_cpu_threads(device: torch.device, threads: int, num_workers: int) -> int:
    """Set torch's intra-op thread count for training on the CPU; returns the count (unchanged off CPU).

    ``threads`` > 0 is used as given. 0 picks the usable cores minus the DataLoader workers (at least
    1): workers and intra-op threads competing for the same cores make every thread wait on the others
    (measured here, 2 cores under load: an LSTM ran at 12 samples/s with 2 threads, 633 with 1).
    """
    if device.type != "cpu":
        return torch.get_num_threads()
    if threads <= 0:
        cpus = usable_cpus()
        threads = max(1, cpus - num_workers)
    torch.set_num_threads(threads)
    return threads
