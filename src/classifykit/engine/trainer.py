"""``fit``: the one training loop for image and text models (plain PyTorch, explicit functions).

Modelled on torchvision's ``references/classification/train.py``: ``train_one_epoch`` runs the
steps, ``engine.loop.evaluate`` the validation pass, and ``fit`` the epochs, early stopping,
best-model saving and the resumable checkpoint. Under torchrun every process runs ``fit``; the model
is wrapped in ``DistributedDataParallel`` and only rank 0 prints and writes files.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from classifykit import runfolder
from classifykit.config import TrainConfig
from classifykit.engine import checkpoint as ckpt
from classifykit.engine.device import configure_cpu_threads, native_cpu_bf16, select_device, sum_dtype, train_amp_dtype
from classifykit.engine.distributed import all_gather_objects, all_reduce_sum, barrier, dist_info
from classifykit.engine.logs import RunLogs, steps_header
from classifykit.engine.loop import autocast, evaluate, model_inputs
from classifykit.engine.optim import build_optimizer, build_param_groups, build_scheduler
from classifykit.engine.progress import EpochProgress, progress_mode, summary
from classifykit.engine.seed import seed_everything
from classifykit.errors import ClassifykitError


@dataclass
class FitResult:
    """What ``fit`` did: best epoch (1-based; 0 if none had finite weights), its val accuracy (0..1)."""

    best_epoch: int
    best_val_acc: float
    epochs_run: int
    stopped_early: bool


@dataclass
class EpochStats:
    """Training figures of one epoch, summed over all processes (``n`` = samples in non-skipped steps)."""

    loss: float
    acc: float
    n: int
    grad_norm_mean: float
    grad_norm_max: float
    clipped_frac: float
    skipped: int
    seconds: float
    samples_per_s: float
    lr: float = float("nan")  # LR of param group 0 used by the epoch's last step (steps.csv's last lr)


class NonFiniteLossError(ClassifykitError):
    """The loss (or gradient norm) became NaN or infinite with ``on_nonfinite="stop"``."""


def balanced_class_weights(targets, num_classes: int) -> torch.Tensor:
    """Class weights ``n_samples / (num_classes × count_c)`` (float32 ``K``) for ``CrossEntropyLoss``.

    Computed by ``sklearn.utils.class_weight.compute_class_weight("balanced", ...)``: each class
    then contributes equally to the loss in expectation (King & Zeng 2001 heuristic, as scikit-learn).

    Raises:
        ClassifykitError: a class in ``0..num_classes-1`` has no training item.
    """
    y = np.asarray(targets, dtype=np.int64).reshape(-1)
    counts = np.bincount(y, minlength=num_classes)
    if (counts == 0).any():
        empty = np.flatnonzero(counts == 0).tolist()
        raise ClassifykitError(f"--class-weights balanced: class index(es) {empty} have no training items; add data or drop the class.")
    weights = compute_class_weight("balanced", classes=np.arange(num_classes), y=y)
    return torch.tensor(weights, dtype=torch.float32)


MIN_LAYER_GROUPS = 3  # fewer cannot tell early layers from late ones (the vanishing-gradient check)


def layer_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Parameters by the first component of their name (``stem``, ``layer1``, ``fc``), in model order.

    When that gives fewer than three groups (a model built as ``features`` + ``classifier``
    containers, like torchvision's MobileNet or our ``smallcnn``), parameters inside a container are
    grouped by the first two components instead (``features.0``, ``features.1``, …, ``fc``).
    """
    named = list(ckpt.unwrap(model).named_parameters())
    depth = 1 if len({n.split(".", 1)[0] for n, _ in named}) >= MIN_LAYER_GROUPS else 2
    groups: dict[str, list[nn.Parameter]] = {}
    for name, p in named:
        parts = name.split(".")
        key = ".".join(parts[: depth if len(parts) > depth else 1])
        groups.setdefault(key, []).append(p)
    return groups


def _group_norms(groups: dict[str, list[nn.Parameter]], device: torch.device) -> tuple[torch.Tensor, list[bool]]:
    """Pre-clip L2 grad norm per layer group (0 where no gradient) and which groups had gradients."""
    norms, present = [], []
    for params in groups.values():
        grads = [p.grad for p in params if p.grad is not None]
        present.append(bool(grads))
        norms.append(torch.nn.utils.get_total_norm(grads).float() if grads else torch.zeros((), device=device))
    return torch.stack(norms).to(device), present


def train_one_epoch(
    model: nn.Module,
    loader,
    optimizer: torch.optim.Optimizer,
    scheduler,
    loss_fn: nn.Module,
    device: torch.device,
    *,
    epoch: int,
    first_step: int,
    groups: dict[str, list[nn.Parameter]],
    scaler: torch.amp.GradScaler | None = None,
    dtype: torch.dtype | None = None,
    clip_grad_norm: float | None = None,
    on_nonfinite: str = "stop",
    channels_last: bool = False,
    progress: EpochProgress | None = None,
    step_rows: list | None = None,
    train_mode: Callable[[nn.Module], Any] | None = None,
) -> EpochStats:
    """One pass over ``loader``: forward, backward, grad norms, clipping, optimizer and LR steps.

    ``model`` is put in train mode, then ``train_mode(unwrapped model)`` decides which parts stay in
    eval mode (the task's freezing policy, e.g. ``models.freeze.set_frozen_eval``); without it,
    BatchNorm layers whose parameters are all frozen stay in eval mode.

    The global grad norm is computed before clipping as the L2 norm of the per-group norms
    (``torch.nn.utils.get_total_norm``) and, when ``clip_grad_norm`` is set, applied with
    ``clip_grads_with_norm_`` — the two halves of ``clip_grad_norm_``. The scheduler steps once per
    batch, skipped or not, so the schedule always spans ``epochs × len(loader)`` steps.
    A non-finite loss (or grad norm without a GradScaler) raises :class:`NonFiniteLossError`
    (``on_nonfinite="stop"``) or skips the update (``"skip"``); with an fp16 GradScaler an
    overflowing step is skipped by the scaler and counted as skipped. ``step_rows`` (if given)
    receives one ``steps.csv`` row per step, written before an error is raised.
    """
    model.train()
    if train_mode is not None:
        train_mode(ckpt.unwrap(model))
    else:
        _freeze_batchnorm_stats(model)
    params = [p for g in groups.values() for p in g]
    loss_total = correct_total = n_total = 0.0  # over non-skipped steps
    norms_seen: list[float] = []
    clipped = skipped = steps = 0
    lr = optimizer.param_groups[0]["lr"]
    start = time.perf_counter()
    for i, (inputs, targets) in enumerate(loader, 1):
        step = first_step + i
        args = model_inputs(inputs, device, channels_last)
        targets = targets.to(device, non_blocking=device.type == "cuda")
        with autocast(device, dtype):
            logits = model(*args)
        loss = loss_fn(logits.float(), targets)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        if scaler is not None:
            scaler.unscale_(optimizer)
        group_norms, present = _group_norms(groups, device)
        total_norm = torch.linalg.vector_norm(group_norms)
        n = targets.shape[0]
        correct = (logits.argmax(1) == targets).sum()
        batch = torch.stack([loss.detach() * n, correct, torch.tensor(n, device=device)]).to(sum_dtype(device))
        batch = all_reduce_sum(batch)  # identical decisions on every rank under DDP
        values = torch.cat([batch, total_norm.reshape(1).to(batch.dtype), group_norms.to(batch.dtype)]).tolist()
        loss_sum, correct, count, gnorm = values[:4]
        lr = optimizer.param_groups[0]["lr"]
        bad_loss = not math.isfinite(loss_sum)
        bad_grad = not math.isfinite(gnorm)
        was_clipped = skip = False
        if bad_loss or (bad_grad and scaler is None):
            skip = True
            if on_nonfinite == "stop":
                if step_rows is not None:
                    step_rows.append(_step_row(step, epoch, loss_sum / count, lr, gnorm, False, True, values[4:], present))
                raise NonFiniteLossError(f"non-finite {'loss' if bad_loss else 'gradient norm'} at epoch {epoch}, step {step}")
        elif bad_grad:  # fp16 overflow: GradScaler.step skips the update and lowers the scale
            skip = True
            scaler.step(optimizer)
        else:
            if clip_grad_norm is not None:
                was_clipped = gnorm > clip_grad_norm
                torch.nn.utils.clip_grads_with_norm_(params, clip_grad_norm, total_norm)
            (scaler.step(optimizer) if scaler is not None else optimizer.step())
        if scaler is not None:
            scaler.update()
        optimizer.zero_grad(set_to_none=True)
        if scheduler is not None:
            scheduler.step()
        steps += 1
        skipped += skip
        if not skip:
            loss_total, correct_total, n_total = loss_total + loss_sum, correct_total + correct, n_total + count
            norms_seen.append(gnorm)
            clipped += was_clipped
        if step_rows is not None:
            step_rows.append(_step_row(step, epoch, loss_sum / count, lr, gnorm, was_clipped, skip, values[4:], present))
        if progress is not None:
            progress.update(i, loss_total / n_total if n_total else float("nan"), n_total / (time.perf_counter() - start))
    seconds = time.perf_counter() - start
    n = n_total
    return EpochStats(
        loss=loss_total / n if n else float("nan"),
        acc=correct_total / n if n else float("nan"),
        n=int(n),
        grad_norm_mean=float(np.mean(norms_seen)) if norms_seen else float("nan"),
        grad_norm_max=float(np.max(norms_seen)) if norms_seen else float("nan"),
        clipped_frac=clipped / steps if steps else 0.0,
        skipped=skipped,
        seconds=seconds,
        samples_per_s=n / seconds if seconds > 0 else float("nan"),
        lr=lr,
    )


def _step_row(step, epoch, loss, lr, gnorm, clipped, skipped, group_norms, present) -> list:
    return [step, epoch, loss, lr, gnorm, int(clipped), int(skipped),
            *[g if ok else "" for g, ok in zip(group_norms, present)]]


def _apply_freezing(optimizer: torch.optim.Optimizer, epoch: int) -> None:
    """Parameters of groups with ``frozen_epochs = N`` get ``requires_grad = epoch > N`` (epoch 1-based)."""
    for group in optimizer.param_groups:
        if group.get("frozen_epochs", 0) > 0:
            for p in group["params"]:
                p.requires_grad_(epoch > group["frozen_epochs"])


def _freeze_batchnorm_stats(model: nn.Module) -> None:
    """BatchNorm layers whose parameters are all frozen stay in eval mode, so running stats don't drift.

    A frozen (e.g. pretrained) backbone should see exactly the normalization it was trained with;
    updating running means from a new dataset while its weights cannot adapt hurts linear probes.
    """
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            own = list(m.parameters(recurse=False))
            if own and not any(p.requires_grad for p in own):
                m.eval()


def _set_sampler_epoch(loader, epoch: int) -> None:
    for obj in (getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        if hasattr(obj, "set_epoch"):
            obj.set_epoch(epoch)


def _finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in ckpt.unwrap(model).state_dict().values() if t.is_floating_point())


def fit(
    model: nn.Module,
    train_loader,
    val_loader,
    cfg: TrainConfig,
    run_dir,
    *,
    class_weights: torch.Tensor | None = None,
    param_groups: list[dict[str, Any]] | None = None,
    resume: bool = False,
    train_mode: Callable[[nn.Module], Any] | None = None,
    on_best: Callable[[int, float], Any] | None = None,
) -> FitResult:
    """Train ``model`` for up to ``cfg.epochs`` epochs; keep the best weights by validation accuracy.

    Batches are ``(inputs, targets)`` (see ``engine.loop``); the model returns logits ``B×K``.
    Loss: cross-entropy with ``cfg.label_smoothing`` and ``class_weights`` (float ``K``, e.g.
    :func:`balanced_class_weights`); validation loss is plain cross-entropy. ``param_groups`` (see
    ``engine.optim.build_param_groups``) may carry ``"frozen_epochs": N``: those parameters are
    frozen in epochs 1..N (and their BatchNorm layers kept in eval mode). ``train_mode`` (see
    :func:`train_one_epoch`) replaces that BatchNorm rule with the caller's own, called after every
    ``model.train()``. Each epoch fit calls the
    train loader's ``sampler``/``batch_sampler`` ``set_epoch(epoch - 1)`` if it has one.

    Writes to ``run_dir`` (rank 0 only): ``metrics.csv`` and ``steps.csv`` (docs/CONTRACTS.md),
    ``checkpoints/last.pt`` every epoch, ``model.safetensors`` whenever val accuracy is strictly
    better than before and the weights are finite; then (rank 0) it calls ``on_best(epoch, val_acc)``
    (the task records them in ``model.json``). Stops early after ``cfg.patience`` epochs without improvement (0: never).
    ``resume=True`` continues from ``checkpoints/last.pt`` at the next epoch; with
    ``cfg.deterministic`` on the CPU the result is bit-identical to an uninterrupted run, given a
    sampler whose order depends only on seed and epoch, or one drawing from the restored global RNG,
    and ``persistent_workers=False``.

    Fit seeds Python/NumPy/torch with ``cfg.seed + rank`` (the model is built, and seeded, by the
    caller). Under torchrun (process group joined by ``engine.distributed.init_distributed``) the
    model is wrapped in ``DistributedDataParallel``; metrics are summed over processes.

    Raises:
        ClassifykitError: a bad option (device, optimizer, schedule), an empty loader,
            no checkpoint to resume or one from different settings, or a non-finite loss with
            ``on_nonfinite="stop"`` (the message names epoch and step; the best model is kept).
    """
    run_dir = Path(run_dir)
    info = dist_info()
    device = select_device(cfg.device)
    if info.world_size > 1 and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
    seed_everything(cfg.seed + info.rank, cfg.deterministic)
    configure_cpu_threads(device, cfg.threads, getattr(train_loader, "num_workers", 0))
    # channels_last helps on the CPU too (measured: smallcnn 28 px 1.3×, resnet18-small 224 px 1.35×).
    channels_last = cfg.channels_last
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(cfg, build_param_groups(model, param_groups, cfg.weight_decay))
    steps_per_epoch = len(train_loader)
    if steps_per_epoch == 0:
        raise ClassifykitError("The training data is empty: the train split needs at least one item.")
    scheduler = build_scheduler(cfg, optimizer, steps_per_epoch)
    dtype = train_amp_dtype(device, cfg.amp, cfg.cpu_bf16)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    loss_fn = nn.CrossEntropyLoss(
        weight=None if class_weights is None else class_weights.to(device, torch.float32),
        label_smoothing=cfg.label_smoothing,
    )
    val_loss_fn = nn.CrossEntropyLoss()
    groups = layer_groups(model)
    logs = RunLogs(run_dir, steps_header(list(groups)), enabled=info.is_main)
    state = {"epoch": 0, "step": 0, "best_val_acc": -math.inf, "best_epoch": 0, "bad_epochs": 0,
             "stopped_early": False, "metrics": []}
    if resume:
        saved = ckpt.restore_training_state(run_dir / runfolder.LAST_CHECKPOINT, model, optimizer, scheduler, scaler,
                                            rank=info.rank, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch,
                                            schedule=cfg.schedule)
        state = {k: saved[k] for k in state}
        logs.restore(state["metrics"], state["epoch"])
    else:
        logs.start()
    mode = progress_mode(info.is_main, cfg.quiet)
    if cfg.cpu_bf16 and device.type == "cpu" and not native_cpu_bf16():
        summary(mode, "note: --cpu-bf16 ignored: this CPU has no native bfloat16 (AVX512-BF16 or AMX); training in float32")
    train_model, trainable = model, None
    epoch = state["epoch"]
    while epoch < cfg.epochs and not state["stopped_early"]:
        epoch += 1
        _apply_freezing(optimizer, epoch)
        now_trainable = tuple(p.requires_grad for p in model.parameters())
        if info.world_size > 1 and now_trainable != trainable:
            # DDP registers only parameters that require grad: rewrap when unfreezing changes the set.
            train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
            trainable = now_trainable
        _set_sampler_epoch(train_loader, epoch - 1)
        rows: list | None = [] if info.is_main else None
        bar = EpochProgress(mode, epoch, cfg.epochs, steps_per_epoch, cfg.log_every)
        try:
            stats = train_one_epoch(
                train_model, train_loader, optimizer, scheduler, loss_fn, device, epoch=epoch,
                first_step=state["step"], groups=groups, scaler=scaler, dtype=dtype,
                clip_grad_norm=cfg.clip_grad_norm, on_nonfinite=cfg.on_nonfinite,
                channels_last=channels_last, progress=bar, step_rows=rows, train_mode=train_mode,
            )
        except NonFiniteLossError as e:
            logs.append_steps(rows or [])
            best = (f"the best model so far (epoch {state['best_epoch']}, val acc {state['best_val_acc']:.4f}) "
                    f"is kept in {run_dir / runfolder.WEIGHTS}" if state["best_epoch"] else "no model was saved yet")
            raise ClassifykitError(
                f"Training stopped: {e}; {best}. Lower --lr, set --clip-grad-norm, or pass --on-nonfinite skip."
            ) from e
        except KeyboardInterrupt:
            bar.close()
            saved = (f"epochs 1-{epoch - 1} are saved in {run_dir / runfolder.LAST_CHECKPOINT}; continue with "
                     f"--resume {run_dir}" if epoch > 1 else "no epoch finished, so there is nothing to resume")
            summary(mode, f"Interrupted during epoch {epoch} of {cfg.epochs}: {saved}.")
            raise
        finally:
            bar.close()
        state["step"] += steps_per_epoch
        val = evaluate(model, val_loader, device, val_loss_fn, amp=cfg.amp, channels_last=channels_last)
        improved = val["acc"] > state["best_val_acc"] and _finite(model)
        if improved:
            state["best_val_acc"], state["best_epoch"], state["bad_epochs"] = val["acc"], epoch, 0
            if info.is_main:
                ckpt.save_weights(model, run_dir / runfolder.WEIGHTS)
                if on_best is not None:
                    on_best(epoch, val["acc"])
        else:
            state["bad_epochs"] += 1
        state["stopped_early"] = cfg.patience > 0 and state["bad_epochs"] >= cfg.patience
        state["epoch"] = epoch
        state["metrics"].append([
            epoch, stats.loss, stats.acc, val["loss"], val["acc"], stats.lr,
            stats.grad_norm_mean, stats.grad_norm_max, stats.clipped_frac, stats.seconds, stats.samples_per_s, stats.skipped,
        ])
        rng = all_gather_objects(ckpt.rng_state())
        if info.is_main:
            logs.append_steps(rows or [])
            logs.write_metrics(state["metrics"])
            ckpt.save_checkpoint(ckpt.training_state(model, optimizer, scheduler, scaler, state, rng, cfg.epochs, steps_per_epoch),
                                 run_dir / runfolder.LAST_CHECKPOINT)
        summary(mode, _epoch_line(epoch, cfg.epochs, stats, val, stats.lr, improved))
    barrier()
    if state["stopped_early"]:
        summary(mode, f"stopped early: no better val accuracy for {cfg.patience} epochs")
    summary(mode, f"best val acc {max(state['best_val_acc'], 0.0):.2%} at epoch {state['best_epoch']} "
                  f"({epoch} epochs run); weights in {run_dir / runfolder.WEIGHTS}")
    return FitResult(state["best_epoch"], max(state["best_val_acc"], 0.0), epoch, state["stopped_early"])


def _epoch_line(epoch: int, epochs: int, stats: EpochStats, val: dict, lr: float, improved: bool) -> str:
    skipped = f"  {stats.skipped} steps skipped" if stats.skipped else ""
    return (
        f"epoch {epoch}/{epochs}  train loss {stats.loss:.4f} acc {stats.acc:.2%}  "
        f"val loss {val['loss']:.4f} acc {val['acc']:.2%}  lr {lr:.2e}  "
        f"{stats.seconds:.1f} s {stats.samples_per_s:.0f} samples/s{skipped}{'  * best' if improved else ''}"
    )
