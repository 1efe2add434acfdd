"""``classifykit demo images`` (the text demo lives in :mod:`classifykit.cli.text`)."""

from __future__ import annotations

from typing import Optional

import typer

from classifykit.cli.app import demo_app


@demo_app.command("images")
def demo_images_command(
    per_class: Optional[int] = typer.Option(None, "--per-class", help="Fashion-MNIST training images per class to write and use (max 6000) [default: the demo's, 2000]."),
    out: str = typer.Option("data/fashion-mnist-demo", "--out", help="Where to write the PNG folders."),
    runs_dir: str = typer.Option("runs", "--runs-dir", help="Folder that holds run folders."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Override the demo recipe's epochs."),
    model: Optional[str] = typer.Option(None, "--model", help="Override the demo recipe's model."),
    device: Optional[str] = typer.Option(None, "--device", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Fashion-MNIST as a class-per-folder PNG tree -> scan -> train -> evaluate -> predict held-out files."""
    from classifykit.tasks.demo import demo_images

    sizes = {} if per_class is None else {"per_class": per_class}
    demo_images(**sizes, out=out, runs_dir=runs_dir, epochs=epochs, model=model, device=device, quiet=quiet or None)
