"""Command-line interface (typer). The CLI is the top layer: nothing below imports it."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape

from classifykit.cli.app import app
from classifykit.errors import ClassifykitError

# Each module adds its commands to ``app`` on import.
from classifykit.cli import cache, demo, evaluate, export, report, scan, text, train  # noqa: E402,F401
from classifykit.cli import serve  # noqa: E402,F401


def main() -> None:
    """Entry point of the ``classifykit`` console script: user errors print one message, exit 2."""
    try:
        from classifykit.launch import relaunch_under_torchrun

        relaunch_under_torchrun()  # `train ... --nproc N`: becomes torchrun with N processes
        app()
    except ClassifykitError as e:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        sys.exit(2)
    finally:
        # Under torchrun a command leaves the process group it joined; torch is never imported just for
        # this (`classifykit --help` stays torch-free).
        if "torch.distributed" in sys.modules:
            from classifykit.engine.distributed import cleanup_distributed

            cleanup_distributed()
