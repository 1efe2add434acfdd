"""Training steps/s with per-step host syncs ("before") against the engine's device-side step log ("after").

Both arms run the same model, batches, optimizer (fused AdamW), one-cycle schedule and clipping,
side by side: blocks of ``--block`` steps alternate between the arms, so a change in machine load
hits both. ``before`` is the step ``engine.trainer.train_one_epoch`` ran until issue 11, kept here
only as a reference: one ``get_total_norm`` per layer group, an ``all_reduce`` of the batch sums and
one ``.tolist()`` of every figure each step, the skip decision taken on the host. ``after`` is
``train_one_epoch`` itself (one fused norm kernel, figures flushed every ``--log-every`` steps, the
skip decision on the device via fused AdamW's ``found_inf``).

Models: ``smallcnn`` on 1×28×28 images (batch 64) and a BiLSTM (hidden 128, 5,000-word vocabulary,
texts of 64 tokens, batch 64), on random data.

Usage: ``python -m bench steps`` or ``python -m bench.bench_steps --rounds 4 --block 50 --device cuda``.

Measured on the 2-core CPU machine shared with other jobs (load average 7-10), 1 thread (2 Dec 2026):
4 rounds × 50 steps: smallcnn before 2.4, after 2.9 steps/s (1.21x); BiLSTM 1.8 vs 1.6 (0.90x).
4 rounds × 40 steps: smallcnn 1.1 vs 1.1 (1.05x); BiLSTM 2.6 vs 2.2 (0.84x). On a CPU a host sync
costs nothing (the work is done when the call returns), so the arms differ only by bookkeeping,
which measured alike in isolation (BiLSTM grads, 11 tensors in 3 groups: 1.1 ms old vs 0.9-1.1 ms
fused norms per step; fused AdamW step 3.8-4.3 ms plain vs 4.3-4.5 ms with ``found_inf``); the
spread between runs is the machine's load. The change is for GPUs, where every ``.tolist()`` drains
the queue; no GPU was lent for this measurement (run with ``--device cuda``).
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn

from classifykit.config import TrainConfig
from classifykit.engine.device import sum_dtype
from classifykit.engine.distributed import all_reduce_sum
from classifykit.engine.loop import model_inputs
from classifykit.engine.optim import build_optimizer, build_param_groups, build_scheduler
from classifykit.engine.trainer import layer_groups, train_one_epoch
from classifykit.models.registry import create_model
from classifykit.models.rnn import RNNClassifier


def reference_steps(model, batches, optimizer, scheduler, loss_fn, device, groups, clip_grad_norm) -> list[list]:
    """The pre-issue-11 step loop (reference only): every figure copied to the host every step."""
    model.train()
    params = [p for g in groups.values() for p in g]
    rows = []
    for inputs, targets in batches:
        args = model_inputs(inputs, device)
        targets = targets.to(device)
        logits = model(*args)
        loss = loss_fn(logits.float(), targets)
        loss.backward()
        norms = []
        for group in groups.values():
            grads = [p.grad for p in group if p.grad is not None]
            norms.append(torch.nn.utils.get_total_norm(grads).float() if grads else torch.zeros((), device=device))
        group_norms = torch.stack(norms)
        total_norm = torch.linalg.vector_norm(group_norms)
        n = targets.shape[0]
        batch = torch.stack([loss.detach() * n, (logits.argmax(1) == targets).sum(), torch.tensor(n, device=device)])
        batch = all_reduce_sum(batch.to(sum_dtype(device)))
        values = torch.cat([batch, total_norm.reshape(1).to(batch.dtype), group_norms.to(batch.dtype)]).tolist()
        if math.isfinite(values[0]) and math.isfinite(values[3]):
            torch.nn.utils.clip_grads_with_norm_(params, clip_grad_norm, total_norm)
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        rows.append(values)
    return rows


def _setup(build, device, steps):
    model = build().to(device)
    cfg = TrainConfig(epochs=1, lr=1e-3, quiet=True)
    optimizer = build_optimizer(cfg, build_param_groups(model, None, cfg.weight_decay))
    return model, optimizer, build_scheduler(cfg, optimizer, steps), layer_groups(model)


def compare(name: str, build, batches: list, device: torch.device, rounds: int, log_every: int) -> tuple[float, float]:
    """steps/s of ``before`` and ``after`` over ``rounds`` alternating blocks of ``len(batches)`` steps."""
    torch.manual_seed(0)
    total_steps = rounds * len(batches) + len(batches)
    arms = {arm: _setup(build, device, total_steps) for arm in ("before", "after")}
    loss_fn = nn.CrossEntropyLoss()
    seconds = {"before": 0.0, "after": 0.0}
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for r in range(rounds + 1):  # round 0 warms up both arms and is not timed
        for arm in (("before", "after") if r % 2 else ("after", "before")):
            model, optimizer, scheduler, groups = arms[arm]
            sync()
            start = time.perf_counter()
            if arm == "before":
                reference_steps(model, batches, optimizer, scheduler, loss_fn, device, groups, 1.0)
            else:
                train_one_epoch(model, batches, optimizer, scheduler, loss_fn, device, epoch=1, first_step=0,
                                groups=groups, clip_grad_norm=1.0, log_every=log_every)
            sync()
            if r:
                seconds[arm] += time.perf_counter() - start
    steps = rounds * len(batches)
    before, after = steps / seconds["before"], steps / seconds["after"]
    print(f"{name:>24}  before {before:8.1f} steps/s  after {after:8.1f} steps/s  after/before {after / before:.3f}x",
          flush=True)
    return before, after


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_steps", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="timed blocks per arm (default 4)")
    parser.add_argument("--block", type=int, default=50, help="steps per block (default 50)")
    parser.add_argument("--log-every", type=int, default=20, help="the after arm's flush interval (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="CPU intra-op threads (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    images = [(torch.randn(64, 1, 28, 28, generator=g), torch.randint(0, 10, (64,), generator=g)) for _ in range(args.block)]
    texts = [((torch.randint(1, 5000, (64, 64), generator=g), torch.full((64,), 64)), torch.randint(0, 2, (64,), generator=g))
             for _ in range(args.block)]
    print(f"{args.rounds} rounds × {args.block} steps per arm, device {device}, {args.threads} thread(s), "
          f"log every {args.log_every}")
    compare("smallcnn 28 px, batch 64", lambda: create_model("smallcnn", 10, in_chans=1), images, device, args.rounds,
            args.log_every)
    compare("BiLSTM h128, 64 tokens", lambda: RNNClassifier(2, 5000), texts, device, args.rounds, args.log_every)


if __name__ == "__main__":
    main()
