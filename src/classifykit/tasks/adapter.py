"""The task adapter: what differs between tasks, behind one small protocol.

:mod:`classifykit.tasks.pipeline` runs every task the same way (run folder, config, seeding,
distributed start, model.json, fit, the test stage, the report; evaluate; predict) and asks the
task's adapter only for what differs: reading the source into the run folder's manifest, the
model.json description (preprocessing or vocabulary), the model, the fit (datasets, loaders, param
groups), the items of an evaluation and the inputs of a prediction. Adapters are registered by task
name (``model.json``'s ``task``) with :func:`register_adapter` (the built-in ``tasks.image`` and
``tasks.text`` register on import; :mod:`~classifykit.tasks.pipeline` imports them); :func:`get_adapter` finds one for a
run, :func:`adapter_for_config` for a configuration.

An adapter for a new model family plugs in the same way: an n-gram text model implements these
methods over its own featurizer and keeps the featurizer file's name in ``ModelMeta.extra``; a
transformer encoder keeps its tokenizer folder there and decodes predict inputs with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from classifykit.errors import ClassifykitError
from classifykit.models.meta import ModelMeta


@dataclass
class EvalSet:
    """The labelled items of one evaluation.

    Attributes:
        items: manifest keys (image paths, text row numbers) in loader order.
        loader: batches ``(inputs, targets int64 B)`` in ``items`` order (see ``engine.loop``).
        skipped: ``[(file, reason)]`` of a ``--data`` source's left-out inputs ([] for the run's split).
    """

    items: list[str]
    loader: Iterable
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class PredictInputs:
    """What a user asked to predict, in input order.

    Attributes:
        keys: the leading CSV cells of each input's row (image: ``[path]``; text: ``[input, text]``).
        errors: per input, ``""`` or why it cannot be predicted (known before the model runs).
        loader: batches ``(inputs, positions int64 B, errors list[str] B)`` over the inputs whose
            ``errors`` entry is empty; a non-empty error in a batch (an image that fails to decode)
            marks that position as unusable too.
        notes: lines to print once (e.g. how many blank lines were skipped).
    """

    keys: list[list[str]]
    errors: list[str]
    loader: Iterable
    notes: list[str] = field(default_factory=list)


class TaskAdapter(Protocol):
    """What one task supplies to :mod:`classifykit.tasks.pipeline`.

    Attributes:
        task: the task name written to ``model.json`` (``"image"``, ``"text"``).
        config_class: its configuration dataclass (``config.json`` is read back into it).
        key_columns: the prediction CSV's leading columns (followed by ``label, probability, top_k, error``).
        train_command: the CLI words that train it (``images`` in ``classifykit train images``).
    """

    task: str
    config_class: type
    key_columns: tuple[str, ...]
    train_command: str

    def start(self, cfg: Any) -> Any:
        """``cfg`` ready for a new run (paths made absolute), refusing what the dataclass cannot check
        (no data given, data that does not exist) before any run folder is made."""

    def read(self, cfg: Any, run: Path) -> Any:
        """Rank 0 of a new run: read the source; write ``manifest.csv``, ``skipped.csv``,
        ``classes.json`` and ``split.csv``; return the task's data (as :meth:`load` would)."""

    def load(self, cfg: Any, run: Path) -> Any:
        """The data of a run whose manifest and split are written (other ranks, ``--resume``)."""

    def describe(self, cfg: Any, run: Path, data: Any, is_main: bool) -> ModelMeta:
        """The ``model.json`` of a new run: preprocessing measured or taken from the weights
        (images), the vocabulary built and, on rank 0, saved (text)."""

    def resume(self, cfg: Any, run: Path, data: Any, meta: ModelMeta) -> None:
        """Restore into ``data`` what :meth:`describe` made for a run being resumed (cache, vocabulary)."""

    def build_model(self, cfg: Any, meta: ModelMeta, data: Any) -> Any:
        """The untrained model (pretrained weights or vectors loaded); the caller has seeded."""

    def fit(self, cfg: Any, run: Path, data: Any, meta: ModelMeta, model: Any, *, resume: bool,
            on_best: Callable[[int, float], Any]) -> Any:
        """Train with ``engine.trainer.fit`` on the data's train/val splits; returns its ``FitResult``."""

    def eval_set(self, run: Path, cfg: Any, meta: ModelMeta, data: str | None, *, batch_size: int,
                 num_workers: int, device: Any, cache: Any = None) -> EvalSet:
        """The run's test split (``data`` None; through ``cache`` when given) or every labelled item of
        ``data``, mapped onto ``meta.classes``."""

    def predict_inputs(self, run: Path, cfg: Any, meta: ModelMeta, inputs: list[str], texts: list[str],
                       encoding: str | None, *, batch_size: int, num_workers: int, device: Any) -> PredictInputs:
        """Read and decode a user's inputs into model batches, with a reason for each unusable one."""


_ADAPTERS: dict[str, TaskAdapter] = {}


def register_adapter(adapter: TaskAdapter) -> TaskAdapter:
    """Add ``adapter`` under ``adapter.task``; returns it.

    Raises:
        ValueError: the task is registered twice (a bug in our code).
    """
    if adapter.task in _ADAPTERS:
        raise ValueError(f"task adapter {adapter.task!r} is registered twice")
    _ADAPTERS[adapter.task] = adapter
    return adapter


def get_adapter(task: str) -> TaskAdapter:
    """The adapter of ``task`` (``model.json``'s ``task``).

    Raises:
        ClassifykitError: no adapter for that task.
    """
    try:
        return _ADAPTERS[task]
    except KeyError:
        raise ClassifykitError(f"task {task!r}: no such task; known tasks: {', '.join(sorted(_ADAPTERS))}.") from None


def adapter_for_config(cfg: Any) -> TaskAdapter:
    """The adapter whose ``config_class`` is ``type(cfg)``.

    Raises:
        ClassifykitError: no adapter takes this configuration class.
    """
    for adapter in _ADAPTERS.values():
        if type(cfg) is adapter.config_class:
            return adapter
    raise ClassifykitError(f"{type(cfg).__name__}: no task adapter takes this configuration.")
