"""Weights (safetensors) and full training state (``checkpoints/last.pt``), both written atomically.

``model.safetensors`` holds tensors only and is what evaluate, predict and export load.
``last.pt`` is a ``torch.save`` of tensors and plain Python types only (dicts, lists, numbers,
strings), so ``torch.load(..., weights_only=True)`` reads it without unpickling any code.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from classifykit.errors import ClassifykitError
from classifykit.io import atomic_write_bytes


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DistributedDataParallel / DataParallel wrapper (``model`` itself otherwise)."""
    return getattr(model, "module", model)


def save_weights(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Write ``model``'s ``state_dict`` (parameters and buffers) as safetensors, atomically.

    Tensors are copied to contiguous CPU memory first: safetensors refuses shared storage (tied
    weights) and non-contiguous layouts (``channels_last``).
    """
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in unwrap(model).state_dict().items()}
    atomic_write_bytes(path, safetensors_bytes(state, metadata={"format": "pt"}))


def load_weights(model: torch.nn.Module, path: str | os.PathLike) -> torch.nn.Module:
    """Load a :func:`save_weights` file into ``model`` (strict: every key must match); returns ``model``.

    Raises:
        ClassifykitError: the file is missing, not safetensors, or its keys/shapes do not fit ``model``
            (the run's model.json describes a different architecture).
    """
    path = Path(path)
    if not path.is_file():
        raise ClassifykitError(f"{path}: no such weights file; train first or point at a run folder with model.safetensors.")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise ClassifykitError(f"{path}: not a readable safetensors file ({e}).") from e
    try:
        unwrap(model).load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ClassifykitError(
            f"{path}: weights do not fit the model built from model.json ({str(e).splitlines()[0]}); "
            "the file belongs to another architecture or class count."
        ) from e
    return model


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and CUDA generator states as tensors and plain types."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore generator states captured by :func:`rng_state` (CUDA only where devices exist)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """``torch.save`` ``state`` (tensors and plain types only) to ``path`` via temp file + ``os.replace``."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a :func:`save_checkpoint` file with ``weights_only=True`` onto the CPU.

    Raises:
        ClassifykitError: no checkpoint at ``path`` (nothing to resume), or it cannot be read
            (truncated, or not written by classifykit).
    """
    path = Path(path)
    if not path.is_file():
        raise ClassifykitError(f"{path}: no checkpoint to resume from; start a new run without --resume.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError or EOFError for bad files
        raise ClassifykitError(f"{path}: cannot read this checkpoint ({type(e).__name__}: {e}); start a new run.") from e


STATE_FORMAT = "classifykit-train-state-1"


def training_state(model, optimizer, scheduler, scaler, progress: dict[str, Any], rng: list, epochs: int,
                   steps_per_epoch: int) -> dict[str, Any]:
    """The ``last.pt`` body: state_dicts of the (unwrapped) model, optimizer, scheduler and scaler;
    ``progress`` (epoch, step, best_score, best_val_acc, best_epoch, bad_epochs, stopped_early,
    segment_start, metrics rows);
    ``rng`` (one :func:`rng_state` per rank); the schedule length; ``sampler_epoch`` (the number of
    epochs whose data order was used, i.e. the next ``set_epoch`` argument)."""
    return {
        "format": STATE_FORMAT,
        **progress,
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "scaler": None if scaler is None else scaler.state_dict(),
        "rng": rng,
        "sampler_epoch": progress["epoch"],
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
    }


def read_training_state(path: str | os.PathLike, *, steps_per_epoch: int, epochs: int) -> dict[str, Any]:
    """Read and check ``last.pt`` for resuming a run of ``epochs`` epochs × ``steps_per_epoch`` steps.

    ``epochs`` may differ from the checkpoint's (the run is extended or its schedule re-planned),
    but not be fewer than the epochs already run.

    Raises:
        ClassifykitError: no or unreadable checkpoint; one written with another number of steps per
            epoch (batch size or processes changed: the data order would not continue); or
            ``epochs`` below the epochs already run.
    """
    saved = load_checkpoint(path)
    if saved.get("format") != STATE_FORMAT:
        raise ClassifykitError(f"{path}: not a classifykit training checkpoint; start a new run.")
    if saved["steps_per_epoch"] != steps_per_epoch:
        raise ClassifykitError(
            f"{path} was written by a run of {saved['steps_per_epoch']} steps per epoch; this one has {steps_per_epoch}. "
            "Resume with the same --batch-size and number of processes."
        )
    if epochs < saved["epoch"]:
        raise ClassifykitError(
            f"{path}: {saved['epoch']} epochs already ran, more than --epochs {epochs}. Give --epochs "
            f"{saved['epoch'] + 1} or more to train further, or evaluate the run as it is."
        )
    return saved


def restore_training_state(saved: dict[str, Any], model, optimizer, scheduler, scaler, *, rank: int) -> None:
    """Load a :func:`read_training_state` body into the given objects and this rank's generators.

    ``scheduler`` None leaves the saved schedule unread (a new segment is built by the caller).
    """
    unwrap(model).load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(saved["scheduler"])
    if scaler is not None and saved["scaler"] is not None:
        scaler.load_state_dict(saved["scaler"])
    rngs = saved["rng"]
    set_rng_state(rngs[rank] if rank < len(rngs) else rngs[0])
