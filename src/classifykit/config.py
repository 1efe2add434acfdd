"""Configuration: one dataclass per task; every CLI flag maps to one field.

Precedence: dataclass default < ``--config FILE`` (YAML or JSON) < flags given on the command line.
The resolved configuration, with the seed and library versions, is saved to ``config.json``.
Each field's ``metadata["help"]`` is the flag's help text, so the CLI and the config cannot drift;
``metadata["only"]`` names the one task (``ImageConfig.TASK`` / ``TextConfig.TASK``) whose command
shows a shared field's flag.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifykit.errors import ClassifykitError
from classifykit.models.catalog import builtin_names


def _f(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# field -> (check, what the value must be); None values of optional fields are not checked.
_RULES: dict[str, tuple[Any, str]] = {
    "epochs": (lambda v: v >= 1, "at least 1"),
    "batch_size": (lambda v: v >= 1, "at least 1"),
    "lr": (lambda v: v >= 0, "0 or more (e.g. 1e-3)"),
    "weight_decay": (lambda v: v >= 0, "0 or more"),
    "momentum": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "warmup_epochs": (lambda v: v >= 0, "0 or more"),
    "label_smoothing": (lambda v: 0 <= v < 1, "in [0, 1) (e.g. 0.1)"),
    "clip_grad_norm": (lambda v: v > 0, "above 0 (e.g. 1.0), or none to turn clipping off"),
    "patience": (lambda v: v >= 0, "0 (never stop early) or more"),
    "seed": (lambda v: 0 <= v < 2**32, "in 0 .. 2**32-1"),
    "num_workers": (lambda v: v >= -1, "-1 (auto), 0 or more"),
    "threads": (lambda v: v >= 0, "0 (auto) or more"),
    "log_every": (lambda v: v >= 1, "at least 1"),
    "val_ratio": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "test_ratio": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "fine_tune": (lambda v: v >= 0, "0 or more"),
    "backbone_lr_scale": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "input_size": (lambda v: v >= 8, "at least 8 pixels"),
    "channels": (lambda v: v in (1, 3), "1 (grey) or 3 (RGB)"),
    "embed_dim": (lambda v: v >= 1, "at least 1"),
    "hidden_size": (lambda v: v >= 1, "at least 1"),
    "num_layers": (lambda v: v >= 1, "at least 1"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "min_freq": (lambda v: v >= 1, "at least 1"),
    "max_vocab": (lambda v: v >= 3, "at least 3 (<pad>, <unk> and one word)"),
    "max_length": (lambda v: v >= 1, "at least 1"),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": ("adamw", "sgd"),
    "schedule": ("onecycle", "cosine", "constant"),
    "class_weights": ("none", "balanced"),
    "on_nonfinite": ("stop", "skip"),
    "select_metric": ("accuracy", "macro_f1", "balanced_accuracy"),
}


# Recurrent nets explode without clipping (Pascanu et al. 2013), so text runs clip unless told `none`.
RNN_CLIP_GRAD_NORM = 1.0
# Spellings of "no value" for an optional number, on the command line (`--clip-grad-norm none`) or in
# a config file (YAML `null` is None already; `none` is read as a string).
NONE_WORDS = ("none", "null")


def check_values(cfg: Any) -> None:
    """Refuse out-of-range option values up front, naming the flag and the valid range.

    Raises:
        ClassifykitError: e.g. ``--epochs 0``, ``--lr -1``, ``--clip-grad-norm -1``, ``--optimizer adam``.
    """
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if value is None:
            continue
        if f.name in _RULES and not _RULES[f.name][0](value):
            raise ClassifykitError(f"{_flag(f.name)} {value}: must be {_RULES[f.name][1]}.")
        if f.name in _CHOICES and value not in _CHOICES[f.name]:
            raise ClassifykitError(f"{_flag(f.name)} {value!r}: use one of {', '.join(_CHOICES[f.name])}.")


@dataclass
class TrainConfig:
    """Options of the training loop shared by image and text tasks (the engine reads only these).

    Values are checked on construction (:func:`check_values`), so a bad option fails before any work.
    """

    epochs: int = _f(10, "Maximum number of epochs.")
    batch_size: int = _f(64, "Batch size per process (under torchrun the global batch is this × world size).")
    optimizer: str = _f("adamw", "adamw or sgd (SGD with Nesterov momentum).")
    lr: float = _f(1e-3, "Peak learning rate (the head's LR when --backbone-lr-scale < 1).")
    weight_decay: float = _f(0.05, "Decoupled weight decay (AdamW) or L2 (SGD); not applied to norms and biases.")
    momentum: float = _f(0.9, "SGD momentum.")
    schedule: str = _f("onecycle", "onecycle, cosine (with linear warmup) or constant.")
    warmup_epochs: float = _f(1.0, "Linear warmup length in epochs for the cosine schedule.")
    label_smoothing: float = _f(0.0, "Label smoothing for cross-entropy (Szegedy et al. 2016).")
    class_weights: str = _f("none", "none or balanced (n_samples / (n_classes × count), as scikit-learn).")
    clip_grad_norm: float | None = _f(None, "Clip gradients to this global L2 norm; none turns clipping off.")
    amp: bool = _f(True, "Mixed precision on CUDA (bf16 where supported, else fp16 with a GradScaler).")
    cpu_bf16: bool = _f(False, "bfloat16 autocast for training steps on a CPU with native bf16 (AVX512-BF16 or AMX); "
                               "evaluation stays float32. Ignored, with a note, on other CPUs.")
    channels_last: bool = _f(True, "channels_last memory format for 4-D image inputs (faster convolutions on CUDA and CPU).",
                             only="image")
    patience: int = _f(5, "Early stopping: epochs without a strictly better val --select-metric before stopping; 0 disables. "
                          "With onecycle/cosine only epochs in the schedule's last 30% count.")
    select_metric: str = _f("accuracy", "Val metric that picks the best epoch and drives early stopping: accuracy, "
                                        "macro_f1 or balanced_accuracy (for imbalanced classes).")
    on_nonfinite: str = _f("stop", "stop or skip: what to do when the loss is NaN/inf.")
    device: str = _f("auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps.")
    seed: int = _f(0, "Seed for Python, NumPy, torch and DataLoader workers.")
    deterministic: bool = _f(False, "Deterministic algorithms (bit-exact resume on CPU; slower).")
    num_workers: int = _f(-1, "DataLoader worker processes; -1 picks min(4, CPU cores).")
    threads: int = _f(0, "CPU intra-op threads for training; 0 = the CPU cores left after the DataLoader workers (at least 1).")
    quiet: bool = _f(False, "No progress bars; only the summary lines.")
    log_every: int = _f(20, "Copy step figures from the device (steps.csv, progress) every N steps; "
                                     "printed when not on a terminal.")

    def __post_init__(self) -> None:
        check_values(self)


@dataclass
class DataConfig:
    """Where the data is and how it is split (shared by both tasks)."""

    data: str = _f("", "Image folder, manifest CSV/TSV, or text table / folder.")
    runs_dir: str = _f("runs", "Folder that holds run folders.")
    name: str | None = _f(None, "Run folder name (default: <data name>-<timestamp>).")
    val_ratio: float = _f(0.15, "Share of items in the validation split.")
    test_ratio: float = _f(0.25, "Share of items in the test split (the largest held-out share: small test sets are unstable).")
    root: str | None = _f(None, "Folder a manifest's relative paths start from (default: the manifest's folder).", only="image")
    encoding: str = _f("utf-8", "Text encoding of a manifest or text table (utf-8 also accepts a BOM).")
    path_column: str | None = _f(None, "Manifest column holding image paths (default: auto-detect).", only="image")
    text_column: str | None = _f(None, "Text table column holding texts (default: auto-detect).", only="text")
    label_column: str | None = _f(None, "Column holding labels (default: auto-detect).")


# The image architectures of the model catalog (torch-free, so --help stays fast).
IMAGE_MODELS = builtin_names("image")


@dataclass
class ImageConfig(DataConfig, TrainConfig):
    """``classifykit train images``: everything one image run needs."""

    TASK: typing.ClassVar[str] = "image"

    model: str = _f("resnet18-small", "Architecture: " + ", ".join(IMAGE_MODELS) + ".")
    pretrained: str | None = _f(None, "Weights: a local .pth/.pt/.safetensors file, efficientnet-lite0, or a torchvision weights name.")
    freeze: str = _f("none", "none or backbone (linear probe).")
    fine_tune: int = _f(0, "Train the head with the backbone frozen for N epochs, then unfreeze all.")
    freeze_bn_stats: bool | None = _f(None, "Keep the pretrained BatchNorm statistics while fine-tuning (default: on with --pretrained).")
    backbone_lr_scale: float = _f(0.1, "Backbone LR = lr × this when fine-tuning pretrained weights (discriminative LRs).")
    input_size: int | None = _f(None, "Square input size in pixels (default: the weights' size, else the images' median side within [64, 224]; smallcnn [28, 224]).")
    channels: int | None = _f(None, "1 or 3 input channels (default: auto-detected from the training images).")
    augment: str = _f("light", "none, light or strong (training split only).")
    cache: bool = _f(True, "Decode and resize each image once into a uint8 memory-mapped cache.")
    feature_cache: bool = _f(True, "With a frozen backbone and no augmentation, compute backbone features once.")


@dataclass
class TextConfig(DataConfig, TrainConfig):
    """``classifykit train text``: everything one text run needs."""

    TASK: typing.ClassVar[str] = "text"

    rnn: str = _f("lstm", "lstm or gru.")
    clip_grad_norm: float | None = _f(RNN_CLIP_GRAD_NORM, "Clip gradients to this global L2 norm (recurrent models want it); "
                                                          "none turns clipping off.")
    embed_dim: int = _f(100, "Embedding size (overridden by --embeddings' size).")
    hidden_size: int = _f(128, "RNN hidden size per direction.")
    num_layers: int = _f(1, "RNN layers.")
    bidirectional: bool = _f(True, "Bidirectional RNN.")
    dropout: float = _f(0.3, "Dropout on embeddings and between RNN layers.")
    pooling: str = _f("last", "last (final hidden state of both directions), mean or max.")
    embeddings: str | None = _f(None, "Pretrained vectors: a GloVe-format .txt/.txt.gz file or glove-6b-50d (package).")
    freeze_embeddings: bool = _f(False, "Keep pretrained embeddings fixed.")
    min_freq: int = _f(2, "Vocabulary: minimum token count.")
    max_vocab: int = _f(50000, "Vocabulary: maximum size including <pad> and <unk>.")
    max_length: int = _f(256, "Truncate texts to this many tokens.")
    bucket: bool = _f(True, "Length-bucketed batches (sort by length within shuffled chunks).")


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that change results, for ``config.json``."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("classifykit", "torch", "torchvision", "numpy", "pillow", "scikit-learn", "tokenizers", "safetensors"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (``.yaml``/``.yml``) or JSON config file into a dict of field values.

    Raises:
        ClassifykitError: the file is missing, unparsable, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ClassifykitError(f"--config {path}: no such file.")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(text) or {}
        else:
            values = json.loads(text)
    except Exception as e:  # yaml.YAMLError / json.JSONDecodeError
        raise ClassifykitError(f"--config {path}: cannot parse it ({e}).") from e
    if not isinstance(values, dict):
        raise ClassifykitError(f"--config {path}: expected a mapping of option names to values.")
    return values


def build_config(cls: type, file_values: dict[str, Any] | None = None, **overrides: Any):
    """Make a ``cls`` instance: defaults, then ``file_values``, then non-None ``overrides``.

    Keys may use dashes or underscores. Raises :class:`ClassifykitError` naming an unknown key.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for source, items in (("config file", file_values or {}), ("option", overrides)):
        for key, value in items.items():
            k = key.replace("-", "_")
            if k not in names:
                raise ClassifykitError(f"Unknown {source} key {key!r}; valid keys: {', '.join(sorted(names))}.")
            if source == "option" and value is None:
                continue
            values[k] = _typed(k, value, hints[k], source)
    return cls(**values)


def _typed(name: str, value: Any, tp: Any, source: str) -> Any:
    """``value`` checked against field type ``tp`` (ints accepted for floats; ``none``/``null`` for an
    optional number or flag is None); raises naming the key."""
    allowed = [a for a in (typing.get_args(tp) or (tp,))]
    base = next(a for a in allowed if a is not type(None))
    if type(None) in allowed and (value is None or (base is not str and isinstance(value, str)
                                                    and value.strip().lower() in NONE_WORDS)):
        return None
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, base) and not (base is int and isinstance(value, bool)):
        return value
    kind = {int: "a whole number", float: "a number", bool: "true or false", str: "a string"}[base]
    raise ClassifykitError(f"{source} key {name!r}: {value!r} is not {kind}.")


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """The resolved config as a JSON-ready dict (what goes into ``config.json``, plus versions)."""
    return {"config": dataclasses.asdict(cfg), "versions": library_versions()}
