"""``classifykit train images DATA`` (options generated from :class:`classifykit.config.ImageConfig`)."""

from __future__ import annotations

from classifykit.cli.app import train_app
from classifykit.cli.options import TRAIN_EXTRA, config_command
from classifykit.config import ImageConfig


def _train_images(cfg: ImageConfig, resume: str | None = None, nproc: int | None = None,
                 changes: dict | None = None) -> None:
    """Train an image classifier on a folder (one subfolder per class) or a manifest CSV/TSV.

    Scans and verifies every image, splits train/val/test (stratified, seeded), trains, evaluates the
    best model on the test split and writes the run folder (see README).
    """
    # --nproc N > 1 was handled before typer ran (classifykit.cli.main re-executes under torchrun).
    from classifykit.tasks import pipeline

    pipeline.train(cfg, resume=resume, **(changes or {}))


train_app.command("images", no_args_is_help=True)(config_command(ImageConfig, _train_images, extra=TRAIN_EXTRA))
