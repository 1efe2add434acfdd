"""Issue 15 defect 13: CJK class names drew as boxes with one "Glyph … missing" warning per character.

`make test` installs the font (Debian `fonts-noto-cjk`), so the first test runs everywhere.
"""

from __future__ import annotations

import warnings

import numpy as np
from PIL import Image

from classifykit.report import fonts, plots

CJK = ["猫", "犬", "鳥"]


def _plot(tmp_path, name="c.png") -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plots.confusion(tmp_path / name, CJK, np.array([[3, 1, 0], [0, 4, 1], [1, 0, 5]]))
    return [str(w.message) for w in caught]


def test_cjk_class_names_draw_without_missing_glyphs(tmp_path):
    assert "Noto Sans CJK JP" in fonts.font_family()
    assert _plot(tmp_path) == []
    assert Image.open(tmp_path / "c.png").size[0] > 0


def test_without_a_cjk_font_one_note_replaces_the_glyph_warnings(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "font_family", lambda: (fonts.BASE_FAMILY,))
    monkeypatch.setattr(fonts, "_noted", False)
    assert _plot(tmp_path, "a.png") == [fonts.NOTE]
    assert _plot(tmp_path, "b.png") == []  # once per process
