"""Numerical check of an export: same inputs through PyTorch and the exported file, compare logits.

Three batches are checked, so a graph whose shapes were frozen at trace time fails here:
the full example batch (``B`` rows), a smaller batch in reverse order (``B-1`` rows) and a single row.
For text the smaller batches drop the longest rows and are trimmed to their own longest length, so
they also have a shorter sequence axis, and the reversal reorders the lengths that packing sorts by.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

# float32 logits through a different kernel library typically differ by ~1e-6 (resnet18 at 64 px:
# 2e-6); 1e-4 is far above that and far below anything that would change a prediction.
DEFAULT_ATOL = 1e-4


@dataclass(frozen=True)
class Check:
    """One verified batch: its input shapes (e.g. ``"ids 4×17, lengths 4"``) and max |logit difference|."""

    shapes: str
    max_abs_diff: float


def verification_batches(example: tuple[torch.Tensor, ...], task: str) -> list[tuple[torch.Tensor, ...]]:
    """The batches to compare on, derived from ``example`` (see module docstring); duplicates dropped.

    Args:
        example: images ``(B×C×H×W,)`` or text ``(ids B×T, lengths B)``.
    """
    if task == "image":
        (x,) = example
        batches = [(x,), (x[:-1].flip(0),), (x[:1],)]
    else:
        ids, lengths = example
        order = torch.argsort(lengths, stable=True)  # shortest first
        batches = [(ids, lengths)]
        for rows in (order[:-1].flip(0), order[:1]):
            if len(rows):
                t = int(lengths[rows].max())
                batches.append((ids[rows, :t].contiguous(), lengths[rows].contiguous()))
    seen, unique = set(), []
    for b in batches:
        key = tuple(tuple(t.shape) for t in b)
        if b[0].shape[0] > 0 and key not in seen:
            seen.add(key)
            unique.append(b)
    return unique


def _shapes(batch: tuple[torch.Tensor, ...], task: str) -> str:
    from classifykit.export.signature import input_names

    return ", ".join(f"{n} {'×'.join(map(str, t.shape))}" for n, t in zip(input_names(task), batch))


def compare(model: nn.Module, exported: Callable[..., torch.Tensor], example: tuple[torch.Tensor, ...],
            task: str) -> list[Check]:
    """Run each verification batch through ``model`` (eval, CPU) and ``exported``; max |difference| per batch.

    Raises:
        RuntimeError: the exported model returns logits of another shape (an exporter bug).
    """
    checks = []
    for batch in verification_batches(example, task):
        with torch.no_grad():
            ref = model(*batch).float()
        out = exported(*batch)
        if out.shape != ref.shape:
            raise RuntimeError(f"exported model returned logits {tuple(out.shape)} for {_shapes(batch, task)}; "
                               f"PyTorch returned {tuple(ref.shape)}")
        checks.append(Check(_shapes(batch, task), float((out - ref).abs().max())))
    return checks
