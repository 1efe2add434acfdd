"""Model FLOPs utilisation (MFU): the share of the device's peak FLOP/s that training achieves.

MFU = 3 × forward FLOPs per sample × samples/s ÷ peak FLOP/s. The factor 3 counts the forward pass
plus a backward pass of twice its cost (gradients with respect to activations and to weights), as
nanoGPT's ``estimate_mfu`` and the PaLM paper (Chowdhery et al. 2022, appendix B) do. Forward
FLOPs come from ``models.flops.forward_flops`` (passed to ``fit`` by the task).
"""

from __future__ import annotations

import functools
import time

import torch

# Dense peak FLOP/s from the vendors' data sheets: (name fragment, 16-bit tensor cores, float32).
# Checked in order, so "H100 PCIe" comes before "H100" (SXM).
_CUDA_PEAKS = (
    ("H200", 989.4e12, 66.9e12),
    ("H100 PCIe", 756.0e12, 51.2e12),
    ("H100", 989.4e12, 66.9e12),
    ("A100", 312.0e12, 19.5e12),
)


@functools.cache
def cpu_matmul_flops(threads: int, dtype: torch.dtype = torch.float32, n: int = 1024, repeats: int = 3) -> float:
    """FLOP/s of an ``n×n`` matmul on this CPU with ``threads`` intra-op threads (best of ``repeats``).

    A measured stand-in for the CPU's peak, which no API reports: a large GEMM is the fastest work a
    CPU does, so training at this rate would be 100% MFU. Cached per process (about 0.1-0.5 s once).
    """
    a = torch.randn(n, n).to(dtype)
    best = float("inf")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a @ a  # warm up oneDNN / MKL
        for _ in range(repeats):
            start = time.perf_counter()
            a @ a
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return 2 * n**3 / best


def peak_flops(device: torch.device, dtype: torch.dtype | None) -> float | None:
    """Peak FLOP/s of one ``device`` for training in ``dtype`` (None = float32), or None if unknown.

    CUDA: the data-sheet figure of the GPUs in ``_CUDA_PEAKS`` (16-bit for bf16/fp16 autocast);
    CPU: :func:`cpu_matmul_flops` at the current thread count; other devices: None.
    """
    if device.type == "cpu":
        return cpu_matmul_flops(torch.get_num_threads(), dtype or torch.float32)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for fragment, half, single in _CUDA_PEAKS:
            if fragment in name:
                return half if dtype in (torch.float16, torch.bfloat16) else single
    return None


def throughput_text(flops_per_sample: float, samples_per_s: float, peak: float | None) -> str:
    """``"MFU 23.4%"`` when ``peak`` (FLOP/s, all processes) is known, else ``"41.2 GFLOP/s"`` achieved."""
    achieved = 3 * flops_per_sample * samples_per_s
    if peak:
        return f"MFU {achieved / peak:.1%}"
    return f"{achieved / 1e9:.1f} GFLOP/s"
