"""The built-in architectures, one :class:`ModelSpec` each, without importing torch.

This file is the one place an architecture is added: a ``ModelSpec`` names its builder as a
``"module:function"`` string (imported only when a model is built), the submodules the rest of
classifykit needs (head, stem convolution), and, per set of named weights, the preprocessing those
weights were trained with — timm's ``pretrained_cfg`` idea. ``classifykit --help`` lists the
architectures from here without loading torch (``tests/test_cli_startup.py``).

torchvision architectures take their named weights and each weights' preprocessing from
torchvision's own ``WeightsEnum`` metadata (``weights.transforms()``), read when asked
(:func:`classifykit.models.registry.preprocessing_for`), so nothing here copies them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

# ImageNet statistics of torchvision's weights (torchvision.transforms._presets.ImageClassification).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INTERPOLATIONS = ("bilinear", "bicubic")
WEIGHTS_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")


@dataclass(frozen=True)
class PretrainedCfg:
    """Input preprocessing a set of weights expects (timm's ``pretrained_cfg``), on 0–1 pixel values.

    Evaluation resizes the shorter side to ``floor(input_size / crop_pct)`` pixels with
    ``interpolation``, centre-crops ``input_size``×``input_size`` and normalises
    ``(x - mean) / std`` per channel.

    Attributes:
        mean, std: per-channel statistics, ``in_chans`` values each.
        input_size: side of the square input in pixels.
        crop_pct: share of the resized image the centre crop keeps (224 / 256 = 0.875).
        interpolation: ``"bilinear"`` or ``"bicubic"``.
        in_chans: channels the weights were trained on (3: grey images are replicated).
        source: the ``--pretrained`` value these settings are for ("" in the catalog).
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_size: int
    crop_pct: float
    interpolation: str
    in_chans: int = 3
    source: str = ""

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"PretrainedCfg: interpolation must be one of {INTERPOLATIONS}, not {self.interpolation!r}")

    def for_source(self, source: str) -> PretrainedCfg:
        """The same settings, recorded as those of ``--pretrained source``."""
        return replace(self, source=source)


@dataclass(frozen=True)
class NamedWeights:
    """Weights known by name (``--pretrained NAME``) besides weights files.

    Attributes:
        name: the ``--pretrained`` value.
        load: ``"module:function"`` (or the function itself); ``function()`` returns a CPU
            ``state_dict`` in the architecture's own parameter names.
        cfg: the preprocessing the weights were trained with.
    """

    name: str
    load: str | Callable[[], Any]
    cfg: PretrainedCfg


@dataclass(frozen=True)
class ModelSpec:
    """What classifykit knows about one architecture without building it.

    Attributes:
        name: registry name (``resnet18-small``).
        builder: ``"module:function"`` or a callable; called as
            ``builder(*builder_args, num_classes=K, in_chans=C, **kwargs)`` for image models and
            ``builder(*builder_args, num_classes=K, **kwargs)`` for text models; returns an ``nn.Module``.
        task: ``"image"`` or ``"text"``.
        input_size: default square input size in pixels for image models (None for text).
        classifier: dotted name of the final classifier module (replaced for a new class count,
            trained alone in a linear probe), or None when the model has no single head.
        stem_conv: dotted name of the first ``nn.Conv2d`` (adapted to ``in_chans``), or None.
        min_input_size: smallest square input in pixels that leaves a non-empty feature map.
        weights: named weights (see :class:`NamedWeights`).
        file_cfg: preprocessing for a weights file given to this architecture (None: a torchvision
            architecture's ``IMAGENET1K_V1`` preset, or no image preprocessing for text models).
        torchvision: the torchvision architecture whose ``WeightsEnum`` supplies further named weights.
        builder_args: positional arguments given to the builder before the keywords.
    """

    name: str
    builder: str | Callable[..., Any]
    task: str = "image"
    input_size: int | None = None
    classifier: str | None = None
    stem_conv: str | None = None
    min_input_size: int = 1
    weights: tuple[NamedWeights, ...] = ()
    file_cfg: PretrainedCfg | None = None
    torchvision: str | None = None
    builder_args: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.task not in ("image", "text"):
            raise ValueError(f"ModelSpec({self.name!r}): task must be 'image' or 'text', not {self.task!r}")


# EfficientNet-Lite's preprocessing (TensorFlow tpu/models/official/efficientnet): pixels
# (x - 127) / 128 on 0–255 (MEAN_RGB = [127.0] * 3, STDDEV_RGB = [128.0] * 3 in
# lite/efficientnet_lite_builder.py); evaluation centre-crops image_size / (image_size + 32) of the
# shorter side (CROP_PADDING = 32 in preprocessing.py: 224 / 256) and resizes it bicubically.
LITE0_MEAN = (127.0 / 255.0,) * 3
LITE0_STD = (128.0 / 255.0,) * 3
LITE0_CFG = PretrainedCfg(LITE0_MEAN, LITE0_STD, input_size=224, crop_pct=224 / 256, interpolation="bicubic")
# A weights file for one of our own small architectures: ImageNet statistics (the torchvision
# convention) at the architecture's default size, the whole image kept below 64 px.
_IMAGENET_224 = PretrainedCfg(IMAGENET_MEAN, IMAGENET_STD, 224, 0.875, "bilinear")
_IMAGENET_28 = PretrainedCfg(IMAGENET_MEAN, IMAGENET_STD, 28, 1.0, "bilinear")


def _torchvision(name: str, classifier: str, stem_conv: str, min_input_size: int = 8) -> ModelSpec:
    return ModelSpec(
        name,
        "classifykit.models.torchvision_models:build",
        input_size=224,
        classifier=classifier,
        stem_conv=stem_conv,
        min_input_size=min_input_size,
        torchvision=name,
        builder_args=(name, stem_conv),
    )


# The classifier head is the final nn.Linear (torchvision: ``fc`` for ResNets, the last item of
# ``classifier`` for the others), so a linear probe trains exactly one linear layer.
BUILTIN: tuple[ModelSpec, ...] = (
    ModelSpec("resnet18-small", "classifykit.models.resnet_small:resnet18_small", input_size=224,
              classifier="fc", stem_conv="stem.0", min_input_size=3, file_cfg=_IMAGENET_224),
    ModelSpec("smallcnn", "classifykit.models.small_cnn:smallcnn", input_size=28,
              classifier="fc", stem_conv="features.0", min_input_size=4, file_cfg=_IMAGENET_28),
    _torchvision("resnet18", "fc", "conv1"),
    _torchvision("resnet34", "fc", "conv1"),
    _torchvision("resnet50", "fc", "conv1"),
    _torchvision("mobilenet_v3_small", "classifier.3", "features.0.0"),
    _torchvision("efficientnet_b0", "classifier.1", "features.0.0"),
    # ConvNeXt's stride-4 stem and three stride-2 downsamplers leave nothing of inputs under 32 px.
    _torchvision("convnext_tiny", "classifier.2", "features.0.0", min_input_size=32),
    ModelSpec("efficientnet-lite0", "classifykit.models.efficientnet_lite:efficientnet_lite0", input_size=224,
              classifier="classifier", stem_conv="conv_stem", file_cfg=LITE0_CFG,
              weights=(NamedWeights("efficientnet-lite0", "classifykit.models.efficientnet_lite:lite0_state_dict",
                                    LITE0_CFG),)),
    ModelSpec("lstm", "classifykit.models.rnn:lstm", task="text", classifier="fc"),
    ModelSpec("gru", "classifykit.models.rnn:gru", task="text", classifier="fc"),
    ModelSpec("ngram", "classifykit.models.ngram:ngram", task="text"),
    ModelSpec("minilm", "classifykit.models.text_encoder:minilm", task="text", classifier="head"),
    ModelSpec("hf-encoder", "classifykit.models.text_encoder:hf_encoder", task="text", classifier="head"),
)


def builtin_names(task: str | None = None) -> tuple[str, ...]:
    """Names of the built-in architectures in catalog order, optionally of one task (``"image"``/``"text"``)."""
    return tuple(s.name for s in BUILTIN if task is None or s.task == task)


def resolve(target: str | Callable[..., Any]) -> Callable[..., Any]:
    """The callable named by ``"module:function"`` (its module imported now), or ``target`` itself when callable."""
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def is_weights_file(source: str) -> bool:
    """Whether ``--pretrained source`` names a weights file (by suffix, or an existing path) rather than weights by name."""
    return Path(source).suffix.lower() in WEIGHTS_SUFFIXES or Path(source).exists()
