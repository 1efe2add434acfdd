"""A run's best model loaded once, mapping inputs to predictions: the one prediction path.

``classifykit predict`` (:func:`classifykit.tasks.pipeline.predict`, which writes the rows as CSV)
and ``classifykit serve`` (:mod:`classifykit.serve`, which answers them as JSON) both go through
:class:`Predictor`: the same loader (``models.saved.load_saved_model``), the same decoding and
tokenizing (the task adapter's ``predict_inputs``: ``data.decode.decode_image`` and the run's
evaluation transforms for images; the run's tokenizer for texts), the same batching and the same
calibrated probabilities, ``softmax(logits / temperature)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import torch

from classifykit.data.dataset import resolve_num_workers
from classifykit.engine.device import amp_dtype, configure_cpu_threads, select_device
from classifykit.engine.loop import autocast, model_inputs
from classifykit.models.saved import load_saved_model
from classifykit.tasks import image, text  # noqa: F401  (the built-in adapters register on import)
from classifykit.tasks.adapter import get_adapter
from classifykit.tasks.common import load_saved_config


@dataclass
class Prediction:
    """One input's answer.

    Attributes:
        label: the most probable class ("" when ``error``).
        probability: its calibrated probability, 0..1 (None when ``error``).
        top_k: ``[(class, probability), ...]``, most probable first, k = min(top_k, classes).
        error: ``""``, or why the input cannot be predicted (the adapter's wording, e.g.
            ``"cat.png: not an image Pillow can read; ..."`` or ``"empty text: ..."``).
    """

    label: str
    probability: float | None
    top_k: list[tuple[str, float]] = field(default_factory=list)
    error: str = ""


@dataclass
class Predictions:
    """What :meth:`Predictor.predict` returns: per input (in input order) its key cells
    (the adapter's ``key_columns``) and its :class:`Prediction`; ``notes`` to print once."""

    keys: list[list[str]]
    rows: list[Prediction]
    notes: list[str]


class Predictor:
    """A run's best model on a device, ready to predict lists of inputs.

    Args:
        run: a finished run folder (``model.json`` + ``model.safetensors``).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        threads: torch CPU threads (0: the cores left after the DataLoader workers).
        num_workers: DataLoader workers for image decoding (-1: auto; 0: in this process, as the
            server does, whose inputs are in memory).

    Attributes:
        meta: the run's ``ModelMeta``; ``adapter``: its task adapter; ``cfg``: its training config.

    Raises:
        ClassifykitError: not a finished run (see ``models.saved.load_saved_model``).
    """

    def __init__(self, run: str | Path, *, device: str = "auto", threads: int = 0, num_workers: int = -1) -> None:
        self.run = Path(run)
        self.device = select_device(device)
        configure_cpu_threads(self.device, threads, resolve_num_workers(num_workers))
        self.num_workers = num_workers
        self.model, self.meta = load_saved_model(self.run, self.device)
        self.adapter = get_adapter(self.meta.task)
        self.cfg = load_saved_config(self.run, self.adapter.config_class)

    def predict(self, inputs: list[str | IO[bytes]], texts: list[str], *, top_k: int = 3, batch_size: int = 64,
                encoding: str | None = None) -> Predictions:
        """Predict ``inputs`` (image files, folders, manifests or named in-memory binary files; text
        files or ``-``) and ``texts`` as the adapter reads them (see ``TaskAdapter.predict_inputs``).

        Every input gets a row in input order; ``batch_size`` inputs go through the model at once
        (autocast exactly when the run trained with ``--amp``).

        Raises:
            ClassifykitError: inputs that cannot be read at all, or the wrong kind for the task.
        """
        wanted = self.adapter.predict_inputs(self.run, self.cfg, self.meta, list(inputs), list(texts), encoding,
                                             batch_size=batch_size, num_workers=self.num_workers, device=self.device)
        classes, errors = self.meta.classes, list(wanted.errors)
        k = max(1, min(top_k, len(classes)))
        results: dict[int, Prediction] = {}
        dtype = amp_dtype(self.device, self.cfg.amp)
        with torch.inference_mode():
            for batch, positions, batch_errors in wanted.loader:
                with autocast(self.device, dtype):
                    logits = self.model(*model_inputs(batch, self.device))
                top_p, top_i = torch.softmax(logits.float() / self.meta.temperature, 1).topk(k, 1)
                for j, i in enumerate(positions.tolist()):
                    if batch_errors[j]:
                        errors[i] = batch_errors[j]
                    else:
                        pairs = [(classes[c], p) for p, c in zip(top_p[j].tolist(), top_i[j].tolist())]
                        results[i] = Prediction(pairs[0][0], pairs[0][1], pairs)
        rows = [results.get(i) or Prediction("", None, [], errors[i]) for i in range(len(wanted.keys))]
        return Predictions(wanted.keys, rows, list(wanted.notes))

