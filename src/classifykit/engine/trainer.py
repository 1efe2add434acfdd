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
from collections.abc import Callable, Sequence
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
from classifykit.engine.distributed import all_gather_objects, barrier, dist_info
from classifykit.engine.logs import RunLogs, steps_header
from classifykit.engine.loop import autocast, evaluate, model_inputs
from classifykit.engine.mfu import peak_flops, throughput_text
from classifykit.engine.optim import build_optimizer, build_param_groups, build_scheduler
from classifykit.engine.progress import EpochProgress, progress_mode, summary
from classifykit.engine.seed import seed_everything
from classifykit.engine.steps import (MAX_CONSECUTIVE_SKIPS, GroupNorms, NonFiniteGuard, NonFiniteLossError, StepLog,
                                      TooManySkipsError, skip_step_on_device)
from classifykit.engine.stopping import SELECT_KEYS, SELECT_NAMES, patience_counts
from classifykit.errors import ClassifykitError


@dataclass
class FitResult:
    """What ``fit`` did: best epoch (1-based; 0 if none had finite weights) by ``select_metric``, its
    val accuracy and val ``select_metric`` (0..1), epochs run, and whether early stopping ended it."""

    best_epoch: int
    best_val_acc: float
    epochs_run: int
    stopped_early: bool
    best_score: float = 0.0  # the best epoch's val select_metric (0..1)
    select_metric: str = "accuracy"


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
    log_every: int = 20,
    guard: NonFiniteGuard | None = None,
) -> EpochStats:
    """One pass over ``loader``: forward, backward, grad norms, clipping, optimizer and LR steps.

    ``model`` is put in train mode, then ``train_mode(unwrapped model)`` decides which parts stay in
    eval mode (the task's freezing policy, e.g. ``models.freeze.set_frozen_eval``); without it,
    BatchNorm layers whose parameters are all frozen stay in eval mode.

    No step waits for the device: the step's figures stay there (``engine.steps.StepLog``) and are
    copied to the host every ``log_every`` steps and at the end of the epoch, where ``steps.csv``
    rows (into ``step_rows``, if given), progress and the non-finite checks (``guard``) see them.
    Group norms are one fused ``torch._foreach_norm`` (``engine.steps.GroupNorms``); the global norm,
    computed before clipping, is applied by ``clip_grads_with_norm_`` when ``clip_grad_norm`` is set.

    A step is skipped when its global grad norm is non-finite (and, in a single process, its loss):
    under DDP the gradients are already all-reduced, so that decision is the same on every rank
    without a collective, and a non-finite loss gives non-finite gradients. The skip happens on
    the device (``engine.steps.skip_step_on_device``); with an fp16 GradScaler the scaler skips an
    overflowing step itself. ``guard`` raises :class:`NonFiniteLossError` (``stop``; found at the
    next flush, naming the first bad step) or :class:`TooManySkipsError` (``skip``); the rows up to
    the bad step are in ``step_rows`` first. The scheduler steps once per batch, skipped or not, so
    the schedule always spans its ``epochs × len(loader)`` steps.
    """
    model.train()
    if train_mode is not None:
        train_mode(ckpt.unwrap(model))
    else:
        _freeze_batchnorm_stats(model)
    guard = guard or NonFiniteGuard(on_nonfinite, MAX_CONSECUTIVE_SKIPS, scaler is not None)
    params = [p for g in groups.values() for p in g]
    norms = GroupNorms(groups, sum_dtype(device))
    log = StepLog()
    single = dist_info().world_size == 1
    loss_total = correct_total = n_total = 0.0  # over non-skipped steps
    norms_seen: list[float] = []
    clipped = skipped = steps = 0
    lr = optimizer.param_groups[0]["lr"]
    every = max(1, log_every)
    start = time.perf_counter()
    last = len(loader)
    for i, (inputs, targets) in enumerate(loader, 1):
        args = model_inputs(inputs, device, channels_last)
        targets = targets.to(device, non_blocking=device.type == "cuda")
        with autocast(device, dtype):
            logits = model(*args)
        loss = loss_fn(logits.float(), targets)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        if scaler is not None:
            scaler.unscale_(optimizer)
        group_norms, total_norm, present = norms(device)
        bad = ~torch.isfinite(total_norm)
        if single and scaler is None:
            bad = bad | ~torch.isfinite(loss.detach())
        was_clipped = torch.zeros((), dtype=torch.bool, device=device)
        if clip_grad_norm is not None:
            was_clipped = (total_norm > clip_grad_norm) & ~bad
            torch.nn.utils.clip_grads_with_norm_(params, clip_grad_norm, total_norm)
        lr = optimizer.param_groups[0]["lr"]
        n = targets.shape[0]
        head = torch.stack([loss.detach().to(group_norms.dtype) * n, (logits.argmax(1) == targets).sum().to(group_norms.dtype),
                            group_norms.new_full((), float(n)), total_norm,
                            was_clipped.to(group_norms.dtype), bad.to(group_norms.dtype)])
        log.add(first_step + i, epoch, lr, present, torch.cat([head, group_norms]))
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            skip_step_on_device(optimizer, bad)
        optimizer.zero_grad(set_to_none=True)
        if scheduler is not None:
            scheduler.step()
        if progress is not None:
            progress.advance(i)
        if i % every and i != last:
            continue
        try:
            rows = guard.check(log.flush())
        except (NonFiniteLossError, TooManySkipsError) as e:
            if step_rows is not None:
                step_rows.extend(r.csv() for r in e.rows)
            raise
        for row in rows:
            steps += 1
            skipped += row.skipped
            if not row.skipped:
                loss_total, correct_total, n_total = loss_total + row.loss_sum, correct_total + row.correct, n_total + row.n
                norms_seen.append(row.grad_norm)
                clipped += row.clipped
        if step_rows is not None:
            step_rows.extend(r.csv() for r in rows)
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
    """Whether every floating-point tensor of the state_dict is finite (one host sync)."""
    checks = [torch.isfinite(t).all() for t in ckpt.unwrap(model).state_dict().values() if t.is_floating_point()]
    return bool(torch.stack(checks).all()) if checks else True


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
    flops_per_sample: float | None = None,
    class_names: Sequence[str] | None = None,
    on_best: Callable[[int, float], Any] | None = None,
) -> FitResult:
    """Train ``model`` for up to ``cfg.epochs`` epochs; keep the best weights by ``cfg.select_metric``.

    Batches are ``(inputs, targets)`` (see ``engine.loop``); the model returns logits ``B×K``.
    Loss: cross-entropy with ``cfg.label_smoothing`` and ``class_weights`` (float ``K``, e.g.
    :func:`balanced_class_weights`); validation loss is plain cross-entropy. ``param_groups`` (see
    ``engine.optim.build_param_groups``) may carry ``"frozen_epochs": N``: those parameters are
    frozen in epochs 1..N (and their BatchNorm layers kept in eval mode). ``train_mode`` (see
    :func:`train_one_epoch`) replaces that BatchNorm rule with the caller's own, called after every
    ``model.train()``. Each epoch fit calls the
    train loader's ``sampler``/``batch_sampler`` ``set_epoch(epoch - 1)`` if it has one.
    ``flops_per_sample`` (forward FLOPs of one sample, ``models.flops.forward_flops``) adds MFU to
    the epoch line (``engine.mfu``); ``class_names`` (``K`` names) name the classes whose val recall
    is 0 in it (else their indices).

    Writes to ``run_dir`` (rank 0 only): ``metrics.csv`` and ``steps.csv`` (docs/CONTRACTS.md),
    ``checkpoints/last.pt`` every epoch, ``model.safetensors`` whenever the val ``select_metric``
    (accuracy, macro_f1 or balanced_accuracy) is strictly better than before and the weights are
    finite; then (rank 0) it calls ``on_best(epoch, val_acc)`` (the task records them in
    ``model.json``). Stops early after ``cfg.patience`` counted epochs without improvement (0: never;
    which epochs count: ``engine.stopping``). ``--on-nonfinite skip`` gives up after ``min(50, steps
    per epoch)`` skipped steps in a row (``engine.steps.MAX_CONSECUTIVE_SKIPS``).

    ``resume=True`` continues from ``checkpoints/last.pt`` at the next epoch; with
    ``cfg.deterministic`` on the CPU the result is bit-identical to an uninterrupted run, given a
    sampler whose order depends only on seed and epoch, or one drawing from the restored global RNG,
    and ``persistent_workers=False``. A ``cfg.epochs`` other than the checkpoint's extends (or
    re-plans) the run: onecycle/cosine start a new segment over the remaining epochs at each
    group's peak LR, constant stays constant, and one printed line says so.

    Fit seeds Python/NumPy/torch with ``cfg.seed + rank`` (the model is built, and seeded, by the
    caller). Under torchrun (process group joined by ``engine.distributed.init_distributed``) the
    model is wrapped in ``DistributedDataParallel``; metrics are summed over processes.

    Raises:
        ClassifykitError: a bad option (device, optimizer, schedule), an empty loader,
            no checkpoint to resume, one from another number of steps per epoch, ``cfg.epochs``
            fewer than the epochs already run, a non-finite loss with ``on_nonfinite="stop"`` (the
            message names epoch and step), or too many skipped steps in a row with ``"skip"``; the
            best model so far is kept in both.
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
    peaks = [g["lr"] for g in optimizer.param_groups]
    steps_per_epoch = len(train_loader)
    if steps_per_epoch == 0:
        raise ClassifykitError("The training data is empty: the train split needs at least one item.")
    dtype = train_amp_dtype(device, cfg.amp, cfg.cpu_bf16)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    loss_fn = nn.CrossEntropyLoss(
        weight=None if class_weights is None else class_weights.to(device, torch.float32),
        label_smoothing=cfg.label_smoothing,
    )
    val_loss_fn = nn.CrossEntropyLoss()
    groups = layer_groups(model)
    logs = RunLogs(run_dir, steps_header(list(groups)), enabled=info.is_main)
    state = {"epoch": 0, "step": 0, "best_score": -math.inf, "best_val_acc": -math.inf, "best_epoch": 0,
             "bad_epochs": 0, "stopped_early": False, "segment_start": 0, "metrics": []}
    mode = progress_mode(info.is_main, cfg.quiet)
    if resume:
        saved = ckpt.read_training_state(run_dir / runfolder.LAST_CHECKPOINT, steps_per_epoch=steps_per_epoch,
                                         epochs=cfg.epochs)
        replan = saved["epochs"] != cfg.epochs
        scheduler = None if replan else build_scheduler(cfg, optimizer, steps_per_epoch,
                                                        cfg.epochs - saved.get("segment_start", 0))
        ckpt.restore_training_state(saved, model, optimizer, scheduler, scaler, rank=info.rank)
        # Checkpoints from before select_metric and schedule segments: accuracy selected, one segment.
        state = {k: saved.get(k, saved["best_val_acc"] if k == "best_score" else state[k]) for k in state}
        logs.restore(state["metrics"], state["epoch"])
        if replan:
            scheduler = _new_segment(cfg, optimizer, peaks, steps_per_epoch, saved, state, mode)
    else:
        scheduler = build_scheduler(cfg, optimizer, steps_per_epoch)
        logs.start()
    if cfg.cpu_bf16 and device.type == "cpu" and not native_cpu_bf16():
        summary(mode, "note: --cpu-bf16 ignored: this CPU has no native bfloat16 (AVX512-BF16 or AMX); training in float32")
    peak = peak_flops(device, dtype) if flops_per_sample and info.is_main else None
    guard = NonFiniteGuard(cfg.on_nonfinite, min(MAX_CONSECUTIVE_SKIPS, steps_per_epoch), scaler is not None)
    select = cfg.select_metric or "accuracy"  # None: a task that did not decide it from the data
    key = SELECT_KEYS[select]
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
                log_every=cfg.log_every, guard=guard,
            )
        except (NonFiniteLossError, TooManySkipsError) as e:
            bar.close()
            logs.append_steps(rows or [])
            advice = ("Lower --lr, set --clip-grad-norm, or pass --on-nonfinite skip." if isinstance(e, NonFiniteLossError)
                      else "Lower --lr or set --clip-grad-norm, and check the data for NaN/inf values.")
            raise ClassifykitError(f"Training stopped: {e}; {_best_text(run_dir, state)}. {advice}") from e
        except KeyboardInterrupt:
            bar.close()
            saved_text = (f"epochs 1-{epoch - 1} are saved in {run_dir / runfolder.LAST_CHECKPOINT}; continue with "
                          f"--resume {run_dir}" if epoch > 1 else "no epoch finished, so there is nothing to resume")
            summary(mode, f"Interrupted during epoch {epoch} of {cfg.epochs}: {saved_text}.")
            raise
        finally:
            bar.close()
        state["step"] += steps_per_epoch
        val = evaluate(model, val_loader, device, val_loss_fn, amp=cfg.amp, channels_last=channels_last)
        improved = val[key] > state["best_score"] and _finite(model)
        if improved:
            state["best_score"], state["best_val_acc"], state["best_epoch"] = val[key], val["acc"], epoch
            state["bad_epochs"] = 0
            if info.is_main:
                ckpt.save_weights(model, run_dir / runfolder.WEIGHTS)
                if on_best is not None:
                    on_best(epoch, val["acc"])
        elif patience_counts(cfg.schedule, epoch, state["segment_start"], cfg.epochs):
            state["bad_epochs"] += 1
        # Reaching patience on the last epoch is not stopping early: every epoch ran (issue 15, defect 16).
        state["stopped_early"] = cfg.patience > 0 and state["bad_epochs"] >= cfg.patience and epoch < cfg.epochs
        state["epoch"] = epoch
        state["metrics"].append([
            epoch, stats.loss, stats.acc, val["loss"], val["acc"], stats.lr,
            stats.grad_norm_mean, stats.grad_norm_max, stats.clipped_frac, stats.seconds, stats.samples_per_s, stats.skipped,
            val["macro_f1"], val["balanced_acc"], state["bad_epochs"],
        ])
        rng = all_gather_objects(ckpt.rng_state())
        if info.is_main:
            logs.append_steps(rows or [])
            logs.write_metrics(state["metrics"])
            ckpt.save_checkpoint(ckpt.training_state(model, optimizer, scheduler, scaler, state, rng, cfg.epochs, steps_per_epoch),
                                 run_dir / runfolder.LAST_CHECKPOINT)
        extra = throughput_text(flops_per_sample, stats.samples_per_s, peak * info.world_size if peak else None) \
            if flops_per_sample else None
        summary(mode, _epoch_line(epoch, cfg.epochs, stats, val, select, improved, extra, class_names))
    barrier()
    if state["stopped_early"]:
        summary(mode, f"stopped early: no better {SELECT_NAMES[select]} for {cfg.patience} counted epochs "
                      f"(stopped at epoch {epoch} of {cfg.epochs})")
    best_acc = max(state["best_val_acc"], 0.0)
    if state["best_epoch"]:
        chosen = "" if key == "acc" else f" (best {SELECT_NAMES[select]} {state['best_score']:.2%})"
        summary(mode, f"best val acc {best_acc:.2%} at epoch {state['best_epoch']}{chosen} ({epoch} epochs run); "
                      f"weights in {run_dir / runfolder.WEIGHTS}")
    else:
        summary(mode, f"no epoch ended with finite weights ({epoch} epochs run): no model was saved")
    return FitResult(state["best_epoch"], best_acc, epoch, state["stopped_early"],
                     max(state["best_score"], 0.0), select)


def _new_segment(cfg: TrainConfig, optimizer, peaks: list[float], steps_per_epoch: int, saved: dict, state: dict,
                 mode: str):
    """The LR schedule after ``--epochs`` changed on resume: a new segment over the epochs left.

    Each group's LR goes back to its peak (the scheduler keys of the old segment are dropped), early
    stopping starts afresh, and one line says what happens. Returns the scheduler (None: constant).
    """
    done, left = saved["epoch"], cfg.epochs - saved["epoch"]
    state["segment_start"], state["bad_epochs"], state["stopped_early"] = done, 0, False
    if left == 0:
        return None
    for group, peak in zip(optimizer.param_groups, peaks):
        group["lr"] = peak
        for name in ("initial_lr", "max_lr", "min_lr"):
            group.pop(name, None)
    head = f"extending {saved['epochs']} → {cfg.epochs} epochs" if cfg.epochs > saved["epochs"] else \
        f"--epochs {saved['epochs']} → {cfg.epochs} after epoch {done}"
    if cfg.schedule == "constant":
        summary(mode, f"{head}: the constant lr {peaks[0]:.2e} continues over epochs {done + 1}–{cfg.epochs}")
        return None
    kind = {"onecycle": "one-cycle", "cosine": "cosine"}.get(cfg.schedule, cfg.schedule)
    summary(mode, f"{head}: a new {kind} cycle over epochs {done + 1}–{cfg.epochs} at peak lr {peaks[0]:.2e}")
    return build_scheduler(cfg, optimizer, steps_per_epoch, left)


def _best_text(run_dir: Path, state: dict) -> str:
    """Where the best model is, naming only a weights file that exists."""
    path = run_dir / runfolder.WEIGHTS
    if state["best_epoch"] and path.is_file():
        return f"the best model so far (epoch {state['best_epoch']}, val acc {state['best_val_acc']:.4f}) is kept in {path}"
    return "no model was saved yet"


def _epoch_line(epoch: int, epochs: int, stats: EpochStats, val: dict, select_metric: str, improved: bool,
                throughput: str | None, class_names: Sequence[str] | None) -> str:
    skipped = f"  {stats.skipped} steps skipped" if stats.skipped else ""
    chosen = "" if select_metric == "accuracy" else \
        f" {'macro-F1' if select_metric == 'macro_f1' else 'bal acc'} {val[SELECT_KEYS[select_metric]]:.2%}"
    names = [class_names[c] if class_names is not None else f"class {c}"
             for c, (r, s) in enumerate(zip(val["recall"], val["support"])) if s > 0 and r == 0]
    zero = f"  val recall 0: {', '.join(names)}" if names else ""
    speed = f" {throughput}" if throughput else ""
    return (
        f"epoch {epoch}/{epochs}  train loss {stats.loss:.4f} acc {stats.acc:.2%}  "
        f"val loss {val['loss']:.4f} acc {val['acc']:.2%}{chosen}  lr {stats.lr:.2e}  "
        f"{stats.seconds:.1f} s {stats.samples_per_s:.0f} samples/s{speed}{skipped}{zero}{'  * best' if improved else ''}"
    )
