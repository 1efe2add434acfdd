"""The figures' font list: matplotlib's DejaVu Sans first, then Noto Sans CJK for Chinese, Japanese
and Korean class names (matplotlib ≥ 3.6 falls back glyph by glyph along ``font.family``).

Debian ships the CJK fonts as ``fonts-noto-cjk``. matplotlib's font cache is written once and does
not see fonts installed after it, so the font files are added from the system font folders when the
cache lacks them. Without the font a figure still renders (missing glyphs as boxes) and the user
gets one note per process, not one "Glyph … missing" warning per character.
"""

from __future__ import annotations

import functools
import re
import warnings
from pathlib import Path

from matplotlib import font_manager

BASE_FAMILY = "DejaVu Sans"
CJK_FAMILIES = ("Noto Sans CJK JP", "Noto Sans CJK SC")
CJK_FILE_PREFIX = "NotoSansCJK"
MISSING_GLYPH = "Glyph .* missing from font"
NOTE = ("Some class names use characters the figures' fonts lack; they show as boxes in the PNGs. "
        "Install a font that covers them (Debian/Ubuntu: `apt-get install fonts-noto-cjk`) and rerun "
        "classifykit report.")


@functools.cache
def font_family() -> tuple[str, ...]:
    """``font.family`` for the figures: DejaVu Sans, then each CJK family matplotlib can find."""
    def found() -> set[str]:
        return {f.name for f in font_manager.fontManager.ttflist} & set(CJK_FAMILIES)

    if not found():
        for path in font_manager.findSystemFonts():
            if Path(path).name.startswith(CJK_FILE_PREFIX):
                font_manager.fontManager.addfont(path)
    have = found()
    return (BASE_FAMILY, *(f for f in CJK_FAMILIES if f in have))


_noted = False


def note_missing_glyphs(caught: list[warnings.WarningMessage]) -> None:
    """Re-issue the warnings caught while drawing a figure, replacing matplotlib's "Glyph … missing"
    warnings by :data:`NOTE`, once per process."""
    global _noted
    missing = False
    for w in caught:
        if re.match(MISSING_GLYPH, str(w.message)):
            missing = True
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if missing and not _noted:
        _noted = True
        warnings.warn(NOTE, UserWarning, stacklevel=3)
