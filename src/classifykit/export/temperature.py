"""The run's calibration inside the exported graph: logits divided by ``model.json``'s temperature.

An exported model then gives the same probabilities (``softmax(output)``) as ``classifykit predict``,
with no serving-side step to forget (Guo et al. 2017, temperature scaling).
"""

from __future__ import annotations

import torch
from torch import nn


class TemperatureScaled(nn.Module):
    """``forward(*inputs) = model(*inputs) / temperature`` (logits ``B×K``; the argmax is unchanged)."""

    def __init__(self, model: nn.Module, temperature: float):
        super().__init__()
        self.model = model
        self.register_buffer("temperature", torch.tensor(float(temperature)), persistent=False)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(*inputs) / self.temperature


def with_temperature(model: nn.Module, temperature: float) -> nn.Module:
    """``model`` itself at temperature 1 (uncalibrated), else wrapped in :class:`TemperatureScaled` (eval mode)."""
    return model if float(temperature) == 1.0 else TemperatureScaled(model, temperature).eval()
