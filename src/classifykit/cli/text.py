"""``classifykit train text DATA`` (options generated from :class:`classifykit.config.TextConfig`) and
``classifykit demo text``."""

from __future__ import annotations

from typing import Optional

import typer

from classifykit.cli.app import demo_app, train_app
from classifykit.cli.options import TRAIN_EXTRA, config_command
from classifykit.config import TextConfig


def _train_text(cfg: TextConfig, resume: str | None = None, nproc: int | None = None,
                 changes: dict | None = None) -> None:
    """Train a text classifier on a CSV/TSV/JSONL table or a folder with one subfolder of .txt files per class.

    Reads and checks every text (skipped ones listed in skipped.csv), splits train/val/test
    (stratified, seeded) and trains --model: auto (default) fits the n-gram model, then the neural
    models that fit --time-budget (fine-tuned MiniLM for texts up to ~256 tokens, a BiLSTM), and keeps
    the best on val (candidates.json lists them all); lstm/gru train the classic recurrent recipe;
    ngram, minilm or hf-encoder (--encoder DIR) one model. Evaluates the best model on the test split
    and writes the run folder.
    """
    # --nproc N > 1 was handled before typer ran (classifykit.cli.main re-executes under torchrun).
    from classifykit.tasks import pipeline

    pipeline.train(cfg, resume=resume, **(changes or {}))


train_app.command("text", no_args_is_help=True)(config_command(TextConfig, _train_text, extra=TRAIN_EXTRA))


@demo_app.command("text")
def demo_text_command(
    out: str = typer.Option("data", "--out", help="Where to write the prepared rotten_tomatoes.csv."),
    runs_dir: str = typer.Option("runs", "--runs-dir", help="Folder that holds run folders."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Override the demo recipe's epochs."),
    embeddings: Optional[str] = typer.Option(None, "--embeddings", help="Override the demo's vectors (glove-6b-50d, a GloVe file, or none)."),
    device: Optional[str] = typer.Option(None, "--device", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Rotten Tomatoes critic snippets (fresh vs rotten) -> BiLSTM over GloVe 50d -> test accuracy with its 95% interval."""
    from classifykit.tasks.demo import demo_text

    demo_text(out=out, runs_dir=runs_dir, epochs=epochs, embeddings=embeddings, device=device, quiet=quiet)
