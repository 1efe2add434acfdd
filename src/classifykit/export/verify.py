"""Numerical check of an export: same inputs through PyTorch and the exported file, compare logits.

Three batches are checked, so a graph whose shapes were frozen at trace time fails here:
the full example batch (``B`` rows), a smaller batch in reverse order (``B-1`` rows) and a single row.
For text the smaller batches drop the longest rows and are trimmed to their own longest length, so
they also have a shorter sequence axis, and the reversal reorders the lengths that packing sorts by.
Encoder inputs ``(input_ids, attention_mask)`` are cut the same way, by each row's mask sum, and
n-gram inputs ``(ids, weights)`` by each row's count of non-zero weights (at least 1: an empty text is one pad).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

# float32 logits through another kernel library differ by ~1e-8..1e-6 for small nets and grow with
# depth and logit size (measured here, random init at 224 px: resnet50 1.7e-5 at |logit| <= 34,
# resnet34 4.6e-5 at |logit| <= 65). The accepted difference is atol + rtol * max |logit|, as in
# numpy.allclose but over the whole batch: far above float32 rounding, far below a changed prediction.
DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-5


@dataclass(frozen=True)
class Check:
    """One verified batch: its input shapes (e.g. ``"ids 4×17, lengths 4"``), max |logit difference|,
    PyTorch's max |logit| (the scale ``rtol`` applies to) and how many of its ``rows`` get the same
    predicted class (argmax) from both."""

    shapes: str
    max_abs_diff: float
    max_abs_logit: float
    same_prediction: int
    rows: int

    def passes(self, atol: float, rtol: float) -> bool:
        """``max_abs_diff <= atol + rtol * max_abs_logit`` (False for NaN)."""
        return self.max_abs_diff <= atol + rtol * self.max_abs_logit


def verification_batches(example: tuple[torch.Tensor, ...], task: str) -> list[tuple[torch.Tensor, ...]]:
    """The batches to compare on, derived from ``example`` (see module docstring); duplicates dropped.

    Args:
        example: images ``(B×C×H×W,)``, text ``(ids B×T, lengths B)``, encoder
            ``(input_ids B×T, attention_mask B×T)`` or ngram ``(ids B×T, weights B×T)`` (signature ``task``).
    """
    if task == "image":
        (x,) = example
        batches = [(x,), (x[:-1].flip(0),), (x[:1],)]
    else:
        ids, second = example
        if task == "encoder":
            lengths = second.sum(1)
        elif task == "ngram":
            lengths = (second != 0).sum(1).clamp(min=1)
        else:
            lengths = second
        order = torch.argsort(lengths, stable=True)  # shortest first
        batches = [(ids, second)]
        for rows in (order[:-1].flip(0), order[:1]):
            if len(rows):
                t = int(lengths[rows].max())
                cut = second[rows, :t] if task in ("encoder", "ngram") else second[rows]
                batches.append((ids[rows, :t].contiguous(), cut.contiguous()))
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
        same = int((out.argmax(1) == ref.argmax(1)).sum())
        checks.append(Check(_shapes(batch, task), float((out - ref).abs().max()), float(ref.abs().max()),
                            same, ref.shape[0]))
    return checks
