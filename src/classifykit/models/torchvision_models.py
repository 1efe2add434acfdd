"""torchvision architectures by name, with ``num_classes`` and ``in_chans`` set, and their weights' presets.

Each is ``torchvision.models.get_model(name, weights=None, num_classes=K)``; for ``in_chans=1``
the stem convolution is replaced by one with a single input channel (same width, kernel, stride,
padding and bias). Pretrained weights are loaded afterwards by
:func:`classifykit.models.weights.load_pretrained`, which adapts RGB stem kernels to one
channel by summing them (as timm's ``adapt_input_conv`` does).

Which architectures are registered, and their heads and stems, is in
:mod:`classifykit.models.catalog`. The preprocessing of each named weights comes from
torchvision's own metadata, ``weights.transforms()`` (an ``ImageClassification`` preset holding
resize size, crop size, interpolation, mean and std; reading it downloads nothing).
"""

from __future__ import annotations

import torchvision
from torch import nn
from torchvision.transforms import InterpolationMode

from classifykit.errors import ClassifykitError
from classifykit.models.catalog import PretrainedCfg

_INTERPOLATIONS = {InterpolationMode.BILINEAR: "bilinear", InterpolationMode.BICUBIC: "bicubic"}


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


def build(arch: str, stem_conv: str, num_classes: int, in_chans: int = 3, **kwargs) -> nn.Module:
    """torchvision ``arch`` with ``num_classes`` outputs and ``in_chans`` input channels (stem at ``stem_conv``)."""
    model = torchvision.models.get_model(arch, weights=None, num_classes=num_classes, **kwargs)
    replace_stem_conv(model, stem_conv, in_chans)
    return model


def torchvision_weights_names(arch: str) -> tuple[str, ...]:
    """torchvision's named weights for ``arch`` (e.g. ``("IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT")``)."""
    return (*(w.name for w in torchvision.models.get_model_weights(arch)), "DEFAULT")


def get_weights(arch: str, source: str):
    """The torchvision ``WeightsEnum`` member named ``source`` (``IMAGENET1K_V2``, ``DEFAULT`` or ``ResNet50_Weights.IMAGENET1K_V2``).

    Raises:
        ClassifykitError: torchvision has no such weights, or they belong to another architecture.
    """
    enum = torchvision.models.get_model_weights(arch)
    try:
        weights = torchvision.models.get_weight(source) if "." in source else enum[source]
    except (KeyError, ValueError, AttributeError) as e:
        raise ClassifykitError(
            f"--pretrained {source}: torchvision has no such weights; pass a local .pth/.pt/.safetensors weights file."
        ) from e
    if type(weights) is not enum:
        raise ClassifykitError(f"--pretrained {source}: these torchvision weights are not for --model {arch}.")
    return weights


def preset_cfg(arch: str, source: str) -> PretrainedCfg:
    """The evaluation preprocessing of torchvision weights ``source`` for ``arch``, from ``weights.transforms()``.

    ``crop_pct`` is crop size / resize size: ResNet-50 ``IMAGENET1K_V2`` 224 / 232, ConvNeXt-T
    224 / 236, most ``IMAGENET1K_V1`` 224 / 256; EfficientNet-B0 resizes bicubically.

    Raises:
        ClassifykitError: see :func:`get_weights`.
    """
    preset = get_weights(arch, source).transforms()
    crop, resize = preset.crop_size[0], preset.resize_size[0]
    return PretrainedCfg(
        mean=tuple(preset.mean),
        std=tuple(preset.std),
        input_size=crop,
        crop_pct=crop / resize,
        interpolation=_INTERPOLATIONS[preset.interpolation],
    )
