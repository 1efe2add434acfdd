"""Export a run's logs (metrics.csv, steps.csv, eval.json, config.json) as TensorBoard event files.

Uses ``torch.utils.tensorboard.SummaryWriter``, which needs the optional ``tensorboard`` package
(``pip install 'classifykit[tensorboard]'``). Tags:

- ``epoch/<column>`` for every metrics.csv column (x = epoch);
- ``step/loss``, ``step/lr``, ``step/grad_norm``, ``step/clipped``, ``step/skipped`` (x = step);
- ``grad_norm/<group>`` for every ``gn:<group>`` column of steps.csv (x = step);
- ``test/accuracy``, ``test/ci95_low``, ``test/ci95_high``, ``test/macro_f1`` at the best epoch;
- text ``config`` (the resolved configuration and library versions).

Non-finite values (empty cells, NaN/inf norms) are left out; the report shows those.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from classifykit.errors import ClassifykitError
from classifykit.report.figures import best_epoch
from classifykit.report.rundata import load_run

LOGDIR = "tensorboard"


def _summary_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        raise ClassifykitError("--tensorboard needs the tensorboard package: "
                               "pip install 'classifykit[tensorboard]' (or pip install tensorboard).") from e
    return SummaryWriter


def _scalars(writer, prefix: str, table: dict[str, np.ndarray], x: np.ndarray, columns: list[str]) -> None:
    for column in columns:
        tag = f"{prefix}/{column[3:]}" if column.startswith("gn:") else f"{prefix}/{column}"
        for step, value in zip(x, table[column]):
            if np.isfinite(value) and np.isfinite(step):
                writer.add_scalar(tag, float(value), global_step=int(step))


def write_tensorboard(run_dir: str | Path) -> Path:
    """Write ``run_dir/tensorboard/events.out.tfevents.*`` from the run's files; returns that folder.

    An earlier export in that folder is replaced, so exporting twice does not double every curve.

    Raises:
        ClassifykitError: tensorboard is not installed, or ``run_dir`` is not a run folder.
    """
    SummaryWriter = _summary_writer()
    run = load_run(run_dir)
    logdir = run.run_dir / LOGDIR
    for old in logdir.glob("events.out.tfevents.*"):
        old.unlink()
    writer = SummaryWriter(log_dir=str(logdir))
    try:
        m = run.metrics
        if m and "epoch" in m:
            _scalars(writer, "epoch", m, m["epoch"], [c for c in m if c != "epoch"])
        s = run.steps
        if s and "step" in s:
            plain = [c for c in ("loss", "lr", "grad_norm", "clipped", "skipped") if c in s]
            _scalars(writer, "step", s, s["step"], plain)
            _scalars(writer, "grad_norm", s, s["step"], run.group_norm_columns)
        ev = run.eval
        if ev:
            at = best_epoch(run) or 0
            lo, hi = ev.get("ci95", [float("nan")] * 2)
            for tag, value in (("accuracy", ev.get("accuracy")), ("ci95_low", lo), ("ci95_high", hi),
                               ("macro_f1", ev.get("macro_f1"))):
                if value is not None and np.isfinite(value):
                    writer.add_scalar(f"test/{tag}", float(value), global_step=at)
        if run.config:
            body = json.dumps({"config": run.config, "versions": run.versions}, indent=2, ensure_ascii=False)
            writer.add_text("config", "```\n" + body + "\n```")
    finally:
        writer.close()
    return logdir
