"""`classifykit report RUN`: write report.html (and optionally a screenshot and TensorBoard logs)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from classifykit.cli.app import app, markdown_help


@app.command("report")
def report(
    run: Path = typer.Argument(..., help=markdown_help("Run folder (e.g. runs/<name>) written by classifykit train.")),
    screenshot: bool = typer.Option(False, "--screenshot", help="Also save report.png, rendered by headless Chromium."),
    tensorboard: bool = typer.Option(False, "--tensorboard",
                                     help="Also write TensorBoard event files to RUN/tensorboard (needs tensorboard)."),
) -> None:
    """Write RUN/report.html: learning curves, gradient diagnosis, test results, mistakes, data, config."""
    from classifykit.report import SCREENSHOT, write_report

    console = Console(highlight=False, soft_wrap=True)  # paths stay on one line, copyable
    path = write_report(run, screenshot=screenshot)
    console.print(f"report: {path}")
    if screenshot:
        console.print(f"screenshot: {path.parent / SCREENSHOT}")
    if tensorboard:
        from classifykit.report.tensorboard import write_tensorboard

        logdir = write_tensorboard(run)
        console.print(f"tensorboard: {logdir}  (view with: tensorboard --logdir {logdir})")
