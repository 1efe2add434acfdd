"""The frozen-backbone fast path: compute backbone features once, train only the head on them.

With ``--freeze backbone`` and no augmentation, every epoch would push the same images through
the same frozen backbone. Instead:

1. :func:`cached_features` runs the backbone once per split (eval mode, no gradients) and keeps
   the classifier head's input, ``N×D`` float32, in ``features/<split>.safetensors`` in the run
   folder (reused when the file matches the backbone's weights and the item count);
2. :func:`feature_dataset` wraps them as a ``TensorDataset`` of ``(D-vector, target)`` and
   :func:`head_module` is the model's own head module, so ``engine.trainer.fit(head, ...)``
   trains it like any model (a linear probe: Kornblith et al. 2019, "Do Better ImageNet Models
   Transfer Better?");
3. :func:`merge_head_weights` copies the best head weights that ``fit`` saved back into the full
   model and rewrites ``model.safetensors`` with the full model, which predict loads.

The features are the exact input of the head module in eval mode (captured by a forward hook),
so the head gives the full model's eval logits on them (tested to 1e-5). Dropout placed before
the head and stochastic depth inside the backbone are inactive on this path, as they are in a
frozen backbone kept in eval mode (:func:`classifykit.models.freeze.set_frozen_eval`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn
from torch.utils.data import TensorDataset

from classifykit import runfolder
from classifykit.errors import ClassifykitError
from classifykit.io import atomic_write_bytes



def head_module(model: nn.Module) -> nn.Module:
    """The classifier head module of ``model`` (``model.classifier_name``): ``B×D -> B×K`` logits.

    It is the model's own module, not a copy: training it trains the full model's head.

    Raises:
        ClassifykitError: the model has no known classifier head.
    """
    name = getattr(model, "classifier_name", None)
    if not name:
        raise ClassifykitError(
            f"--model {getattr(model, 'model_name', type(model).__name__)}: no single classifier head, "
            "so the feature cache cannot apply; use --no-feature-cache."
        )
    return model.get_submodule(name)


def backbone_features(model: nn.Module, loader, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Head inputs for every batch of ``loader``: ``(features N×D float32 CPU, targets N int64 CPU)``.

    ``loader`` yields ``(inputs, targets)`` (inputs a Tensor ``B×C×H×W`` or a tuple passed
    positionally, the first moved to ``device``). The model runs in eval mode under
    ``torch.no_grad`` (not ``inference_mode``: the features feed autograd later); its train/eval
    mode is restored afterwards.
    """
    head = head_module(model)
    captured: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda _m, args, _out: captured.append(args[0].detach().float().cpu()))
    was_training = model.training
    model.eval()
    feats, targets = [], []
    try:
        with torch.no_grad():
            for inputs, y in loader:
                items = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
                first = items[0].to(device)
                if first.dim() == 4:
                    # NHWC images: same values, about 2× faster for depthwise convolutions on CPU
                    # (EfficientNet-Lite0 at 112 px on one core: 8.6 -> 20.9 images/s).
                    first = first.contiguous(memory_format=torch.channels_last)
                model(first, *items[1:])
                feats.append(captured.pop())
                targets.append(y.to("cpu", torch.int64))
    finally:
        hook.remove()
        model.train(was_training)
    if not feats:
        raise ClassifykitError("feature cache: the data loader yielded no items.")
    return torch.cat(feats).flatten(1), torch.cat(targets)


def backbone_fingerprint(model: nn.Module) -> str:
    """SHA-256 of every backbone tensor (parameters and buffers outside the head), names included.

    Identifies the frozen backbone the cached features came from; a different checkpoint or
    architecture gives a different fingerprint.
    """
    head = getattr(model, "classifier_name", None) or ""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        if head and name.startswith(f"{head}."):
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return digest.hexdigest()


def cached_features(
    model: nn.Module, loader, device: torch.device, run_dir: str | os.PathLike, split: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`backbone_features` for ``split``, read from / written to ``run_dir/features/<split>.safetensors``.

    The file is reused only when its recorded backbone fingerprint and item count match
    ``model`` and ``loader.dataset``; otherwise the features are computed and written atomically.
    """
    path = Path(run_dir) / runfolder.FEATURES_DIR / f"{split}.safetensors"
    fingerprint = backbone_fingerprint(model)
    n = len(loader.dataset)
    if path.is_file():
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            if meta.get("backbone") == fingerprint and meta.get("n") == str(n):
                data = load_file(str(path))
                return data["features"], data["targets"]
        except (SafetensorError, OSError, KeyError):
            pass  # a damaged cache is recomputed, never trusted
    features, targets = backbone_features(model, loader, device)
    meta = {"backbone": fingerprint, "n": str(n), "model": str(getattr(model, "model_name", ""))}
    atomic_write_bytes(path, safetensors_bytes({"features": features.contiguous(), "targets": targets}, metadata=meta))
    return features, targets


def feature_dataset(features: torch.Tensor, targets: torch.Tensor) -> TensorDataset:
    """``TensorDataset`` of ``(features[i] D float32, targets[i] int64)`` for the engine's loaders."""
    return TensorDataset(features, targets)


def merge_head_weights(model: nn.Module, weights_path: str | os.PathLike) -> None:
    """Load the head weights ``fit`` saved at ``weights_path`` into ``model``; rewrite the file with the full model.

    ``weights_path`` is the ``model.safetensors`` written by ``engine.trainer.fit(head_module(model), ...)``
    (keys of the head module, e.g. ``weight``, ``bias``); afterwards it holds ``model.state_dict()``
    (atomically written), as predict and evaluate expect.

    Raises:
        ClassifykitError: the file is missing or its keys do not fit the head.
    """
    path = Path(weights_path)
    try:
        head_state = load_file(str(path))
        head_module(model).load_state_dict(head_state, strict=True)
    except (SafetensorError, OSError, RuntimeError) as e:
        raise ClassifykitError(f"{path}: cannot load the trained head from it ({str(e).splitlines()[0]}).") from e
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, safetensors_bytes(state, metadata={"format": "pt"}))
