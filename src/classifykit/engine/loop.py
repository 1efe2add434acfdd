"""Evaluation and inference loops (no gradients), and moving a batch to the device.

A batch is ``(inputs, targets)``: ``inputs`` is a Tensor (``B×C×H×W`` images) or a tuple of
Tensors passed positionally to the model (text: ``(ids B×T int64, lengths B int64)``); ``targets``
is int64 ``B``. Only the first input is moved to the device; later ones (sequence lengths) stay
where the loader put them, on the CPU, as ``pack_padded_sequence`` requires.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from torch import nn

from classifykit.engine.device import amp_dtype, sum_dtype
from classifykit.engine.distributed import all_gather_objects, all_reduce_sum
from classifykit.engine.metrics import confusion_scores
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
) -> dict[str, Any]:
    """Loss, accuracy, macro-F1, balanced accuracy and per-class recall of ``model`` over ``loader``.

    Returns ``{"loss": float, "acc", "macro_f1", "balanced_acc": 0..1, "recall": [K], "support": [K],
    "n": int}`` (see ``engine.metrics.confusion_scores``). ``loss_fn`` returns the batch mean (e.g.
    ``CrossEntropyLoss()``); it is weighted by batch size. The loss sum and a ``K×K`` confusion matrix
    are kept on the device and copied to the host once per pass. When the loader's sampler gives this
    process only its shard (``DistributedSampler``, ``ShardedEvalSampler``), they are summed over all
    processes, so every rank returns the same figures. Runs under ``torch.inference_mode`` and, on
    CUDA, autocast.

    Raises:
        ClassifykitError: the loader yields no items (over all processes).
    """
    model.eval()
    dtype = amp_dtype(device, amp)
    sums = torch.zeros(2, dtype=sum_dtype(device), device=device)
    counts: torch.Tensor | None = None
    with torch.inference_mode():
        for inputs, targets in loader:
            args = model_inputs(inputs, device, channels_last)
            targets = targets.to(device, non_blocking=device.type == "cuda")
            with autocast(device, dtype):
                logits = model(*args)
            loss = loss_fn(logits.float(), targets)
            n = targets.shape[0]
            k = logits.shape[1]
            if counts is None:
                counts = torch.zeros(k * k, dtype=torch.int64, device=device)
            # index_put_ with accumulate has a deterministic CUDA kernel; bincount would sync for its size.
            counts.index_put_((targets * k + logits.argmax(1),), torch.ones_like(targets), accumulate=True)
            sums += torch.stack([loss * n, torch.tensor(n, device=device)]).to(sums.dtype)
    if is_sharded(getattr(loader, "sampler", None)):
        # A shard may hold no batch (val smaller than the world size): agree on K before summing.
        k = max((k for k in all_gather_objects(None if counts is None else math.isqrt(counts.numel())) if k is not None), default=0)
        counts = torch.zeros(k * k, dtype=torch.int64, device=device) if counts is None else counts
        sums, counts = all_reduce_sum(sums), all_reduce_sum(counts)
    loss_sum, n = sums.tolist()
    if n == 0 or counts is None:
        raise ClassifykitError("The validation data is empty: give the val split at least one item (raise --val-ratio).")
    k = math.isqrt(counts.numel())
    scores = confusion_scores(counts.cpu().numpy().reshape(k, k))
    return {"loss": loss_sum / n, **scores, "n": int(n)}


def predict_logits(
    model: nn.Module, loader, device: torch.device, *, amp: bool = True, channels_last: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``N×K`` (float32, CPU) and targets ``N`` (int64, CPU) of every batch in loader order.

    Runs under ``torch.inference_mode``, in eval mode, with autocast on CUDA; the logits stay on
    the device until one copy at the end.
    """
    model.eval()
    dtype = amp_dtype(device, amp)
    all_logits, all_targets = [], []
    with torch.inference_mode():
        for inputs, targets in loader:
            args = model_inputs(inputs, device, channels_last)
            with autocast(device, dtype):
                logits = model(*args)
            all_logits.append(logits.float())
            all_targets.append(torch.as_tensor(targets, dtype=torch.int64))
    if not all_logits:
        return torch.zeros(0, 0), torch.zeros(0, dtype=torch.int64)
    return torch.cat(all_logits).cpu(), torch.cat([t.cpu() for t in all_targets])
