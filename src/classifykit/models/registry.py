"""The string-named model registry: ``create_model("resnet18-small", num_classes=5, in_chans=1)``.

Modelled on timm's ``register_model`` / ``create_model``: adding an architecture touches one file,
which decorates a builder with :func:`register_model`. Each entry also records what the rest of
classifykit needs to know about the architecture without building it (:func:`model_info`): the
task (image or text), the default input size, which submodule is the classifier head (timm's
``default_cfg["classifier"]``) and which convolution reads the input channels.

A model returned by :func:`create_model` carries three plain attributes (not in its ``state_dict``):
``model_name``, ``classifier_name`` (dotted submodule name of the head, or None) and
``stem_conv_name`` (dotted name of the first convolution, or None). ``freeze`` and ``pretrained``
read them, so a model built here needs no other bookkeeping.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from classifykit.errors import ClassifykitError


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one architecture.

    Attributes:
        name: registry name (``resnet18-small``).
        builder: ``builder(num_classes=K, in_chans=C, **kwargs)`` for image models,
            ``builder(num_classes=K, **kwargs)`` for text models; returns an ``nn.Module``.
        task: ``"image"`` or ``"text"``.
        input_size: default square input size in pixels for image models (None for text).
        classifier: dotted name of the final classifier module (replaced for a new class count,
            trained alone in a linear probe), or None when the model has no single head.
        stem_conv: dotted name of the first ``nn.Conv2d`` (adapted to ``in_chans``), or None.
        pretrained: named weights this architecture can load besides weights files
            (e.g. ``("efficientnet-lite0",)`` or torchvision's ``("IMAGENET1K_V1", ...)``).
        min_input_size: smallest square input in pixels that leaves a non-empty feature map.
    """

    name: str
    builder: Callable[..., nn.Module]
    task: str = "image"
    input_size: int | None = None
    classifier: str | None = None
    stem_conv: str | None = None
    pretrained: tuple[str, ...] = ()
    min_input_size: int = 1


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    task: str = "image",
    input_size: int | None = None,
    classifier: str | None = None,
    stem_conv: str | None = None,
    pretrained: tuple[str, ...] = (),
    min_input_size: int = 1,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator that adds a model builder to the registry under ``name``; returns the builder unchanged.

    Image builders take ``(num_classes, in_chans, **kwargs)``; text builders (``task="text"``)
    take ``(num_classes, **kwargs)`` (vocabulary size, embedding size and so on as kwargs).

    Raises:
        ValueError: ``name`` is already registered or ``task`` is not image/text (a bug in our code).
    """
    if task not in ("image", "text"):
        raise ValueError(f"register_model({name!r}): task must be 'image' or 'text', not {task!r}")

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelSpec(
            name, builder, task, input_size, classifier, stem_conv, tuple(pretrained), min_input_size
        )
        return builder

    return decorate


def list_models(task: str | None = None) -> list[str]:
    """Sorted registry names, optionally only those of one task (``"image"`` or ``"text"``)."""
    return sorted(n for n, s in _REGISTRY.items() if task is None or s.task == task)


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered as ``name``.

    Raises:
        ClassifykitError: unknown name; the message lists the available names and the closest match.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        pass
    close = difflib.get_close_matches(name, list(_REGISTRY), n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ClassifykitError(
        f"--model {name!r}: no such architecture.{hint} Available: {', '.join(list_models())}."
    )


def model_info(name: str) -> dict:
    """Facts about architecture ``name`` without building it, as a JSON-ready dict.

    Keys: ``name``, ``task``, ``input_size`` (default pixels, None for text), ``min_input_size``
    (smallest pixels that work), ``classifier`` and
    ``stem_conv`` (dotted module names or None), ``flops_known`` (True for image CNNs, whose
    forward FLOPs :func:`classifykit.models.flops.forward_flops` counts exactly with torch's
    ``FlopCounterMode``; False for text models, whose cost depends on sequence lengths),
    ``pretrained`` (named weights besides files) and ``pretrained_preprocessing`` (source ->
    ``{mean, std, input_size, in_chans}`` for each named source).

    Raises:
        ClassifykitError: unknown name.
    """
    from classifykit.models.pretrained import pretrained_preprocessing

    spec = get_spec(name)
    return {
        "name": spec.name,
        "task": spec.task,
        "input_size": spec.input_size,
        "min_input_size": spec.min_input_size,
        "classifier": spec.classifier,
        "stem_conv": spec.stem_conv,
        "flops_known": spec.task == "image",
        "pretrained": list(spec.pretrained),
        "pretrained_preprocessing": {s: pretrained_preprocessing(s, name) for s in spec.pretrained},
    }


def create_model(
    name: str,
    num_classes: int,
    in_chans: int = 3,
    pretrained: str | None = None,
    **kwargs,
) -> nn.Module:
    """Build architecture ``name`` with a ``num_classes``-way head; returns an ``nn.Module`` in train mode.

    Image models map ``B×in_chans×H×W`` float inputs to ``B×num_classes`` logits at any
    ``H, W`` their strides allow (all use global average pooling); text models map their inputs
    (see the builder) to ``B×num_classes`` logits and ignore ``in_chans``.

    Args:
        name: registry name (see :func:`list_models`).
        num_classes: number of classes K (>= 2).
        in_chans: input channels of image models (1 or 3).
        pretrained: None, a weights file (.pth/.pt/.safetensors), ``efficientnet-lite0`` or a
            torchvision weights name; see :func:`classifykit.models.pretrained.load_pretrained`.
        **kwargs: passed to the builder (e.g. ``dropout``).

    Raises:
        ClassifykitError: unknown name, ``num_classes < 2``, ``in_chans`` not 1 or 3, or weights
            that cannot be loaded (the message says why and what to pass instead).
    """
    spec = get_spec(name)
    if num_classes < 2:
        raise ClassifykitError(f"--model {name}: need at least 2 classes to train a classifier, got {num_classes}.")
    if spec.task == "image":
        if in_chans not in (1, 3):
            raise ClassifykitError(f"--channels {in_chans}: image models take 1 (grey) or 3 (RGB) channels.")
        model = spec.builder(num_classes=num_classes, in_chans=in_chans, **kwargs)
    else:
        model = spec.builder(num_classes=num_classes, **kwargs)
    model.model_name = spec.name
    model.classifier_name = spec.classifier
    model.stem_conv_name = spec.stem_conv
    if pretrained is not None:
        from classifykit.models.pretrained import load_pretrained

        load_pretrained(model, pretrained, model_name=name, num_classes=num_classes)
    return model
