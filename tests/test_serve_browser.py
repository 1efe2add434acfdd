"""The page of classifykit serve in headless Chromium against a real uvicorn server on 127.0.0.1:
an image given as ``?demo=`` (a data: URL of a generated PNG) is uploaded by the page's own script
and its predicted class shown with the model card; a text run's page classifies ``?text=``."""

from __future__ import annotations

import base64
import re
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pytest
import uvicorn
from fastapi.testclient import TestClient

from classifykit.report.browser import find_chromium
from classifykit.serve.app import create_app
from test_pipeline import old_image_run, old_text_run
from test_serve import png

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn serving ``app`` on 127.0.0.1 in a thread, for the length of a ``with``."""

    def __init__(self, app) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def page_dom(url: str) -> str:
    """The DOM of ``url`` after its scripts ran; nothing but 127.0.0.1 resolves, and the rest would go to
    a proxy that does not exist."""
    with tempfile.TemporaryDirectory(prefix="classifykit-chromium-") as profile:
        cmd = [find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-extensions", f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9",
               "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
               "--virtual-time-budget=10000", "--dump-dom", url]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=profile)
    assert proc.returncode == 0, proc.stderr[-800:]
    return proc.stdout


def test_page_uploads_an_image_and_shows_its_class(tmp_path):
    run, _ = old_image_run(tmp_path)
    image = png(45, size=(28, 28))
    app = create_app(run, device="cpu", threads=1)
    with TestClient(app) as c:
        expected = c.post("/predict", files=[("files", ("demo", image, "image/png"))]).json()["predictions"][0]
    demo = "data:image/png;base64," + base64.b64encode(image).decode()
    with Server(create_app(run, device="cpu", threads=1)) as server:
        dom = page_dom(f"http://127.0.0.1:{server.port}/?demo={urllib.parse.quote(demo, safe='')}")
    assert 'data-state="done"' in dom
    assert f'class="result" data-label="{expected["label"]}"' in dom
    assert f'{expected["label"]} · {100 * expected["probability"]:.1f}%' in dom
    assert re.search(r"<li>dark</li><li>light</li>", dom)  # the class list
    assert "<dt>architecture</dt><dd>smallcnn</dd>" in dom  # the model card


def test_text_page_classifies_pasted_texts(tmp_path):
    run, _ = old_text_run(tmp_path)
    with TestClient(create_app(run, device="cpu", threads=1)) as c:
        expected = c.post("/predict", json={"texts": ["good film"]}).json()["predictions"][0]["label"]
    with Server(create_app(run, device="cpu", threads=1)) as server:
        dom = page_dom(f"http://127.0.0.1:{server.port}/?text=good+film&text=%21%21%21")
    assert 'data-state="done"' in dom and dom.count('class="result"') == 2
    assert f'class="result" data-label="{expected}"' in dom
    assert "punctuation-only text (no letter or digit): nothing to classify" in dom
