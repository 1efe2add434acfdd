"""``classifykit serve`` under load (issue 16): requests/s and p50/p99 latency at 1, 8 and 32
concurrent clients on loopback, micro-batching on (``--max-batch 32 --batch-wait-ms 5``) against off
(``--max-batch 1``), for an image model and a text model.

Models: the demos' architectures trained briefly here (the image demo's small CNN at 28 px on 100
Fashion-MNIST images per class, 1 epoch; the text demo's BiLSTM, hidden 128, max pooling, on 2,000
Rotten Tomatoes snippets without GloVe, 1 epoch), or run folders given with ``--image-run`` /
``--text-run``. Accuracy does not matter here, only the cost of a forward pass. Each server is a
``classifykit serve`` subprocess on 127.0.0.1 (``--threads 1 --device cpu`` unless ``--device``); the
clients are httpx in this process. One request is one input: a Fashion-MNIST test PNG or one snippet.
Every level sends ``--requests`` requests or stops after ``--seconds``, whichever comes first.

Usage: ``python -m bench serve`` or ``python -m bench.bench_serve --requests 200 --seconds 10``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LEVELS = (1, 8, 32)
MODES = {"on": ["--max-batch", "32", "--batch-wait-ms", "5"], "off": ["--max-batch", "1"]}


def train_image_run(folder: Path) -> Path:
    from classifykit.tasks.demo import demo_images

    return demo_images(per_class=100, out=str(folder / "fmnist"), runs_dir=str(folder / "runs"), holdout=1,
                       epochs=1, threads=1, quiet=True, device="cpu")


def train_text_run(folder: Path) -> Path:
    from classifykit.config import TextConfig
    from classifykit.tasks.demo import TEXT_DEMO_RECIPE
    from classifykit.tasks.pipeline import train
    from classifykit.text.rotten_tomatoes import prepare_rotten_tomatoes

    with open(prepare_rotten_tomatoes(folder), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    subset = folder / "rt2000.csv"
    with open(subset, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows[:2001])
    recipe = {**TEXT_DEMO_RECIPE, "embeddings": None, "embed_dim": 50, "epochs": 1, "threads": 1}
    return train(TextConfig(data=str(subset), runs_dir=str(folder / "runs"), name="serve-text", quiet=True,
                            device="cpu", **recipe))


def image_inputs(n: int) -> list[bytes]:
    """``n`` Fashion-MNIST test images as PNG bytes."""
    import io

    from PIL import Image

    from classifykit.data.fashion_mnist import load_split

    images, _ = load_split("test")
    out = []
    for im in images[:n]:
        buf = io.BytesIO()
        Image.fromarray(np.asarray(im, dtype=np.uint8)).save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def text_inputs(folder: Path, n: int) -> list[str]:
    """The first ``n`` Rotten Tomatoes snippets."""
    from classifykit.text.rotten_tomatoes import prepare_rotten_tomatoes

    with open(prepare_rotten_tomatoes(folder), newline="", encoding="utf-8") as f:
        return [r["text"] for _, r in zip(range(n), csv.DictReader(f))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run: Path, mode: str, device: str) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "classifykit", "serve", str(run), "--host", "127.0.0.1",
                             "--port", str(port), "--threads", "1", "--device", device, *MODES[mode]],
                            stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health").status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"classifykit serve {run} did not start within 60 s")


async def load(url: str, inputs: list, task: str, clients: int, requests: int, seconds: float) -> dict:
    """``clients`` concurrent loops sending one input per request until ``requests`` or ``seconds``."""
    import httpx

    latencies: list[float] = []
    failures = 0
    sent = 0
    stop_at = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal sent, failures
        while sent < requests and time.perf_counter() < stop_at:
            item = inputs[sent % len(inputs)]
            sent += 1
            t0 = time.perf_counter()
            if task == "image":
                r = await http.post(url + "/predict", files=[("files", ("x.png", item, "image/png"))])
            else:
                r = await http.post(url + "/predict", json={"texts": [item]})
            latencies.append(time.perf_counter() - t0)
            failures += r.status_code != 200

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        await client(http)  # warm-up: the first request pays for lazy initialisation
        latencies.clear()
        sent = 0
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - start
        health = (await http.get(url + "/health")).json()
    ms = np.asarray(latencies) * 1000
    return {"n": len(latencies), "rps": len(latencies) / wall, "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "failures": failures, "batch_sizes": health["batch_sizes"]}


def mean_batch(sizes: dict) -> float:
    n = sum(sizes.values())
    return sum(int(k) * v for k, v in sizes.items()) / n if n else 0.0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image-run", type=Path, help="an image run folder (default: train one here)")
    p.add_argument("--text-run", type=Path, help="a text run folder (default: train one here)")
    p.add_argument("--tasks", nargs="+", default=["image", "text"], choices=["image", "text"])
    p.add_argument("--requests", type=int, default=300, help="requests per level at most")
    p.add_argument("--seconds", type=float, default=8.0, help="seconds per level at most")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        folder = Path(tmp)
        for task in args.tasks:
            start = time.perf_counter()
            if task == "image":
                run = args.image_run or train_image_run(folder)
                inputs = image_inputs(256)
            else:
                run = args.text_run or train_text_run(folder)
                inputs = text_inputs(folder, 256)
            print(f"{task} run {run} ready in {time.perf_counter() - start:.0f} s", flush=True)
            print(f"{'task':5} {'batching':8} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
                  f"{'mean batch':>10} {'n':>5} {'fail':>4}", flush=True)
            for mode in MODES:
                proc, url = start_server(run, mode, args.device)
                try:
                    for clients in LEVELS:
                        before = _health(url)["batch_sizes"]
                        r = asyncio.run(load(url, inputs, task, clients, args.requests, args.seconds))
                        sizes = {k: v - before.get(k, 0) for k, v in r["batch_sizes"].items()}
                        print(f"{task:5} {mode:8} {clients:7d} {r['rps']:8.1f} {r['p50']:8.1f} {r['p99']:8.1f} "
                              f"{mean_batch(sizes):10.2f} {r['n']:5d} {r['failures']:4d}", flush=True)
                finally:
                    proc.terminate()
                    proc.wait(10)


def _health(url: str) -> dict:
    import httpx

    return httpx.get(url + "/health").json()


if __name__ == "__main__":
    main()
