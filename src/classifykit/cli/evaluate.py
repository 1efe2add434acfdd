"""``classifykit evaluate RUN [--data DIR|manifest]`` and ``classifykit predict RUN INPUTS...``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from classifykit.cli.app import app

console = Console(highlight=False)
THREADS_HELP = "CPU threads for the model; 0 = the CPU cores left after the DataLoader workers (at least 1)."


def print_evaluation(report: dict, out_dir: Path) -> None:
    """The accuracy line with its interval, then per-class precision/recall/F1/support."""
    from classifykit.tasks.common import format_accuracy
    from classifykit.tasks.honest import honest_lines, interval, print_findings

    table = Table(title="Per-class results")
    for col in ("class", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for row in report["per_class"]:
        table.add_row(row["class"], f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"]))
    console.print(table)
    top = ", ".join(f"top-{k} {100 * v:.1f}%" for k, v in report["top_k"].items() if int(k) < len(report["per_class"]))
    console.print(f"macro-F1 {report['macro_f1']:.3f}{interval(report.get('macro_f1_ci95'), 1)}" + (f"; {top}" if top else ""))
    console.print(format_accuracy(report))
    console.print(f"A ±2-point 95% interval at this accuracy would need about {report['n_for_pm2']} test items.")
    console.print(f"Files: {out_dir}/eval.json, confusion.csv, test_predictions.csv")
    for line in honest_lines(report):
        console.print(line, markup=False, soft_wrap=True)
    print_findings(report)


@app.command("evaluate")
def evaluate_command(
    run: Path = typer.Argument(..., help="Run folder written by classifykit train."),
    data: Optional[str] = typer.Option(None, "--data", help="Evaluate another labelled image folder or manifest (or text table) instead of the saved test split."),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="Batch size."),
    device: str = typer.Option("auto", "--device", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps."),
    threads: int = typer.Option(0, "--threads", min=0, help=THREADS_HELP),
) -> None:
    """Test accuracy with a 95% Wilson interval, per-class P/R/F1, confusion matrix, top-k."""
    from classifykit.tasks.pipeline import evaluate
    from classifykit.tasks.progress import training_note

    note = training_note(run)
    if note:
        console.print(note, style="yellow", markup=False, soft_wrap=True)
    report, out_dir = evaluate(run, data, batch_size=batch_size, device=device, threads=threads)
    print_evaluation(report, out_dir)
    from classifykit.report import write_report

    console.print(f"Report: {write_report(run)}")


@app.command("predict")
def predict_command(
    run: Path = typer.Argument(..., help="Run folder written by classifykit train."),
    inputs: Optional[list[str]] = typer.Argument(None, help="Image files, folders or a manifest CSV (image runs); text files (text runs, one text per line)."),
    text: Optional[list[str]] = typer.Option(None, "--text", help="A text to classify (text runs; repeatable). With no inputs and no --text, texts are read from stdin."),
    out: Path = typer.Option(Path("predictions.csv"), "--out", help="Where to write the predictions CSV."),
    top_k: int = typer.Option(3, "--top-k", min=1, help="How many top classes to list per input."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Batch size."),
    device: str = typer.Option("auto", "--device", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps."),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="Encoding of text input files (text runs; default: the run's training --encoding, else utf-8), e.g. latin-1 or cp1252."),
    threads: int = typer.Option(0, "--threads", min=0, help=THREADS_HELP),
) -> None:
    """Predict classes with a trained run's best model; writes a CSV (input, label, probability, top-k, error)."""
    from classifykit.tasks.pipeline import predict

    n, failures = predict(run, list(inputs or []), list(text or []), out, top_k=top_k, batch_size=batch_size,
                          device=device, encoding=encoding, threads=threads)
    for path, error in failures:
        console.print(f"[yellow]skipped[/] {path}: {error}")
    console.print(f"{n} predictions written to {out}" + (f"; {len(failures)} inputs could not be predicted (see its error column)" if failures else ""))
