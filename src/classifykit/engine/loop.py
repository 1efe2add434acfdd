"""Evaluation and inference loops (no gradients), and moving a batch to the device.

A batch is ``(inputs, targets)``: ``inputs`` is a Tensor (``B×C×H×W`` images) or a tuple of
Tensors passed positionally to the model (text: ``(ids B×T int64, lengths B int64)``); ``targets``
is int64 ``B``. Only the first input is moved to the device; later ones (sequence lengths) stay
where the loader put them, on the CPU, as ``pack_padded_sequence`` requires.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from classifykit.engine.device import amp_dtype, sum_dtype
from classifykit.engine.distributed import all_reduce_sum
from classifykit.engine.sampling import is_sharded
from classifykit.errors import ClassifykitError


def model_inputs(inputs: Any, device: torch.device, channels_last: bool = False) -> tuple:
    """The positional model arguments for ``inputs``; the first moved to ``device``.

    A 4-D first input becomes ``channels_last`` when asked (faster convolutions with tensor cores).
    """
    items = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    first = items[0].to(device, non_blocking=device.type == "cuda")
    if channels_last and first.dim() == 4:
        first = first.contiguous(memory_format=torch.channels_last)
    return (first, *items[1:])


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` on ``device`` with ``dtype``, or a no-op when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def evaluate(
    model: nn.Module, loader, device: torch.device, loss_fn: nn.Module, *, amp: bool = True, channels_last: bool = False
) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` over ``loader``: ``{"loss": float, "acc": 0..1, "n": int}``.

    ``loss_fn`` returns the batch mean (e.g. ``CrossEntropyLoss()``); it is weighted by batch size.
    When the loader's sampler gives this process only its shard (``DistributedSampler``,
    ``ShardedEvalSampler``), sums of loss×n, correct and n are added over all processes, so
    every rank returns the same figures. Runs under ``torch.inference_mode`` and, on CUDA, autocast.

    Raises:
        ClassifykitError: the loader yields no items (over all processes).
    """
    model.eval()
    dtype = amp_dtype(device, amp)
    sums = torch.zeros(3, dtype=sum_dtype(device), device=device)
    with torch.inference_mode():
        for inputs, targets in loader:
            args = model_inputs(inputs, device, channels_last)
            targets = targets.to(device, non_blocking=device.type == "cuda")
            with autocast(device, dtype):
                logits = model(*args)
            loss = loss_fn(logits.float(), targets)
            n = targets.shape[0]
            correct = (logits.argmax(1) == targets).sum()
            sums += torch.stack([loss * n, correct, torch.tensor(n, device=device)]).to(sums.dtype)
    if is_sharded(getattr(loader, "sampler", None)):
        sums = all_reduce_sum(sums)
    loss_sum, correct, n = sums.tolist()
    if n == 0:
        raise ClassifykitError("The validation data is empty: give the val split at least one item (raise --val-ratio).")
    return {"loss": loss_sum / n, "acc": correct / n, "n": int(n)}


def predict_logits(
    model: nn.Module, loader, device: torch.device, *, amp: bool = True, channels_last: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``N×K`` (float32, CPU) and targets ``N`` (int64, CPU) of every batch in loader order.

    Runs under ``torch.inference_mode``, in eval mode, with autocast on CUDA.
    """
    model.eval()
    dtype = amp_dtype(device, amp)
    all_logits, all_targets = [], []
    with torch.inference_mode():
        for inputs, targets in loader:
            args = model_inputs(inputs, device, channels_last)
            with autocast(device, dtype):
                logits = model(*args)
            all_logits.append(logits.float().cpu())
            all_targets.append(torch.as_tensor(targets, dtype=torch.int64).cpu())
    if not all_logits:
        return torch.zeros(0, 0), torch.zeros(0, dtype=torch.int64)
    return torch.cat(all_logits), torch.cat(all_targets)
