"""``classifykit serve RUN [--host 127.0.0.1] [--port 8000]``: the model behind an HTTP API and a web page."""

from __future__ import annotations

from pathlib import Path

import typer

from classifykit.cli.app import app
from classifykit.cli.evaluate import THREADS_HELP


@app.command("serve")
def serve_command(
    run: Path = typer.Argument(..., help="Run folder written by classifykit train."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; anything but loopback exposes the model to the network (no authentication)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    max_batch: int = typer.Option(32, "--max-batch", min=1, help="Inputs per forward pass at most when requests are micro-batched; 1 turns batching off."),
    batch_wait_ms: float = typer.Option(5.0, "--batch-wait-ms", min=0.0, help="How long the first input of a batch waits for more (milliseconds)."),
    device: str = typer.Option("auto", "--device", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps."),
    threads: int = typer.Option(0, "--threads", min=0, help=THREADS_HELP),
) -> None:
    """Serve a trained run: POST /predict (images as multipart files, texts as JSON), GET /model, GET /health, and a page at /."""
    from classifykit.serve.app import serve

    serve(run, host, port, max_batch=max_batch, max_wait_s=batch_wait_ms / 1000, device=device, threads=threads)
