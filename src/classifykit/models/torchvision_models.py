"""torchvision architectures by name, with ``num_classes`` and ``in_chans`` set.

Each is ``torchvision.models.get_model(name, weights=None, num_classes=K)``; for ``in_chans=1``
the stem convolution is replaced by one with a single input channel (same width, kernel, stride,
padding and bias). Pretrained weights are loaded afterwards by
:func:`classifykit.models.pretrained.load_pretrained`, which adapts RGB stem kernels to one
channel by summing them (as timm's ``adapt_input_conv`` does).

Registered: resnet18, resnet34, resnet50, mobilenet_v3_small, efficientnet_b0, convnext_tiny.
The classifier head is the final ``nn.Linear`` (``fc`` for ResNets, the last item of
``classifier`` for the others), so a linear probe trains exactly one linear layer and keeps the
pretrained hidden layer of MobileNetV3's two-layer head in the backbone.
"""

from __future__ import annotations

import torchvision
from torch import nn

from classifykit.models.registry import register_model

# name -> (classifier module, stem convolution, smallest input in pixels).
# ConvNeXt's stride-4 stem and three stride-2 downsamplers leave nothing of inputs under 32 px.
_ARCHS: dict[str, tuple[str, str, int]] = {
    "resnet18": ("fc", "conv1", 8),
    "resnet34": ("fc", "conv1", 8),
    "resnet50": ("fc", "conv1", 8),
    "mobilenet_v3_small": ("classifier.3", "features.0.0", 8),
    "efficientnet_b0": ("classifier.1", "features.0.0", 8),
    "convnext_tiny": ("classifier.2", "features.0.0", 32),
}


def replace_stem_conv(model: nn.Module, stem_name: str, in_chans: int) -> None:
    """Swap the convolution at dotted name ``stem_name`` for a freshly initialised one reading ``in_chans`` channels.

    The new layer keeps the old one's output width, kernel, stride, padding, dilation and bias;
    its weights use PyTorch's default initialisation (pretrained kernels are adapted when loaded).
    """
    old = model.get_submodule(stem_name)
    if old.in_channels == in_chans:
        return
    new = nn.Conv2d(
        in_chans,
        old.out_channels,
        kernel_size=old.kernel_size,
        stride=old.stride,
        padding=old.padding,
        dilation=old.dilation,
        groups=1,
        bias=old.bias is not None,
    )
    model.set_submodule(stem_name, new)


def weights_names(arch: str) -> tuple[str, ...]:
    """torchvision's named weights for ``arch`` (e.g. ``("IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT")``)."""
    return (*(w.name for w in torchvision.models.get_model_weights(arch)), "DEFAULT")


def _register(arch: str) -> None:
    classifier, stem, min_size = _ARCHS[arch]

    def build(num_classes: int, in_chans: int = 3, **kwargs) -> nn.Module:
        model = torchvision.models.get_model(arch, weights=None, num_classes=num_classes, **kwargs)
        replace_stem_conv(model, stem, in_chans)
        return model

    build.__doc__ = f"torchvision ``{arch}`` with ``num_classes`` outputs and ``in_chans`` input channels."
    register_model(
        arch,
        input_size=224,
        classifier=classifier,
        stem_conv=stem,
        pretrained=weights_names(arch),
        min_input_size=min_size,
    )(build)


TORCHVISION_ARCHS = tuple(_ARCHS)

for _arch in TORCHVISION_ARCHS:
    _register(_arch)
