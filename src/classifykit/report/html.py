"""The Jinja2 environment of report.html: one self-contained file with inline CSS and embedded images.

Templates are package data in ``report/templates/`` (``report.html.j2`` is the page, one
``<section>.html.j2`` per section, ``macros.html.j2`` for tables, figures and notes). Autoescaping is
on for every template, so a class name, file name, text or config value is escaped wherever it is
printed; only the page's own constants (:func:`csp`, :data:`IMAGES_LOADED_SCRIPT`) are marked safe.

The Content-Security-Policy forbids every network request (``default-src 'none'``; images only
from ``data:`` URIs) and allows exactly one script, by its SHA-256 hash: even a string that escaped
the escaping could not run. That script counts the images that decoded and writes
``data-images-loaded="<ok>/<total>"`` and ``data-page-height="<px>"`` on ``<body>``, for the
browser test and the full-page screenshot (:mod:`classifykit.report.browser`).
"""

from __future__ import annotations

import base64
import hashlib
import math
from pathlib import Path

import jinja2
from markupsafe import Markup

IMAGES_LOADED_SCRIPT = (
    "window.addEventListener('load',function(){"
    "var all=Array.prototype.slice.call(document.images);"
    "var ok=all.filter(function(i){return i.complete&&i.naturalWidth>0;}).length;"
    "document.body.dataset.imagesLoaded=ok+'/'+all.length;"
    "document.body.dataset.pageHeight=Math.ceil(document.documentElement.scrollHeight);});"
)


def pct(x: float | None, digits: int = 1) -> str:
    """A fraction as a percentage string (``0.9134`` → ``91.3%``); ``–`` when missing."""
    if x is None or not math.isfinite(float(x)):
        return "–"
    return f"{100 * float(x):.{digits}f}%"


def num(x: float | None, fmt: str) -> str:
    """``format(x, fmt)``; ``–`` when missing or not finite."""
    return format(float(x), fmt) if x is not None and math.isfinite(float(x)) else "–"


def count(n: int | float) -> str:
    """An item count with thousands separators (``10000`` → ``10,000``)."""
    return f"{int(n):,}"


def duration(seconds: float | None) -> str:
    """``42 s``, ``12.5 min`` or ``3.2 h``; ``–`` when missing."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 90 * 60 else f"{seconds / 3600:.1f} h"


def png_data_uri(path: Path) -> str:
    """``data:image/png;base64,...`` of a PNG file."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def csp() -> Markup:
    """The Content-Security-Policy of the page (see the module docstring)."""
    digest = base64.b64encode(hashlib.sha256(IMAGES_LOADED_SCRIPT.encode("utf-8")).digest()).decode("ascii")
    return Markup(f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                  f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'")


ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("classifykit.report", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,  # a misspelt name is our bug: fail the render, do not print ""
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(pct=pct, num=num, count=count, duration=duration, data_uri=png_data_uri)


def render(template: str, **context) -> str:
    """Render one template of ``report/templates`` with ``context`` (strings are escaped by the template)."""
    return ENV.get_template(template).render(**context)


def page(**context) -> str:
    """The whole document from ``report.html.j2``: ``title``, ``header`` (context of ``header.html.j2``),
    ``sections`` (:class:`classifykit.report.sections.Section` list, in page order) and ``footer``."""
    return render("report.html.j2", csp=csp(), script=Markup(IMAGES_LOADED_SCRIPT), **context)
