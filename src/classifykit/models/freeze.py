"""Transfer-learning strategies as optimizer parameter groups: linear probe, fine-tuning, discriminative LRs.

The model is split into the classifier head (``model.classifier_name``, set by ``create_model``)
and everything else, the backbone. :func:`param_groups` returns the two groups in the engine's
format (``docs/CONTRACTS.md``): the engine sets ``requires_grad=False`` on a group's parameters
for its first ``frozen_epochs`` epochs.

- ``--freeze backbone`` (linear probe): the backbone is frozen for all epochs.
- ``--fine-tune N``: the head trains alone for N epochs (so a random head does not send large
  gradients into pretrained features), then everything trains (Howard & Ruder 2018, "gradual
  unfreezing", in its two-stage form as in Kornblith et al. 2019).
- full fine-tuning: the backbone's LR is ``lr × backbone_lr_scale`` (discriminative learning
  rates, Howard & Ruder 2018; fastai's ``lr_max=slice(lr/10, lr)``) — pretrained features need
  smaller steps than a new head.

A frozen backbone's BatchNorm layers must also stop updating their running statistics, which
``model.train()`` would switch back on: call :func:`set_frozen_eval` after every ``model.train()``.
"""

from __future__ import annotations

from torch import nn

from classifykit.errors import ClassifykitError

FREEZE_CHOICES = ("none", "backbone")


def _head_prefix(model: nn.Module) -> str:
    head = getattr(model, "classifier_name", None)
    if not head:
        name = getattr(model, "model_name", type(model).__name__)
        raise ClassifykitError(
            f"--model {name}: it has no single classifier head, so --freeze / --fine-tune cannot apply; "
            "train it without them."
        )
    return f"{head}."


def split_backbone_head(model: nn.Module) -> tuple[list[tuple[str, nn.Parameter]], list[tuple[str, nn.Parameter]]]:
    """``(backbone, head)``: lists of ``(name, parameter)``, head = parameters under ``model.classifier_name``.

    Raises:
        ClassifykitError: the model has no known classifier head (``classifier_name`` None/absent).
    """
    prefix = _head_prefix(model)
    backbone, head = [], []
    for name, p in model.named_parameters():
        (head if name.startswith(prefix) else backbone).append((name, p))
    return backbone, head


def param_groups(
    model: nn.Module,
    lr: float,
    backbone_lr_scale: float = 1.0,
    freeze: str = "none",
    fine_tune_epochs: int = 0,
    epochs: int = 1,
) -> list[dict]:
    """Two parameter groups, ``head`` then ``backbone``, for ``engine.trainer.fit(param_groups=...)``.

    Each group is ``{"name", "params", "lr", "frozen_epochs"}``: the head has LR ``lr`` and is never
    frozen; the backbone has LR ``lr × backbone_lr_scale`` and is frozen for ``epochs`` epochs
    (``freeze="backbone"``), for ``fine_tune_epochs`` epochs, or not at all.

    Raises:
        ClassifykitError: ``freeze`` not none/backbone, both ``--freeze backbone`` and
            ``--fine-tune``, ``fine_tune_epochs`` not in ``0 .. epochs-1``, ``backbone_lr_scale``
            not in ``(0, 1]``, or a model without a classifier head.
    """
    if freeze not in FREEZE_CHOICES:
        raise ClassifykitError(f"--freeze {freeze!r}: use none or backbone.")
    if freeze == "backbone" and fine_tune_epochs:
        raise ClassifykitError(
            "--freeze backbone and --fine-tune N both given: --freeze backbone never unfreezes; "
            "use one of them."
        )
    if not 0 <= fine_tune_epochs < epochs:
        raise ClassifykitError(
            f"--fine-tune {fine_tune_epochs}: must be between 0 and --epochs - 1 ({epochs - 1}) so the "
            "whole model trains for at least one epoch; for head-only training use --freeze backbone."
        )
    if not 0 < backbone_lr_scale <= 1:
        raise ClassifykitError(f"--backbone-lr-scale {backbone_lr_scale}: must be in (0, 1].")
    backbone, head = split_backbone_head(model)
    frozen = epochs if freeze == "backbone" else fine_tune_epochs
    # Head first: the engine logs group 0's LR in metrics.csv, and the head is what always trains.
    return [
        {"name": "head", "params": [p for _, p in head], "lr": lr, "frozen_epochs": 0},
        {"name": "backbone", "params": [p for _, p in backbone], "lr": lr * backbone_lr_scale, "frozen_epochs": frozen},
    ]


def set_frozen_eval(model: nn.Module, *, freeze_bn_stats: bool = False) -> int:
    """Keep the frozen part of ``model`` in eval mode; call after every ``model.train()``. Returns modules switched.

    - Whole backbone frozen (linear probe, first ``--fine-tune`` epochs): everything but the head
      goes to eval mode, so BatchNorm normalises with its pretrained running statistics instead of
      updating them from the new data's batches (as timm's ``freeze_batch_norm_2d`` and Keras'
      ``trainable=False`` do), and dropout / stochastic depth inside the frozen backbone stay off
      — the model then computes exactly what the feature cache (:mod:`classifykit.models.features`) computes.
    - Otherwise, each BatchNorm layer whose affine parameters are all frozen goes to eval mode,
      and with ``freeze_bn_stats`` every BatchNorm layer outside the head does, trainable or not:
      fine-tuning then adapts the scales and shifts but normalises with the pretrained statistics
      (Keras' transfer-learning guide keeps BatchNorm in inference mode when fine-tuning). With
      little data this matters: EfficientNet-Lite0 fine-tuned on 5 Fashion-MNIST classes × 50
      images (64 px, 10 epochs) reached 80.2% test accuracy with frozen statistics and 53.2%
      with statistics updated from the batches (47.6% with BatchNorm momentum 0.1).

    A model in eval mode, or with nothing frozen and ``freeze_bn_stats`` False, is left as it is (returns 0).
    """
    if not model.training:
        return 0
    head = getattr(model, "classifier_name", None)
    if head:
        backbone, _ = split_backbone_head(model)
        if backbone and not any(p.requires_grad for _, p in backbone):
            model.eval()
            model.get_submodule(head).train()
            return sum(1 for m in model.modules() if not m.training)
    head_modules = set(model.get_submodule(head).modules()) if head else set()
    count = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module not in head_modules:
            params = list(module.parameters(recurse=False))
            frozen = bool(params) and not any(p.requires_grad for p in params)
            if frozen or (freeze_bn_stats and module.track_running_stats):
                module.eval()
                count += 1
    return count
