"""classifykit serve through FastAPI's test client: answers equal classify predict's rows, the model
card, every kind of bad input refused with its 4xx (or, where predict writes one, a per-input error),
and concurrent requests micro-batched with the same answers as sequential ones."""

from __future__ import annotations

import io
import json
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from classifykit import runfolder as rf
from classifykit.io import read_csv_rows
from classifykit.serve import app as serve_app
from classifykit.serve.app import create_app, is_loopback
from classifykit.serve.limits import Limits
from classifykit.tasks.pipeline import evaluate, predict
from test_pipeline import old_image_run, old_text_run


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    run, data = old_image_run(tmp_path_factory.mktemp("image"))
    evaluate(run, device="cpu")
    ev = json.loads((run / rf.EVAL).read_text())
    ev["baselines"] = [{"name": "majority class", "accuracy": 0.5, "ci95": [0.15, 0.85], "macro_f1": 0.33}]
    (run / rf.EVAL).write_text(json.dumps(ev))
    return run, data


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    run, _ = old_text_run(tmp_path_factory.mktemp("text"))
    return run


def client(run, **options) -> TestClient:
    return TestClient(create_app(run, device="cpu", threads=1, **options))


def png(value: int = 60, size=(40, 36)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full(size[::-1], value, dtype=np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A PNG whose valid header claims ``width×height`` pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def files(*items):
    return [("files", (name, data, "application/octet-stream")) for name, data in items]


def test_image_answers_are_predicts_rows(image_run, tmp_path):
    run, data = image_run
    paths = [data / "dark" / "0.png", data / "light" / "3.png"]
    predict(run, [str(p) for p in paths], [], tmp_path / "p.csv", device="cpu")
    expected = read_csv_rows(tmp_path / "p.csv")
    with client(run) as c:
        r = c.post("/predict?top_k=5", files=files(*[(p.name, p.read_bytes()) for p in paths]))
    assert r.status_code == 200
    body = r.json()
    assert body["task"] == "image" and [p["input"] for p in body["predictions"]] == ["0.png", "3.png"]
    for got, want in zip(body["predictions"], expected):
        assert got["label"] == want["label"] and got["error"] == ""
        assert f"{got['probability']:.6f}" == want["probability"]
        assert ";".join(f"{t['class']}:{t['probability']:.4f}" for t in got["top_k"]) == want["top_k"]
        assert len(got["top_k"]) == 2  # k = min(top_k, classes)
        assert sum(t["probability"] for t in got["top_k"]) == pytest.approx(1.0, abs=1e-5)


def test_text_answers_are_predicts_rows(text_run, tmp_path):
    texts = ["good film", "awful film", "", "!!!"]
    predict(text_run, [], texts, tmp_path / "p.csv", device="cpu")
    expected = read_csv_rows(tmp_path / "p.csv")
    with client(text_run) as c:
        r = c.post("/predict?top_k=1", json={"texts": texts})
    assert r.status_code == 200
    got = r.json()["predictions"]
    assert [p["input"] for p in got] == ["text 1", "text 2", "text 3", "text 4"]
    for g, w in zip(got, expected):
        assert (g["label"], g["error"]) == (w["label"], w["error"])
        assert g["probability"] is None if w["error"] else f"{g['probability']:.6f}" == w["probability"]
    assert len(got[0]["top_k"]) == 1 and got[2]["top_k"] == []
    assert got[2]["error"].startswith("empty text") and got[3]["error"].startswith("punctuation-only text")


def test_model_card_and_health(image_run):
    run, _ = image_run
    ev = json.loads((run / rf.EVAL).read_text())
    with client(run) as c:
        card = c.get("/model").json()
        health = c.get("/health").json()
    assert card["classes"] == ["dark", "light"] and card["task"] == "image" and card["architecture"] == "smallcnn"
    assert card["test"] == {"accuracy": ev["accuracy"], "ci95": ev["ci95"], "n": 4, "split": "test"}
    assert card["baselines"] == [{"name": "majority class", "accuracy": 0.5, "ci95": [0.15, 0.85]}]
    assert card["trained"][:4].isdigit() and card["trained"].endswith("+00:00")
    assert health == {"status": "ok", "task": "image", "queued": 0, "batch_sizes": {}}


def test_page_is_self_contained(text_run):
    with client(text_run) as c:
        r = c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "http://" not in r.text and "https://" not in r.text and "<script src" not in r.text


@pytest.mark.parametrize("make, status, words", [
    (lambda: files(("notes.png", b"just some text, named like an image")), 415, "notes.png: not an image"),
    (lambda: files(("empty.png", b"")), 422, "empty.png: empty file"),
    (lambda: files(*[(f"{i}.png", png()) for i in range(4)]), 413, "4 files, over the limit of 3"),
    (lambda: files(("big.png", png(size=(400, 400)) + b"\0" * 5000)), 413, "over the limit of 4000 bytes per image"),
    (lambda: files(("wide.png", png(size=(120, 100)))), 413, "120×100 = 12000 pixels, over the limit of 10000"),
    (lambda: files(("bomb.png", bomb_png(100_000, 100_000))), 413, "bomb.png: more than twice Pillow's pixel limit"),
    (lambda: files(("../../etc/x.png", b"GIF89a")), 200, ""),  # checked later by the decoder, see below
    (lambda: [("note", (None, b"a form field, no file"))], 422, "no files in the form"),
])
def test_bad_images_are_refused(image_run, make, status, words):
    run, _ = image_run
    limits = Limits(max_files=3, max_file_bytes=4000, max_pixels=10_000)
    with client(run, limits=limits) as c:
        r = c.post("/predict", files=make())
    assert r.status_code == status, r.text
    if status != 200:
        assert words in r.json()["detail"]
    else:  # a damaged image is predict's per-input error; the client's path is cut to its name
        (p,) = r.json()["predictions"]
        assert p["input"] == "x.png" and p["label"] == "" and p["error"].startswith("x.png: ")


def test_request_body_bound_and_wrong_kinds(image_run, text_run):
    run, _ = image_run
    with client(run, limits=Limits(max_request_bytes=2000)) as c:
        r = c.post("/predict", files=files(("a.png", png(size=(300, 300)) + b"\0" * 3000)))
        assert r.status_code == 413 and "request body over 2000 bytes" in r.json()["detail"]
        r = c.post("/predict", json={"texts": ["good film"]})
        assert r.status_code == 415 and "image run" in r.json()["detail"]
        r = c.post("/predict", content=b"raw", headers={"content-type": "text/plain"})
        assert r.status_code == 415 and "Content-Type text/plain" in r.json()["detail"]
        assert c.post("/predict?top_k=0", files=files(("a.png", png()))).status_code == 422
    with client(text_run) as c:
        r = c.post("/predict", files=files(("a.png", png())))
        assert r.status_code == 415 and "text run" in r.json()["detail"]


@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 422, "not JSON"),
    (b'["good film"]', 422, '"texts" must be a list of strings'),
    (b'{"texts": "good film"}', 422, '"texts" must be a list of strings'),
    (b'{"texts": ["good", 3]}', 422, '"texts" must be a list of strings'),
    (b'{"texts": []}', 422, '"texts" is empty'),
    (json.dumps({"texts": ["good"] * 5}).encode(), 413, "5 texts, over the limit of 4"),
    (json.dumps({"texts": ["ok", "x" * 101]}).encode(), 413, "text 2: 101 characters, over the limit of 100"),
])
def test_bad_texts_are_refused(text_run, body, status, words):
    with client(text_run, limits=Limits(max_texts=4, max_text_chars=100)) as c:
        r = c.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and words in r.json()["detail"]


def test_concurrent_requests_are_batched_with_the_same_answers(text_run):
    texts = [f"{a} {b}" for a in ("good", "great", "bad", "awful") for b in ("film", "bad", "great", "good", "x")]
    with client(text_run, max_batch=16, max_wait_s=0.05) as c:
        sequential = [c.post("/predict", json={"texts": [t]}).json()["predictions"][0] for t in texts]
        assert set(c.get("/health").json()["batch_sizes"]) == {"1"}
        with ThreadPoolExecutor(len(texts)) as pool:
            parallel = list(pool.map(lambda t: c.post("/predict", json={"texts": [t]}).json()["predictions"][0], texts))
        sizes = c.app.state.batcher.batch_sizes
    # padded batches of different lengths may differ from one-text batches in the last float bits
    assert [p["label"] for p in parallel] == [p["label"] for p in sequential]
    assert [p["probability"] for p in parallel] == pytest.approx([p["probability"] for p in sequential], abs=1e-6)
    assert max(sizes) > 1 and sum(k * v for k, v in sizes.items()) == 2 * len(texts)


def test_a_full_queue_answers_503(image_run):
    run, _ = image_run
    with client(run, max_queue=2) as c:
        r = c.post("/predict", files=files(*[(f"{i}.png", png()) for i in range(3)]))
        assert r.status_code == 503 and r.headers["retry-after"] == "1" and "at most 2" in r.json()["detail"]
        assert c.post("/predict", files=files(("a.png", png()), ("b.png", png()))).status_code == 200


def test_only_loopback_is_quiet(image_run, monkeypatch, capsys):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.org")
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    serve_app.serve(image_run[0], "127.0.0.1", 8123, device="cpu")
    assert "warning" not in capsys.readouterr().out
    serve_app.serve(image_run[0], "0.0.0.0", 8123, device="cpu")
    assert "warning: --host 0.0.0.0 is not a loopback address" in capsys.readouterr().out
    assert calls == [{"host": "127.0.0.1", "port": 8123, "log_level": "warning"},
                     {"host": "0.0.0.0", "port": 8123, "log_level": "warning"}]
