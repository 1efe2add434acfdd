"""Render report.html in headless Chromium with networking off: DOM after scripts, or a full-page screenshot.

Chromium is found as ``$CLASSIFYKIT_CHROMIUM`` or ``chromium`` / ``chromium-browser`` /
``google-chrome`` on PATH (Debian: ``apt-get install chromium``). Every request leaves through a
proxy that does not exist and every host name resolves to nothing, so a page that tried to load
anything from the network would show broken images instead of silently loading them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from classifykit.errors import ClassifykitError
from classifykit.io import atomic_write_bytes

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120
VIRTUAL_TIME_MS = 5000  # virtual time for scripts and image decoding before the DOM is dumped
PROBE_HEIGHT = 900      # window height while the page's own height is measured (layout has no vh units)
MAX_HEIGHT = 32000      # px; taller pages are cut here (a 32000 px PNG already takes ~15 s of CPU)
_PAGE_HEIGHT = re.compile(r'data-page-height="(\d+)"')


def find_chromium() -> str:
    """Path of the Chromium executable.

    Raises:
        ClassifykitError: none found; says how to install it or point to it.
    """
    explicit = os.environ.get("CLASSIFYKIT_CHROMIUM")
    if explicit:
        if not Path(explicit).is_file():
            raise ClassifykitError(f"CLASSIFYKIT_CHROMIUM={explicit}: no such file; point it at a Chromium executable.")
        return explicit
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ClassifykitError("--screenshot needs Chromium: install it (Debian/Ubuntu: `apt-get install chromium`) "
                           "or set CLASSIFYKIT_CHROMIUM to its path.")


def _run(args: list[str], html_path: Path) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="classifykit-chromium-") as profile:
        cmd = [find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
               f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
               "--host-resolver-rules=MAP * ~NOTFOUND", *args, Path(html_path).resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=profile)
        except subprocess.TimeoutExpired as e:
            raise ClassifykitError(f"Chromium did not finish rendering {html_path} within {TIMEOUT_S} s.") from e
    if proc.returncode != 0:
        raise ClassifykitError(f"Chromium failed on {html_path} (exit {proc.returncode}): {proc.stderr[-800:]}")
    return proc


def dump_dom(html_path: str | Path) -> str:
    """The page's DOM serialised after its scripts ran (``--dump-dom``), as a string.

    Raises:
        ClassifykitError: Chromium is missing, fails or takes longer than 120 s.
    """
    return _run([f"--virtual-time-budget={VIRTUAL_TIME_MS}", "--dump-dom"], Path(html_path)).stdout


def page_height(html_path: str | Path, width: int = 1280) -> int:
    """The height in CSS px of report.html laid out ``width`` px wide, as the page's own script measures
    it after every image has loaded (``data-page-height`` on ``<body>``, see :mod:`classifykit.report.html`).

    Raises:
        ClassifykitError: Chromium is missing or fails, or the page did not report its height
            (it is not a report.html of this version: rerun classifykit report).
    """
    dom = _run([f"--virtual-time-budget={VIRTUAL_TIME_MS}", f"--window-size={width},{PROBE_HEIGHT}", "--dump-dom"],
               Path(html_path)).stdout
    found = _PAGE_HEIGHT.search(dom)
    if found is None:
        raise ClassifykitError(f"{html_path} did not report its height to Chromium; rerun classifykit report "
                               "to rewrite it with this version.")
    return int(found.group(1))


def screenshot(html_path: str | Path, png_path: str | Path, width: int = 1280) -> Path:
    """Save a PNG of the whole page, ``width`` px wide and as tall as the page (at most
    :data:`MAX_HEIGHT`), to ``png_path`` (atomically).

    Chromium renders twice: once to measure the page (:func:`page_height`), once with a window of
    that height — a headless ``--screenshot`` captures the window only.

    Raises:
        ClassifykitError: Chromium is missing or fails, or wrote no file.
    """
    png_path = Path(png_path)
    height = min(page_height(html_path, width), MAX_HEIGHT)
    with tempfile.TemporaryDirectory(prefix="classifykit-shot-") as tmp:
        shot = Path(tmp) / "shot.png"
        _run([f"--virtual-time-budget={VIRTUAL_TIME_MS}", f"--window-size={width},{height}",
              f"--screenshot={shot}"], Path(html_path))
        if not shot.is_file():
            raise ClassifykitError(f"Chromium wrote no screenshot of {html_path}.")
        atomic_write_bytes(png_path, shot.read_bytes())
    return png_path
