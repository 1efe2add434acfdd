"""`classifykit export RUN --format onnx|torchscript`: the run's best model for serving, verified."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from classifykit.cli.app import app


@app.command("export")
def export_command(
    run: Path = typer.Argument(..., help="Run folder of a finished training run (holds model.json and model.safetensors)."),
    format: str = typer.Option("onnx", "--format", "-f", help="onnx or torchscript."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (e.g. fmnist.onnx) or folder (existing, or a name without extension); default RUN/export/."),
    opset: int = typer.Option(17, "--opset", help="ONNX opset version, 11..20 (ONNX only)."),
    atol: float = typer.Option(1e-4, "--atol", help="Accepted |logit difference| from PyTorch: atol + rtol × max |logit|."),
    rtol: float = typer.Option(1e-5, "--rtol", help="See --atol."),
    examples: int = typer.Option(8, "--examples", min=2, help="Test-split items to trace and verify with."),
) -> None:
    """Export the best model with its preprocessing (model.json) and, for text, its vocabulary.

    The export is run (onnxruntime or torch.jit.load) on real test-split inputs at three batch shapes
    and compared with PyTorch's logits; it is kept only if the max abs difference is within
    --atol + --rtol × max |logit|.
    """
    from classifykit.export import export_model  # torch loads only when a command runs

    console = Console(highlight=False, soft_wrap=True)  # long paths stay on one line
    result = export_model(run, format.lower(), out, opset=opset, atol=atol, rtol=rtol,
                          num_examples=examples)
    for check in result.checks:
        console.print(f"  {check.shapes}: max |logit difference| {check.max_abs_diff:.2e} "
                      f"(max |logit| {check.max_abs_logit:.3g}; same class {check.same_prediction}/{check.rows})")
    console.print(f"verified on {result.inputs}: max abs difference {result.max_abs_diff:.2e} "
                  f"(accepted: {atol:g} + {rtol:g} × max |logit|)")
    console.print(f"wrote {result.path} (+ {result.path.parent / 'model.json'})")
