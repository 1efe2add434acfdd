"""report.html rendered by a real browser: headless Chromium with networking off.

Chromium is installed by `make test` (Debian package `chromium`).
"""

import re

import numpy as np
import pytest
from PIL import Image

from classifykit.report import SCREENSHOT, write_report
from classifykit.report.browser import dump_dom
from test_report_runfolder import make_image_run, make_text_run

pytestmark = pytest.mark.integration


def test_every_image_loads_and_key_numbers_show(tmp_path):
    run = make_image_run(tmp_path)
    path = write_report(run)
    n_images = path.read_text(encoding="utf-8").count("<img ")
    dom = dump_dom(path)
    assert n_images == 9  # 6 figures + 3 gallery thumbnails
    assert f'data-images-loaded="{n_images}/{n_images}"' in dom
    assert re.search(r'id="test-accuracy">66\.7%<', dom)
    assert "95% CI 35.4%–87.9% · n = 9" in dom
    assert "<script>alert" not in dom  # the class name stayed text


def test_a_broken_image_is_detected(tmp_path):
    """The check itself can fail: a PNG that does not decode is counted as not loaded."""
    run = make_text_run(tmp_path)
    path = write_report(run)
    html = path.read_text(encoding="utf-8")
    broken = re.sub(r'src="data:image/png;base64,[^"]{40}', 'src="data:image/png;base64,AAAA', html, count=1)
    path.write_text(broken, encoding="utf-8")
    n = html.count("<img ")
    assert f'data-images-loaded="{n - 1}/{n}"' in dump_dom(path)


def test_screenshot(tmp_path):
    run = make_text_run(tmp_path)
    write_report(run, screenshot=True)
    shot = Image.open(run / SCREENSHOT).convert("RGB")
    assert shot.size == (1280, 4000)
    assert tuple(np.asarray(shot)[20, 20]) == (17, 24, 39)  # the dark header (#111827) was painted
