"""Forward FLOPs of an image model, counted by PyTorch itself (``torch.utils.flop_counter``).

``FlopCounterMode`` counts the FLOPs of every matmul/convolution dispatched during one forward
pass (a multiply-add counts as 2 FLOPs; elementwise ops, pooling and normalisation are not
counted, as in fvcore and the usual "GFLOPs" tables, which list multiply-adds). Training costs
about 3× the forward pass (forward + two backward matmuls per layer, Kaplan et al. 2020).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def forward_flops(model: nn.Module, input_size: int, in_chans: int) -> int:
    """FLOPs of one forward pass of ``model`` on one ``in_chans×input_size×input_size`` image.

    Runs a single zero image through the model in eval mode on its current device, without
    gradients; the model's train/eval mode is restored.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, in_chans, input_size, input_size, device=device))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())
