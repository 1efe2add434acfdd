"""TorchScript export by tracing (``torch.jit.trace``), loaded back with ``torch.jit.load``.

torch 2.14 marks ``torch.jit.trace``/``script`` deprecated (a ``FutureWarning`` pointing to
``torch.export``/``torch.compile``) but they work, and a TorchScript file is still what LibTorch (C++),
TorchServe and Triton's PyTorch backend load. ``torch.export``'s ``.pt2`` is the successor, but it
cannot capture ``pack_padded_sequence`` (data-dependent sizes), so it would cover image models only.
Tracing (not scripting) is used because it needs nothing from the model's source: the price is that
Python control flow is frozen at the example's values, which :mod:`classifykit.export.verify` checks by
running the traced model on a second batch size and, for text, a second sequence length.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn


def export_torchscript(model: nn.Module, example: tuple[torch.Tensor, ...], path: Path) -> None:
    """Trace ``model`` (eval mode, CPU) on ``example`` and save it to ``path`` (``torch.jit.save``)."""
    with warnings.catch_warnings():
        # The deprecation notice is documented above; tracer warnings are checked by verify().
        warnings.simplefilter("ignore")
        with torch.no_grad():
            # check_trace re-runs the same inputs only; verify() runs different shapes instead.
            traced = torch.jit.trace(model, example, check_trace=False)
        torch.jit.save(traced, str(path))


class TorchScriptRunner:
    """Loads a TorchScript file on CPU: ``runner(*inputs) -> logits B×K float32 Tensor``."""

    def __init__(self, path: Path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            self.module = torch.jit.load(str(path), map_location="cpu").eval()

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.module(*inputs).float()
