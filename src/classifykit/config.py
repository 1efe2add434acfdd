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
from collections.abc import Callable
from typing import Any

from classifykit.errors import ClassifykitError
from classifykit.models.catalog import WEIGHTS_SUFFIXES, builtin_names


def _f(default: Any, help: str, *, check: tuple[Callable[[Any], bool], str] | None = None,
       choices: tuple[str, ...] | None = None, **kw: Any) -> Any:
    """A config field: ``help`` is the flag's help text; ``check=(predicate, what the value must be)``
    and ``choices`` are the option's rule, checked by :func:`check_values` (None values of optional
    fields are not checked)."""
    return field(default=default, metadata={"help": help, "check": check, "choices": choices, **kw})


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# Recurrent nets explode without clipping (Pascanu et al. 2013), so text runs clip unless told `none`.
RNN_CLIP_GRAD_NORM = 1.0
# Spellings of "no value" for an optional number, on the command line (`--clip-grad-norm none`) or in
# a config file (YAML `null` is None already; `none` is read as a string).
NONE_WORDS = ("none", "null")


def check_values(cfg: Any) -> None:
    """Refuse out-of-range option values up front, naming the flag and the valid range or choices,
    then the rules between options (``cfg.check_together()``, where the class has one).

    Raises:
        ClassifykitError: e.g. ``--epochs 0``, ``--lr -1``, ``--clip-grad-norm -1``, ``--optimizer adam``.
    """
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if value is None:
            continue
        check, choices = f.metadata.get("check"), f.metadata.get("choices")
        if check is not None and not check[0](value):
            raise ClassifykitError(f"{_flag(f.name)} {value}: must be {check[1]}.")
        if choices is not None and value not in choices:
            raise ClassifykitError(f"{_flag(f.name)} {value!r}: use one of {', '.join(choices)}.")
    if hasattr(cfg, "check_together"):
        cfg.check_together()


def _at_least(low: float) -> Callable[[Any], bool]:
    return lambda v: v >= low


def _share(v: float) -> bool:
    return 0 <= v < 1


def _is_image_model(name: str) -> bool:
    """Whether ``name`` is a registered image architecture (also one registered at run time).

    Raises:
        ClassifykitError: no such architecture (the registry's message names the closest match).
    """
    from classifykit.models.registry import get_spec  # torch loads when a config is built, not for --help

    return name == "auto" or get_spec(name).task == "image"


def _weights_source(v: str) -> bool:
    """A name (efficientnet-lite0, a torchvision weights name) or a weights file that exists."""
    path = Path(v)
    looks_like_file = path.suffix.lower() in WEIGHTS_SUFFIXES or "/" in v or "\\" in v
    return path.is_file() if looks_like_file else True


_RATIO = (_share, "at least 0 and below 1 (a share of the items, e.g. 0.15)")
_CLIP = (lambda v: v > 0, "above 0 (e.g. 1.0), or none to turn clipping off")
# The cells and poolings of models.rnn (tested equal; listed here so --help needs no torch import).
RNN_CELLS = ("lstm", "gru")
RNN_POOLINGS = ("last", "mean", "max")
TEXT_MODELS = ("auto", "lstm", "gru", "ngram", "minilm", "hf-encoder")
TRUNCATIONS = ("head", "head_tail")  # text.truncation.TRUNCATIONS (tested equal)


@dataclass
class TrainConfig:
    """Options of the training loop shared by image and text tasks (the engine reads only these).

    Values are checked on construction (:func:`check_values`), so a bad option fails before any work.
    """

    epochs: int = _f(10, "Maximum number of epochs.", check=(_at_least(1), "at least 1"))
    batch_size: int = _f(64, "Batch size per process (under torchrun the global batch is this × world size).",
                         check=(_at_least(1), "at least 1"))
    optimizer: str = _f("adamw", "adamw or sgd (SGD with Nesterov momentum).", choices=("adamw", "sgd"))
    lr: float = _f(1e-3, "Peak learning rate (the head's LR when --backbone-lr-scale < 1).",
                  check=(_at_least(0), "0 or more (e.g. 1e-3)"))
    weight_decay: float = _f(0.05, "Decoupled weight decay (AdamW) or L2 (SGD); not applied to norms and biases.",
                            check=(_at_least(0), "0 or more"))
    momentum: float = _f(0.9, "SGD momentum.", check=(_share, "in [0, 1)"))
    schedule: str = _f("onecycle", "onecycle, cosine (with linear warmup) or constant.",
                       choices=("onecycle", "cosine", "constant"))
    warmup_epochs: float = _f(1.0, "Linear warmup length in epochs for the cosine schedule.",
                              check=(_at_least(0), "0 or more"))
    label_smoothing: float = _f(0.0, "Label smoothing for cross-entropy (Szegedy et al. 2016).",
                                check=(_share, "in [0, 1) (e.g. 0.1)"))
    class_weights: str = _f("none", "none or balanced (n_samples / (n_classes × count), as scikit-learn).",
                            choices=("none", "balanced"))
    clip_grad_norm: float | None = _f(None, "Clip gradients to this global L2 norm; none turns clipping off.",
                                        check=_CLIP)
    amp: bool = _f(True, "Mixed precision on CUDA (bf16 where supported, else fp16 with a GradScaler).")
    cpu_bf16: bool = _f(False, "bfloat16 autocast for training steps on a CPU with native bf16 (AVX512-BF16 or AMX); "
                               "evaluation stays float32. Ignored, with a note, on other CPUs.")
    channels_last: bool = _f(True, "channels_last memory format for 4-D image inputs (faster convolutions on CUDA and CPU).",
                             only="image")
    patience: int = _f(5, "Early stopping: epochs without a strictly better val --select-metric before stopping; 0 disables. "
                          "With onecycle/cosine only epochs in the schedule's last 30% count.",
                       check=(_at_least(0), "0 (never stop early) or more"))
    select_metric: str = _f("accuracy", "Val metric that picks the best epoch and drives early stopping: accuracy, "
                                        "macro_f1 or balanced_accuracy (for imbalanced classes).",
                            choices=("accuracy", "macro_f1", "balanced_accuracy"))
    on_nonfinite: str = _f("stop", "stop or skip: what to do when the loss is NaN/inf.", choices=("stop", "skip"))
    device: str = _f("auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps.")
    seed: int = _f(0, "Seed for Python, NumPy, torch and DataLoader workers.", check=(lambda v: 0 <= v < 2**32, "in 0 .. 2**32-1"))
    deterministic: bool = _f(False, "Deterministic algorithms (bit-exact resume on CPU; slower).")
    num_workers: int = _f(-1, "DataLoader worker processes; -1 picks min(4, CPU cores).",
                          check=(_at_least(-1), "-1 (auto), 0 or more"))
    threads: int = _f(0, "CPU intra-op threads for training; 0 = the CPU cores left after the DataLoader workers (at least 1).",
                     check=(_at_least(0), "0 (auto) or more"))
    quiet: bool = _f(False, "No progress bars; only the summary lines.")
    log_every: int = _f(20, "Copy step figures from the device (steps.csv, progress) every N steps; "
                            "printed when not on a terminal.", check=(_at_least(1), "at least 1"))

    def __post_init__(self) -> None:
        check_values(self)


@dataclass
class DataConfig:
    """Where the data is and how it is split (shared by both tasks)."""

    data: str = _f("", "Image folder, manifest CSV/TSV, or text table / folder.")
    runs_dir: str = _f("runs", "Folder that holds run folders.")
    name: str | None = _f(None, "Run folder name (default: <data name>-<timestamp>).")
    val_ratio: float = _f(0.15, "Share of items in the validation split.", check=_RATIO)
    test_ratio: float = _f(0.25, "Share of items in the test split (the largest held-out share: small test sets are unstable).",
                          check=_RATIO)
    root: str | None = _f(None, "Folder a manifest's relative paths start from (default: the manifest's folder).", only="image")
    encoding: str = _f("utf-8", "Text encoding of a manifest or text table (utf-8 also accepts a BOM).")
    path_column: str | None = _f(None, "Manifest column holding image paths (default: auto-detect).", only="image")
    text_column: str | None = _f(None, "Text table column holding texts (default: auto-detect).", only="text")
    label_column: str | None = _f(None, "Column holding labels (default: auto-detect).")

    def check_together(self) -> None:
        """The rule between the split shares: val + test must leave a train share."""
        if self.val_ratio + self.test_ratio >= 1.0:
            raise ClassifykitError(
                f"--val-ratio {self.val_ratio} + --test-ratio {self.test_ratio} = {self.val_ratio + self.test_ratio:g} "
                "leaves nothing to train on; make the sum below 1 (default 0.15 + 0.25).")


# The image architectures of the model catalog (torch-free, so --help stays fast).
IMAGE_MODELS = builtin_names("image")


@dataclass
class ImageConfig(DataConfig, TrainConfig):
    """``classifykit train images``: everything one image run needs."""

    TASK: typing.ClassVar[str] = "image"

    model: str = _f("auto", "Architecture: auto (decided from the data, the device and --time-budget; candidates "
                            "compared on val) or one of " + ", ".join(IMAGE_MODELS) + ".",
                     check=(_is_image_model, "auto or an image architecture (" + ", ".join(IMAGE_MODELS) + ")"))
    time_budget: float = _f(120.0, "Seconds --model auto may spend: a fine-tune is tried only when its timed estimate "
                                   "fits; from-scratch epochs and input size are cut to fit.",
                            check=(lambda v: v > 0, "above 0 seconds"))
    class_weights: str | None = _f(None, "none or balanced (n_samples / (n_classes × count), as scikit-learn); default: "
                                         "balanced when the largest train class has ≥ 3× the items of the smallest.",
                                   choices=("none", "balanced"))
    select_metric: str | None = _f(None, "Val metric that picks the best epoch and drives early stopping: accuracy, "
                                         "macro_f1 or balanced_accuracy; default: macro_f1 when the train classes are "
                                         "imbalanced (largest/smallest ≥ 3), else accuracy.",
                                   choices=("accuracy", "macro_f1", "balanced_accuracy"))
    pretrained: str | None = _f(None, "Weights: a local .pth/.pt/.safetensors file, efficientnet-lite0, or a torchvision weights name.",
                               check=(_weights_source, "an existing weights file (" + "/".join(WEIGHTS_SUFFIXES) + "), efficientnet-lite0 or a torchvision weights name (no such file)"))
    freeze: str = _f("none", "none or backbone (linear probe).", choices=("none", "backbone"))
    fine_tune: int = _f(0, "Train the head with the backbone frozen for N epochs, then unfreeze all.",
                       check=(_at_least(0), "0 or more"))
    freeze_bn_stats: bool | None = _f(None, "Keep the pretrained BatchNorm statistics while fine-tuning (default: on with --pretrained).")
    backbone_lr_scale: float = _f(0.1, "Backbone LR = lr × this when fine-tuning pretrained weights (discriminative LRs).",
                                 check=(lambda v: 0 < v <= 1, "in (0, 1]"))
    input_size: int | None = _f(None, "Square input size in pixels (default: the weights' size, else the images' median side within [64, 224]; smallcnn [28, 224]).",
                                check=(_at_least(8), "at least 8 pixels"))
    channels: int | None = _f(None, "1 or 3 input channels (default: auto-detected from the training images).",
                             check=(lambda v: v in (1, 3), "1 (grey) or 3 (RGB)"))
    augment: str = _f("light", "none, light or strong (training split only).", choices=("none", "light", "strong"))
    cache: bool = _f(True, "Decode and resize each image once into a uint8 memory-mapped cache.")
    cache_dir: str | None = _f(None, "Shared decoded-image cache folder (default $CLASSIFYKIT_CACHE_DIR, else RUNS_DIR/.cache/images).")
    feature_cache: bool = _f(True, "With a frozen backbone and no augmentation, compute backbone features once.")

    def check_together(self) -> None:
        """The split rule of :class:`DataConfig` and the fine-tuning rules between options."""
        super().check_together()
        if self.freeze == "backbone" and self.fine_tune:
            raise ClassifykitError("--freeze backbone and --fine-tune N both given: --freeze backbone never unfreezes; "
                                   "use one of them.")
        if self.fine_tune >= self.epochs:
            raise ClassifykitError(
                f"--fine-tune {self.fine_tune}: must be between 0 and --epochs - 1 ({self.epochs - 1}) so the whole "
                "model trains for at least one epoch; for head-only training use --freeze backbone.")


@dataclass
class TextConfig(DataConfig, TrainConfig):
    """``classifykit train text``: everything one text run needs."""

    TASK: typing.ClassVar[str] = "text"

    model: str = _f("auto", "auto (the n-gram model, then the neural models that fit the data and --time-budget; the "
                            "best on val wins), lstm, gru, ngram (tf-idf word and character n-grams + logistic "
                            "regression), minilm (all-MiniLM-L6-v2, fine-tuned) or hf-encoder (--encoder DIR).",
                    choices=TEXT_MODELS)
    rnn: str | None = _f(None, "Deprecated: use --model lstm or --model gru.", choices=RNN_CELLS)
    encoder: str | None = _f(None, "A Hugging Face encoder folder (config.json, model.safetensors, tokenizer.json) for "
                                   "--model hf-encoder, or the encoder --model auto tries instead of MiniLM.")
    freeze_encoder: bool = _f(False, "Train only a linear head on the encoder's cached features (fast) instead of "
                                     "fine-tuning it.")
    time_budget: float = _f(900.0, "--model auto: seconds the neural candidates may take in all; a candidate whose "
                                   "estimated time does not fit what is left is skipped.",
                            check=(lambda v: v > 0, "above 0 (seconds)"))
    clip_grad_norm: float | None = _f(RNN_CLIP_GRAD_NORM, "Clip gradients to this global L2 norm (recurrent models want it); "
                                                          "none turns clipping off.", check=_CLIP)
    embed_dim: int = _f(100, "Embedding size (overridden by --embeddings' size).", check=(_at_least(1), "at least 1"))
    hidden_size: int = _f(128, "RNN hidden size per direction.", check=(_at_least(1), "at least 1"))
    num_layers: int = _f(1, "RNN layers.", check=(_at_least(1), "at least 1"))
    bidirectional: bool = _f(True, "Bidirectional RNN.")
    dropout: float = _f(0.3, "Dropout on embeddings and between RNN layers.", check=(_share, "in [0, 1)"))
    pooling: str = _f("last", "last (final hidden state of both directions), mean or max.", choices=RNN_POOLINGS)
    embeddings: str | None = _f(None, "Pretrained vectors: a GloVe-format .txt/.txt.gz file or glove-6b-50d (package).")
    freeze_embeddings: bool = _f(False, "Keep pretrained embeddings fixed.")
    min_freq: int = _f(2, "Vocabulary: minimum token count.", check=(_at_least(1), "at least 1"))
    max_vocab: int = _f(50000, "Vocabulary: maximum size including <pad> and <unk>.",
                        check=(_at_least(3), "at least 3 (<pad>, <unk> and one word)"))
    max_length: int | None = _f(None, "Cut texts to this many tokens; default: from the training texts (95th "
                                      "percentile, at most 1024; encoders at most 256).", check=(_at_least(1), "at least 1"))
    truncation: str = _f("head_tail", "How a longer text is cut: head (its first tokens) or head_tail (first quarter "
                                      "from its start, the rest from its end).", choices=TRUNCATIONS)
    bucket: bool = _f(True, "Length-bucketed batches (sort by length within shuffled chunks).")

    def check_together(self) -> None:
        """The split rule of :class:`DataConfig`, a val split (model selection needs one) and distinct
        text and label columns."""
        super().check_together()
        if self.val_ratio == 0:
            raise ClassifykitError("--val-ratio 0: training keeps the epoch with the best val accuracy, so it needs a val "
                                   "split; give --val-ratio above 0 (default 0.15).")
        if self.rnn is not None and self.model not in ("auto", self.rnn):
            raise ClassifykitError(f"--rnn {self.rnn} and --model {self.model} disagree; --rnn is deprecated, give "
                                   f"--model {self.rnn} alone.")
        if self.model == "hf-encoder" and not self.encoder:
            raise ClassifykitError("--model hf-encoder needs --encoder DIR: a Hugging Face model folder "
                                   "(config.json, model.safetensors, tokenizer.json).")
        if self.text_column is not None and self.text_column == self.label_column:
            raise ClassifykitError(f"--text-column {self.text_column} and --label-column {self.label_column} name the "
                                   "same column; the labels must be in a column of their own.")


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
