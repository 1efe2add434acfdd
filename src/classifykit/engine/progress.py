"""What the training loop shows: a rich progress bar on a terminal, plain lines elsewhere.

Mode per process (``progress_mode``): ``off`` on ranks other than 0; ``quiet`` prints only the
summary lines; ``bar`` (stdout is a TTY) a rich bar per epoch with loss and throughput; ``plain``
(not a TTY, or ``CLASSIFYKIT_PROGRESS=plain``) one line every ``log_every`` steps.
"""

from __future__ import annotations

import os
import sys

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def progress_mode(is_main: bool, quiet: bool) -> str:
    """``off``, ``quiet``, ``plain`` or ``bar`` (see module docstring)."""
    if not is_main:
        return "off"
    if quiet:
        return "quiet"
    if os.environ.get("CLASSIFYKIT_PROGRESS", "").lower() == "plain" or not sys.stdout.isatty():
        return "plain"
    return "bar"


class EpochProgress:
    """Per-epoch progress display: ``advance`` every step, ``update`` with the figures of each
    flush of the step log (every ``log_every`` steps and the last), ``close`` at the end of the epoch."""

    def __init__(self, mode: str, epoch: int, epochs: int, steps: int, log_every: int = 20) -> None:
        self.mode, self.epoch, self.epochs, self.steps = mode, epoch, epochs, steps
        self.log_every = max(1, log_every)
        self._bar: Progress | None = None
        if mode == "bar":
            self._bar = Progress(
                TextColumn("epoch {task.fields[epoch]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}  {task.fields[speed]:.0f} samples/s"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            self._task = self._bar.add_task("train", total=steps, epoch=f"{epoch}/{epochs}", loss=float("nan"), speed=0.0)
            self._bar.start()

    def advance(self, step_in_epoch: int) -> None:
        """Move the bar to step ``step_in_epoch`` (1-based) without new figures (they wait for a flush)."""
        if self._bar is not None:
            self._bar.update(self._task, completed=step_in_epoch)

    def update(self, step_in_epoch: int, loss: float, samples_per_s: float) -> None:
        """Show step ``step_in_epoch`` (1-based) of this epoch with the running mean loss and samples/s."""
        if self._bar is not None:
            self._bar.update(self._task, completed=step_in_epoch, loss=loss, speed=samples_per_s)
        elif self.mode == "plain" and (step_in_epoch % self.log_every == 0 or step_in_epoch == self.steps):
            print(
                f"epoch {self.epoch}/{self.epochs} step {step_in_epoch}/{self.steps} "
                f"loss {loss:.4f} {samples_per_s:.0f} samples/s",
                flush=True,
            )

    def close(self) -> None:
        """Remove the bar (the epoch's summary line replaces it)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def summary(mode: str, line: str) -> None:
    """Print an epoch summary or final line (every mode but ``off``)."""
    if mode != "off":
        print(line, flush=True)
