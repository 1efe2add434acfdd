"""Training a :class:`~classifykit.models.text_encoder.TextEncoderClassifier`: frozen or fine-tuned, and how long it takes.

- **Frozen** (:func:`fit_frozen_head`): the encoder runs once per split and its pooled features are
  cached (``models.features.cached_features``, as the image linear probe does); ``engine.trainer.fit``
  trains the linear head alone on them; ``models.features.merge_head_weights`` writes encoder + head
  into ``model.safetensors``, so the saved model still takes token ids.
- **Fine-tuned** (:func:`finetune_param_groups` + ``engine.trainer.fit`` on the whole model): every
  weight trains, the pretrained encoder at a small LR and the new head at a larger one (discriminative
  LRs, as ``models.freeze.param_groups``). :data:`FINETUNE_RECIPE` is the measured recipe: AdamW,
  encoder LR 5e-5 (BERT's fine-tuning range, Devlin et al. 2019), head 1e-3, one-cycle, batch 32,
  weight decay 0.01, bf16 autocast on CPUs with native bf16, 2 epochs, 64 tokens on snippets
  (``bench/bench_encoder.py``).

:func:`estimate_seconds` times a few steps of the real model so a task can say how long training will
take before starting, and ``--model auto`` can skip the encoder when it would not fit ``--time-budget``.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import replace

import torch
from torch import nn
from torch.utils.data import DataLoader

from classifykit import runfolder
from classifykit.config import TrainConfig
from classifykit.engine.loop import autocast
from classifykit.engine.trainer import FitResult, fit
from classifykit.errors import ClassifykitError
from classifykit.models.features import cached_features, feature_dataset, head_module, merge_head_weights
from classifykit.models.freeze import param_groups

MODES = ("frozen", "finetune")
ENCODER_LR = 5e-5
HEAD_LR = 1e-3
#: ``TrainConfig`` fields of the fine-tuning recipe (``dataclasses.replace(cfg, **FINETUNE_RECIPE)``).
#: ``lr`` is the head's; the encoder gets :data:`ENCODER_LR` through :func:`finetune_param_groups`.
#: Clipping at 1.0 is Hugging Face Trainer's ``max_grad_norm`` default.
FINETUNE_RECIPE = {"optimizer": "adamw", "lr": HEAD_LR, "schedule": "onecycle", "batch_size": 32,
                   "weight_decay": 0.01, "epochs": 2, "cpu_bf16": True, "clip_grad_norm": 1.0, "patience": 0}
#: ``TrainConfig`` fields for the head on cached features: a logistic regression trained by the engine
#: (every epoch is a pass over N×H floats, milliseconds), no clipping needed.
FROZEN_HEAD_RECIPE = {"optimizer": "adamw", "lr": 1e-2, "schedule": "onecycle", "batch_size": 64,
                      "weight_decay": 0.0, "epochs": 30, "clip_grad_norm": None, "patience": 0}
FINETUNE_MAX_LENGTH = 64  # snippets: 99% of Rotten Tomatoes texts fit (bench/bench_encoder.py)


def finetune_param_groups(model: nn.Module, lr: float = ENCODER_LR, head_lr: float = HEAD_LR) -> list[dict]:
    """``[head at head_lr, encoder at lr]`` for ``fit(param_groups=...)``; nothing frozen.

    Built by :func:`classifykit.models.freeze.param_groups` (head first, so metrics.csv logs the head's LR).

    Raises:
        ClassifykitError: ``lr`` above ``head_lr`` or not positive.
    """
    if not 0 < lr <= head_lr:
        raise ClassifykitError(f"encoder LR {lr:g}: must be above 0 and at most the head's LR {head_lr:g}.")
    return param_groups(model, head_lr, backbone_lr_scale=lr / head_lr)


def fit_frozen_head(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader, cfg: TrainConfig,
                    run_dir: str | os.PathLike, device: torch.device, *, feature_batch_size: int = 256) -> FitResult:
    """Train only ``model``'s head on cached encoder features; ``run_dir/model.safetensors`` ends with the full model.

    ``train_loader``/``val_loader`` yield ``((input_ids, attention_mask), targets)``; only their datasets
    and collate functions are used: features are computed in eval mode (dropout off) once per split, in
    length-sorted batches of ``feature_batch_size`` (padding is ignored by the mask pooling, and sorting
    makes it rare), and kept in ``run_dir/features/{train,val}.safetensors`` (reused when the encoder
    and the item count match). The head is then trained by ``engine.trainer.fit`` with ``cfg`` (e.g.
    ``replace(cfg, **FROZEN_HEAD_RECIPE)``) and merged back (``merge_head_weights``); ``model.json``'s
    ``best_epoch``/``best_val_acc`` are the head's.

    Returns:
        ``fit``'s :class:`~classifykit.engine.trainer.FitResult`.

    Raises:
        ClassifykitError: an empty split, or what ``fit`` raises.
    """
    from classifykit.text.sampler import BucketBatchSampler

    model.to(device)
    feats = {}
    for split, loader in (("train", train_loader), ("val", val_loader)):
        ds = loader.dataset
        sorted_loader = DataLoader(ds, batch_sampler=BucketBatchSampler(ds.lengths, feature_batch_size, shuffle=False),
                                   collate_fn=loader.collate_fn)
        feats[split] = cached_features(model, sorted_loader, device, run_dir, split)
    head = head_module(model)
    head_train = DataLoader(feature_dataset(*feats["train"]), batch_size=cfg.batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(cfg.seed))
    head_val = DataLoader(feature_dataset(*feats["val"]), batch_size=4 * cfg.batch_size)
    result = fit(head, head_train, head_val, replace(cfg, channels_last=False), run_dir)
    merge_head_weights(model, os.path.join(run_dir, runfolder.WEIGHTS))
    return result


def _probe_step_seconds(model: nn.Module, mode: str, device: torch.device, batch_size: int, tokens: int,
                        steps: int, dtype: torch.dtype | None) -> float:
    """Median seconds of one training step (finetune) or one no-grad forward (frozen) on random ids."""
    vocab = int(model.encoder.config.vocab_size)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000 if vocab > 2000 else 1, vocab, (batch_size, tokens), generator=g).to(device)
    mask = torch.ones_like(ids)
    targets = torch.zeros(batch_size, dtype=torch.int64, device=device)
    was_training = model.training
    times = []
    if mode == "finetune":
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.0)
        model.train()
        for _ in range(steps + 1):  # the first step allocates optimizer state: not timed
            start = time.perf_counter()
            with autocast(device, dtype):
                loss = nn.functional.cross_entropy(model(ids, mask).float(), targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            _sync(device)
            times.append(time.perf_counter() - start)
        model.load_state_dict(state)  # lr 0 leaves weights as they were, but AdamW's decay would not
    else:
        model.eval()
        with torch.no_grad():
            for _ in range(steps + 1):
                start = time.perf_counter()
                model(ids, mask)
                _sync(device)
                times.append(time.perf_counter() - start)
    model.train(was_training)
    return sorted(times[1:])[len(times[1:]) // 2]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def estimate_seconds(num_texts: int, mean_tokens: float, epochs: int, mode: str, device: torch.device | str, *,
                     eval_texts: int = 0, model: nn.Module | None = None, batch_size: int = 32,
                     eval_batch_size: int = 256, probe_steps: int = 3, cpu_bf16: bool = True) -> float:
    """Estimated seconds to train the encoder classifier, from timing a few batches of the real model.

    - ``finetune``: ``epochs × ceil(num_texts / batch_size)`` training steps plus, each epoch, a
      forward pass over ``eval_texts`` (the val split) — steps timed at ``batch_size × mean_tokens``
      under bf16 autocast when ``cpu_bf16`` and the CPU has native bf16 (as ``fit`` trains);
    - ``frozen``: one float32 forward pass over ``num_texts + eval_texts`` (the feature cache); the head's
      epochs on cached features take well under a second and are not counted.

    ``mean_tokens`` is the mean encoded length (specials included, after truncation); with length-bucketed
    batches padding adds little. Excluded: loading the model and tokenizing (seconds), and the test
    pass (add ``eval_texts`` for it). The probe costs ``probe_steps + 1`` steps; ``model`` defaults to
    a freshly loaded ``minilm`` (so the package must be installed); a given model is left unchanged.

    Raises:
        ClassifykitError: unknown ``mode``, ``num_texts < 1``, or (without ``model``) no packaged encoder.
    """
    from classifykit.engine.device import train_amp_dtype
    from classifykit.models.registry import create_model

    if mode not in MODES:
        raise ClassifykitError(f"encoder mode {mode!r}: use {' or '.join(MODES)}.")
    if num_texts < 1:
        raise ClassifykitError("estimate_seconds: need at least one training text.")
    device = torch.device(device)
    if model is None:
        model = create_model("minilm", 2)
    model.to(device)
    tokens = max(2, round(mean_tokens))
    fwd = _probe_step_seconds(model, "frozen", device, min(eval_batch_size, 64), tokens, probe_steps, None)
    per_text_forward = fwd / min(eval_batch_size, 64)
    if mode == "frozen":
        return (num_texts + eval_texts) * per_text_forward
    dtype = train_amp_dtype(device, True, cpu_bf16)
    step = _probe_step_seconds(model, "finetune", device, batch_size, tokens, probe_steps, dtype)
    return epochs * (math.ceil(num_texts / batch_size) * step + eval_texts * per_text_forward)
