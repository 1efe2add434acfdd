"""Per-step training figures kept on the device and copied to the host once per flush.

nanoGPT reads ``loss.item()`` only every ``log_interval`` steps: a per-step host copy (or
collective) makes the CPU wait for the device every step and serialises a GPU. Here each step
appends one device tensor (loss × n, correct, n, grad norm, clipped, skipped, per-group norms);
:meth:`StepLog.flush` stacks them, sums the first three columns over processes with one
``all_reduce`` and copies the block to the host with one ``tolist``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from classifykit.engine.distributed import all_reduce_sum
from classifykit.errors import ClassifykitError

# Consecutive skipped steps after which `--on-nonfinite skip` gives up (or one epoch, if shorter): by then
# the weights themselves are non-finite or the data always overflows, and no later step can recover.
MAX_CONSECUTIVE_SKIPS = 50


class _StepsError(ClassifykitError):
    """A training stop found in flushed rows; ``rows`` are the rows to write before stopping."""

    def __init__(self, message: str, rows: list[StepRow]) -> None:
        super().__init__(message)
        self.rows = rows


class NonFiniteLossError(_StepsError):
    """The loss (or gradient norm) became NaN or infinite with ``on_nonfinite="stop"``."""


class TooManySkipsError(_StepsError):
    """``on_nonfinite="skip"`` skipped too many steps in a row to recover."""


class GroupNorms:
    """Pre-clip L2 gradient norms of layer groups with one fused kernel (``torch._foreach_norm``).

    The per-tensor norms are squared, summed per group by one ``G×N`` 0/1 matrix product
    (deterministic, unlike ``index_add_`` on CUDA) and square-rooted; the global norm is the square
    root of the sum over groups, as ``torch.nn.utils.get_total_norm`` computes it.
    """

    def __init__(self, groups: dict[str, list[nn.Parameter]], dtype: torch.dtype) -> None:
        self.groups = list(groups.values())
        self.dtype = dtype
        self._masks: dict[tuple[int, ...], torch.Tensor] = {}

    def __call__(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, list[bool]]:
        """``(group norms G, global norm (0-d), which groups had gradients)``; 0 for groups without any."""
        grads, counts = [], []
        for params in self.groups:
            found = [p.grad for p in params if p.grad is not None]
            grads += found
            counts.append(len(found))
        present = [c > 0 for c in counts]
        if not grads:
            zeros = torch.zeros(len(self.groups), dtype=self.dtype, device=device)
            return zeros, zeros.sum(), present
        norms = torch._foreach_norm(grads)
        same = all(n.dtype == norms[0].dtype for n in norms)  # one stack, not a cast per tensor
        squares = (torch.stack(norms) if same else torch.stack([n.float() for n in norms])).to(self.dtype).square()
        key = tuple(counts)
        if key not in self._masks:
            owner = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
            mask = (torch.arange(len(counts))[:, None] == owner[None, :]).to(self.dtype)
            self._masks[key] = mask.to(device)
        group_squares = self._masks[key] @ squares
        return group_squares.sqrt(), group_squares.sum().sqrt(), present


@dataclass
class StepRow:
    """One step's figures on the host; ``loss_sum``, ``correct`` and ``n`` are summed over processes."""

    step: int
    epoch: int
    lr: float
    loss_sum: float
    correct: float
    n: float
    grad_norm: float
    clipped: bool
    skipped: bool
    group_norms: list[float | None]  # None where the group had no gradient

    @property
    def loss(self) -> float:
        """Mean loss of the step's batch (over every process)."""
        return self.loss_sum / self.n if self.n else math.nan

    def csv(self) -> list:
        """The ``steps.csv`` row (docs/CONTRACTS.md): empty ``gn:`` cells for groups without gradients."""
        return [self.step, self.epoch, self.loss, self.lr, self.grad_norm, int(self.clipped), int(self.skipped),
                *["" if g is None else g for g in self.group_norms]]


class StepLog:
    """Device-side buffer of step figures; :meth:`flush` returns them as :class:`StepRow` s."""

    def __init__(self) -> None:
        self._values: list[torch.Tensor] = []
        self._host: list[tuple[int, int, float, list[bool]]] = []

    def add(self, step: int, epoch: int, lr: float, present: list[bool], values: torch.Tensor) -> None:
        """Buffer one step: ``values`` = [loss × n, correct, n, grad norm, clipped, skipped, *group norms]."""
        self._values.append(values)
        self._host.append((step, epoch, lr, present))

    def __len__(self) -> int:
        return len(self._host)

    def flush(self) -> list[StepRow]:
        """All buffered steps, oldest first (one collective and one host copy); empties the buffer.

        Every process must call it at the same steps (under DDP they run the same number of steps).
        """
        if not self._values:
            return []
        block = torch.stack(self._values)
        sums = all_reduce_sum(block[:, :3].contiguous())
        values = torch.cat([sums, block[:, 3:]], dim=1).tolist()
        rows = [
            StepRow(step, epoch, lr, v[0], v[1], v[2], v[3], bool(v[4]), bool(v[5]),
                    [g if ok else None for g, ok in zip(v[6:], present)])
            for (step, epoch, lr, present), v in zip(self._host, values)
        ]
        self._values, self._host = [], []
        return rows


class NonFiniteGuard:
    """Applies ``--on-nonfinite`` to flushed rows: raises on the first bad step (``stop``), or after
    ``limit`` skipped steps in a row (``skip``; the count runs across epochs).

    With an fp16 GradScaler a non-finite gradient is an overflow the scaler handles (it skips the
    update and lowers the scale), so only a non-finite loss counts as bad under ``stop``.
    """

    def __init__(self, on_nonfinite: str, limit: int, scaled: bool) -> None:
        self.on_nonfinite, self.limit, self.scaled = on_nonfinite, max(1, limit), scaled
        self.in_a_row = 0
        self._first_skip: tuple[int, int] | None = None

    def check(self, rows: list[StepRow]) -> list[StepRow]:
        """The rows to keep (up to and including a fatal one); raises after recording nothing else.

        Raises:
            NonFiniteLossError: ``stop`` and a step with a non-finite loss (or grad norm, unscaled).
            TooManySkipsError: ``skip`` and ``limit`` consecutive skipped steps.
        """
        for i, row in enumerate(rows):
            bad_loss = not math.isfinite(row.loss)
            if self.on_nonfinite == "stop" and (bad_loss or (row.skipped and not self.scaled)):
                what = "loss" if bad_loss else "gradient norm"
                raise NonFiniteLossError(f"non-finite {what} at epoch {row.epoch}, step {row.step}", rows[: i + 1])
            if row.skipped:
                self._first_skip = self._first_skip if self.in_a_row else (row.epoch, row.step)
                self.in_a_row += 1
                if self.in_a_row >= self.limit:
                    epoch, step = self._first_skip
                    raise TooManySkipsError(
                        f"{self.in_a_row} steps in a row were skipped for a non-finite loss or gradient "
                        f"(from epoch {epoch}, step {step} to epoch {row.epoch}, step {row.step}; limit "
                        f"min({MAX_CONSECUTIVE_SKIPS}, steps per epoch) = {self.limit}): the weights or the data "
                        f"no longer give finite values", rows[: i + 1])
            else:
                self.in_a_row = 0
        return rows


def skip_step_on_device(optimizer: torch.optim.Optimizer, bad: torch.Tensor) -> None:
    """``optimizer.step()`` that leaves parameters and state unchanged where ``bad`` (0-d bool) is True.

    Optimizers with ``_step_supports_amp_scaling`` (fused AdamW/Adam/SGD) read ``found_inf`` as
    ``torch.amp.GradScaler.step`` sets it and skip inside the kernel, step count included, with no
    host sync. Others (SGD with momentum, unfused AdamW) read ``bad`` on the host: one sync per step.
    """
    if getattr(optimizer, "_step_supports_amp_scaling", False):
        optimizer.grad_scale, optimizer.found_inf = None, bad.to(torch.float32)
        try:
            optimizer.step()
        finally:
            del optimizer.grad_scale, optimizer.found_inf
    elif not bool(bad):
        optimizer.step()
