"""The string-named model registry: ``create_model("resnet18-small", num_classes=5, in_chans=1)``.

Modelled on timm's ``register_model`` / ``create_model`` / ``pretrained_cfg``. The built-in
architectures are the :class:`~classifykit.models.catalog.ModelSpec` entries of
:mod:`classifykit.models.catalog` (adding one touches that file only); :func:`register_model`
adds one at run time (a plugin or a test) by decorating its builder. Importing this module does
not import torch: a builder's module is imported when the first model of it is built.

A model returned by :func:`create_model` carries four plain attributes (not in its ``state_dict``):
``model_name``, ``classifier_name`` (dotted submodule name of the head, or None),
``stem_conv_name`` (dotted name of the first convolution, or None) and ``pretrained_report``
(the :class:`~classifykit.models.weights.LoadReport` of ``--pretrained``, or None). ``freeze`` and
``weights`` read them, so a model built here needs no other bookkeeping.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING

from classifykit.errors import ClassifykitError
from classifykit.models.catalog import BUILTIN, ModelSpec, NamedWeights, PretrainedCfg, is_weights_file, resolve

if TYPE_CHECKING:
    from torch import nn

_REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in BUILTIN}


def register_model(
    name: str,
    *,
    task: str = "image",
    input_size: int | None = None,
    classifier: str | None = None,
    stem_conv: str | None = None,
    min_input_size: int = 1,
    weights: tuple[NamedWeights, ...] = (),
    file_cfg: PretrainedCfg | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator that adds a model builder to the registry under ``name``; returns the builder unchanged.

    Image builders take ``(num_classes, in_chans, **kwargs)``; text builders (``task="text"``)
    take ``(num_classes, **kwargs)`` (vocabulary size, embedding size and so on as kwargs). The
    model is known once the decorated module is imported; built-in architectures are listed in
    :mod:`classifykit.models.catalog` instead, so that ``--help`` lists them without imports.

    Raises:
        ValueError: ``name`` is already registered or ``task`` is not image/text (a bug in our code).
    """

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelSpec(name, builder, task, input_size, classifier, stem_conv, min_input_size,
                                    tuple(weights), file_cfg)
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


def weights_names(spec: ModelSpec) -> tuple[str, ...]:
    """The ``--pretrained`` names ``spec`` accepts besides files: its own, then torchvision's (with ``DEFAULT``)."""
    names = tuple(w.name for w in spec.weights)
    if spec.torchvision is None:
        return names
    from classifykit.models.torchvision_models import torchvision_weights_names

    return names + torchvision_weights_names(spec.torchvision)


def check_pretrained(spec: ModelSpec, source: str) -> NamedWeights | None:
    """Check ``--pretrained source`` against architecture ``spec``; its :class:`NamedWeights`, or None.

    None means a weights file or a torchvision weights name (``IMAGENET1K_V2``, ``DEFAULT`` or
    the full ``ResNet50_Weights.IMAGENET1K_V2``, resolved by torchvision later).

    Raises:
        ClassifykitError: another architecture's weights name (``--pretrained efficientnet-lite0``
            with ``--model resnet18``), or neither a weights file nor a weights name of ``spec``.
    """
    for weights in spec.weights:
        if weights.name == source:
            return weights
    owners = [s.name for s in _REGISTRY.values() if any(w.name == source for w in s.weights)]
    if owners:
        raise ClassifykitError(
            f"--pretrained {source}: these weights fit only --model {' or '.join(owners)}, not {spec.name}."
        )
    if is_weights_file(source) or (spec.torchvision is not None and ("." in source or source in weights_names(spec))):
        return None
    names = ", ".join(weights_names(spec)) or "none"
    named = "".join(f" or {w.name} with --model {s.name}" for s in _REGISTRY.values() for w in s.weights)
    raise ClassifykitError(
        f"--pretrained {source}: not a weights file and not a weights name of --model {spec.name} "
        f"(its names: {names}); pass a local .pth/.pt/.safetensors weights file{named}."
    )


def preprocessing_for(model_name: str, pretrained: str | None) -> PretrainedCfg | None:
    """The input preprocessing that ``--pretrained pretrained`` expects for ``--model model_name``.

    None without weights (the data decides: channels detected, mean/std measured on the train
    split) and for text models. Named weights give their catalog entry; torchvision weights names
    their own ``weights.transforms()`` metadata (no download; ResNet-50 ``IMAGENET1K_V2``: resize
    232, crop 224, bilinear); a weights file gives the architecture's ``file_cfg``, or for a
    torchvision architecture its ``IMAGENET1K_V1`` preset. ``source`` of the result is ``pretrained``.

    Raises:
        ClassifykitError: unknown model name, or a ``pretrained`` that :func:`check_pretrained` refuses.
    """
    if pretrained is None:
        return None
    spec = get_spec(model_name)
    source = str(pretrained)
    weights = check_pretrained(spec, source)
    if spec.task != "image":
        return None
    if weights is not None:
        return weights.cfg.for_source(source)
    if is_weights_file(source) and spec.file_cfg is not None:
        return spec.file_cfg.for_source(source)
    if spec.torchvision is None:
        return None
    from classifykit.models.torchvision_models import preset_cfg

    preset = "IMAGENET1K_V1" if is_weights_file(source) else source
    return preset_cfg(spec.torchvision, preset).for_source(source)


def model_info(name: str) -> dict:
    """Facts about architecture ``name`` without building it, as a JSON-ready dict.

    Keys: ``name``, ``task``, ``input_size`` (default pixels, None for text), ``min_input_size``
    (smallest pixels that work), ``classifier`` and
    ``stem_conv`` (dotted module names or None), ``flops_known`` (True for image CNNs, whose
    forward FLOPs :func:`classifykit.models.flops.forward_flops` counts exactly with torch's
    ``FlopCounterMode``; False for text models, whose cost depends on sequence lengths),
    ``pretrained`` (named weights besides files) and ``pretrained_preprocessing`` (name ->
    ``{mean, std, input_size, crop_pct, interpolation, in_chans}`` for each named weights).

    Raises:
        ClassifykitError: unknown name.
    """
    spec = get_spec(name)
    names = weights_names(spec)
    return {
        "name": spec.name,
        "task": spec.task,
        "input_size": spec.input_size,
        "min_input_size": spec.min_input_size,
        "classifier": spec.classifier,
        "stem_conv": spec.stem_conv,
        "flops_known": spec.task == "image",
        "pretrained": list(names),
        "pretrained_preprocessing": {n: cfg_dict(preprocessing_for(name, n)) for n in names},
    }


def cfg_dict(cfg: PretrainedCfg | None) -> dict | None:
    """``cfg`` as the JSON-ready dict of ``pretrained_preprocessing``: lists for mean/std, no ``source``."""
    if cfg is None:
        return None
    return {"mean": list(cfg.mean), "std": list(cfg.std), "input_size": cfg.input_size,
            "crop_pct": cfg.crop_pct, "interpolation": cfg.interpolation, "in_chans": cfg.in_chans}


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
        pretrained: None, a weights file (.pth/.pt/.bin/.safetensors), a named weights of the
            architecture (``efficientnet-lite0``) or a torchvision weights name; see
            :func:`classifykit.models.weights.load_pretrained`. What was loaded is in the model's
            ``pretrained_report``.
        **kwargs: passed to the builder (e.g. ``dropout``).

    Raises:
        ClassifykitError: unknown name, ``num_classes < 2``, ``in_chans`` not 1 or 3, or weights
            that cannot be loaded (the message says why and what to pass instead).
    """
    spec = get_spec(name)
    if num_classes < 2:
        raise ClassifykitError(f"--model {name}: need at least 2 classes to train a classifier, got {num_classes}.")
    named = check_pretrained(spec, str(pretrained)) if pretrained is not None else None
    builder = resolve(spec.builder)
    if spec.task == "image":
        if in_chans not in (1, 3):
            raise ClassifykitError(f"--channels {in_chans}: image models take 1 (grey) or 3 (RGB) channels.")
        model = builder(*spec.builder_args, num_classes=num_classes, in_chans=in_chans, **kwargs)
    else:
        model = builder(*spec.builder_args, num_classes=num_classes, **kwargs)
    model.model_name = spec.name
    model.classifier_name = spec.classifier
    model.stem_conv_name = spec.stem_conv
    model.pretrained_report = None
    if pretrained is not None:
        from classifykit.models.weights import load_pretrained

        model.pretrained_report = load_pretrained(model, str(pretrained), spec=spec, num_classes=num_classes,
                                                  named=named)
    return model
