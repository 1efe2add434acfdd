"""The FastAPI app of ``classifykit serve``: one run's best model, loaded once.

Endpoints (JSON unless said otherwise):

- ``POST /predict[?top_k=3]``: image runs take ``multipart/form-data`` with one or more files (any
  field name); text runs take ``application/json`` ``{"texts": ["...", ...]}``. Answer:
  ``{"task", "predictions": [{"input", "label", "probability", "top_k": [{"class", "probability"}],
  "error"}]}``, one per input in order; ``input`` is the file's name or ``text N`` (1-based); k =
  min(top_k, classes); probabilities are calibrated, ``softmax(logits / temperature)``. An input
  that cannot be predicted has ``label ""``, ``probability null`` and the reason ``classifykit
  predict`` writes in ``error``. Refusals (see :mod:`~classifykit.serve.limits`): 413, 415, 422
  with ``{"detail": message}``; 503 when the queue is full.
- ``GET /model``: the model card (:func:`~classifykit.serve.card.model_card`).
- ``GET /health``: ``{"status": "ok", "task", "queued", "batch_sizes": {size: count}}``.
- ``GET /``: the page (HTML with inline script and style; it loads nothing from elsewhere).
"""

from __future__ import annotations

import io
import ipaddress
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path, PureWindowsPath

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from classifykit.errors import ClassifykitError
from classifykit.serve.batching import MicroBatcher, QueueFull
from classifykit.serve.card import model_card
from classifykit.serve.limits import InputRejected, Limits, check_image, parse_texts, read_body
from classifykit.tasks.predictor import Prediction, Predictor

MAX_NAME_CHARS = 200  # an upload's name is only echoed back; long names are cut
# The page's script and style are inline; it talks to this server only (a ?demo= image may be a data: URL).
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                           "img-src 'self' data: blob:; connect-src 'self' data:",
                "X-Content-Type-Options": "nosniff"}


def upload_name(filename: str | None, index: int) -> str:
    """The last component of a client's file name (``"file 3"`` when it sent none), at most 200 characters."""
    name = PureWindowsPath(filename or "").name  # also splits on "/"
    return (name or f"file {index}")[:MAX_NAME_CHARS]


def answer(name: str, row: Prediction, k: int) -> dict:
    """One entry of ``predictions``."""
    return {"input": name, "label": row.label, "probability": row.probability,
            "top_k": [{"class": c, "probability": p} for c, p in row.top_k[:k]], "error": row.error}


async def read_images(request: Request, body: bytes, limits: Limits) -> tuple[list[str], list[io.BytesIO]]:
    """The uploaded files of a multipart body, checked (:func:`~classifykit.serve.limits.check_image`), in memory."""
    async def replay() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    # The body is already bounded, so the parser's own file count is not needed; our count gives the 413.
    form = await Request(request.scope, replay).form(max_files=float("inf"), max_part_size=limits.max_file_bytes)
    try:
        files = [v for _, v in form.multi_items() if not isinstance(v, str)]
        if not files:
            raise InputRejected(422, "no files in the form; send images as multipart/form-data files.")
        if len(files) > limits.max_files:
            raise InputRejected(413, f"{len(files)} files, over the limit of {limits.max_files} per request.")
        names, images = [], []
        for i, f in enumerate(files, start=1):
            name, data = upload_name(f.filename, i), await f.read()
            check_image(name, data, limits)
            image = io.BytesIO(data)
            image.name = name  # decode_image's errors name the file by it
            names.append(name)
            images.append(image)
        return names, images
    finally:
        await form.close()


def create_app(run: str | Path, *, limits: Limits = Limits(), max_batch: int = 32, max_wait_s: float = 0.005,
               max_queue: int = 256, device: str = "auto", threads: int = 0) -> FastAPI:
    """The app serving ``run`` (model loaded now; the micro-batcher starts with the app's lifespan).

    ``max_batch`` (1: no micro-batching), ``max_wait_s``, ``max_queue``: see
    :class:`~classifykit.serve.batching.MicroBatcher`. ``device``, ``threads``: as for ``predict``.

    Raises:
        ClassifykitError: not a finished run.
    """
    run = Path(run)
    predictor = Predictor(run, device=device, threads=threads, num_workers=0)
    meta = predictor.meta
    card = model_card(run, meta)
    page = resources.files("classifykit.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    def predict_batch(items: list) -> list[Prediction]:
        images, texts = (items, []) if meta.task == "image" else ([], items)
        return predictor.predict(images, texts, top_k=meta.num_classes, batch_size=len(items)).rows

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.batcher = MicroBatcher(predict_batch, max_batch=max_batch, max_wait_s=max_wait_s, max_queue=max_queue)
        app.state.batcher.start()
        yield
        await app.state.batcher.stop()

    app = FastAPI(title=f"classifykit: {run.name}", lifespan=lifespan)
    app.state.predictor = predictor

    @app.exception_handler(InputRejected)
    async def rejected(request: Request, e: InputRejected) -> JSONResponse:
        return JSONResponse({"detail": e.message}, status_code=e.status)

    async def read_inputs(request: Request) -> tuple[list[str], list]:
        body = await read_body(request.stream(), request.headers.get("content-length"), limits.max_request_bytes)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            if meta.task != "image":
                raise InputRejected(415, f'{run.name} is a text run; send JSON {{"texts": [...]}}, not files.')
            return await read_images(request, body, limits)
        if kind == "application/json":
            if meta.task != "text":
                raise InputRejected(415, f"{run.name} is an image run; send images as multipart/form-data files, not JSON.")
            texts = parse_texts(body, limits)
            return [f"text {i}" for i in range(1, len(texts) + 1)], texts
        raise InputRejected(415, f"Content-Type {kind or 'missing'}: send images as multipart/form-data or "
                                 'texts as application/json {"texts": [...]}.')

    @app.post("/predict")
    async def predict(request: Request, top_k: int = Query(3, ge=1)) -> dict:
        with app.state.batcher.arriving():
            names, items = await read_inputs(request)
        try:
            rows = await app.state.batcher.submit(items)
        except QueueFull as e:
            return JSONResponse({"detail": str(e)}, status_code=503, headers={"Retry-After": "1"})
        except ClassifykitError as e:
            raise InputRejected(422, str(e)) from None
        k = min(top_k, meta.num_classes)
        return {"task": meta.task, "predictions": [answer(n, r, k) for n, r in zip(names, rows)]}

    @app.get("/model")
    async def model() -> dict:
        return card

    @app.get("/health")
    async def health() -> dict:
        batcher = app.state.batcher
        return {"status": "ok", "task": meta.task, "queued": batcher.queue.qsize(),
                "batch_sizes": {str(k): v for k, v in sorted(batcher.batch_sizes.items())}}

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    return app


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(run: str | Path, host: str = "127.0.0.1", port: int = 8000, **options) -> None:
    """Serve ``run`` with uvicorn until interrupted; ``options`` go to :func:`create_app`.

    A host other than loopback makes the model reachable from other machines, with no
    authentication: a warning says so.
    """
    import uvicorn

    app = create_app(run, **options)
    if not is_loopback(host):
        print(f"warning: --host {host} is not a loopback address: anyone who can reach this machine on port {port} "
              "can use the model (no authentication). Use --host 127.0.0.1 to keep it local.", flush=True)
    print(f"Serving {run} at http://{host}:{port}/ (API: POST /predict, GET /model, GET /health)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
