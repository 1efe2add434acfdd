"""Rebuild a run's best model from its files: ``model.json`` + ``model.safetensors`` -> ``nn.Module``."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from classifykit import runfolder as rf
from classifykit.errors import ClassifykitError
from classifykit.models.meta import ModelMeta


def read_model_meta(run_dir: str | Path) -> ModelMeta:
    """The :class:`~classifykit.models.meta.ModelMeta` of a finished run (any schema version).

    Raises:
        ClassifykitError: the folder has no ``model.json`` or ``model.safetensors`` (not a finished
            run), or ``model.json`` lacks ``task``, ``architecture`` or ``num_classes``.
    """
    run = Path(run_dir)
    for path in (run / rf.MODEL_META, run / rf.WEIGHTS):
        if not path.is_file():
            raise ClassifykitError(
                f"{path}: not found; give the folder of a finished run (train writes {rf.MODEL_META} "
                f"and {rf.WEIGHTS} once the first epoch is validated)."
            )
    return ModelMeta.load(run)


def load_saved_model(run_dir: str | Path, device: torch.device | None = None) -> tuple[nn.Module, ModelMeta]:
    """Build the run's architecture and load its best weights: ``(model in eval mode, ModelMeta)``.

    The one loader of trained models, used by evaluate, predict and export; the model is on the CPU,
    or on ``device`` when given.

    The model is built with ``create_model(architecture, num_classes, in_chans=..., **model_kwargs)``
    and no pretrained weights (``model.safetensors`` holds every parameter and buffer), then loaded
    strictly (``engine.checkpoint.load_weights``), so a file that does not fit fails here.

    Raises:
        ClassifykitError: missing files (see :func:`read_model_meta`), an unknown architecture, or
            weights whose names/shapes do not match it.
    """
    from classifykit.engine.checkpoint import load_weights
    from classifykit.models.registry import create_model

    run = Path(run_dir)
    meta = read_model_meta(run)
    model = create_model(meta.architecture, meta.num_classes, in_chans=meta.in_chans or 3, **meta.model_kwargs)
    load_weights(model, run / rf.WEIGHTS)
    model.eval()
    if device is not None:
        model.to(device)
    return model, meta
