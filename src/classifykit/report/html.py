"""The page shell of report.html: one self-contained file with inline CSS and embedded images.

The Content-Security-Policy forbids every network request (``default-src 'none'``; images only
from ``data:`` URIs) and allows exactly one script, by its SHA-256 hash: even a string that escaped
:func:`html.escape` could not run. That script counts the images that decoded and writes
``data-images-loaded="<ok>/<total>"`` on ``<body>`` for the browser test.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from pathlib import Path

IMAGES_LOADED_SCRIPT = (
    "window.addEventListener('load',function(){"
    "var all=Array.prototype.slice.call(document.images);"
    "var ok=all.filter(function(i){return i.complete&&i.naturalWidth>0;}).length;"
    "document.body.dataset.imagesLoaded=ok+'/'+all.length;});"
)

CSS = """
:root{--fg:#1d2433;--muted:#5b6475;--line:#e3e6ec;--bg:#f6f7f9;--card:#fff;--accent:#2563eb;
--warn:#b45309;--warnbg:#fff7ed;--info:#1d4ed8;--infobg:#eff6ff;--ok:#15803d;--okbg:#f0fdf4}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.55 -apple-system,BlinkMacSystemFont,"Segoe UI",
Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
header{background:#111827;color:#f9fafb;padding:28px 40px 24px}
header .kicker{color:#9ca3af;font-size:13px;letter-spacing:.04em;text-transform:uppercase}
header h1{margin:4px 0 18px;font-size:26px;font-weight:650;word-break:break-all}
.keys{display:flex;flex-wrap:wrap;gap:14px}
.key{background:#1f2937;border-radius:10px;padding:12px 18px;min-width:170px}
.key .v{font-size:30px;font-weight:700;line-height:1.1;font-variant-numeric:tabular-nums}
.key .l{color:#9ca3af;font-size:12px;text-transform:uppercase;letter-spacing:.05em;margin-top:4px}
.key .s{color:#d1d5db;font-size:13px;margin-top:2px}
.key.main .v{font-size:40px;color:#93c5fd}
nav{position:sticky;top:0;z-index:1;background:#fff;border-bottom:1px solid var(--line);padding:0 40px}
nav a{display:inline-block;padding:10px 12px 9px;color:var(--muted);text-decoration:none;font-size:14px}
nav a:hover{color:var(--accent)}
main{max-width:1180px;margin:0 auto;padding:8px 40px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:20px 26px;margin:22px 0}
h2{margin:0 0 12px;font-size:19px}
h3{margin:18px 0 8px;font-size:15px;color:var(--muted)}
p{margin:8px 0}
.muted{color:var(--muted)}
figure{margin:12px 0}
figure img{max-width:100%;height:auto;display:block}
table{border-collapse:collapse;font-size:13.5px;margin:8px 0}
th,td{padding:5px 12px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{color:var(--muted);font-weight:600;background:#fafbfc}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.best td{background:#ecfdf5;font-weight:600}
.bar{display:inline-block;height:8px;background:#60a5fa;border-radius:4px;vertical-align:middle;margin-left:6px}
.scroll{max-height:420px;overflow:auto;border:1px solid var(--line);border-radius:8px}
.scroll table{margin:0;width:100%}
.finding{border-left:4px solid;border-radius:8px;padding:10px 14px;margin:10px 0}
.finding b{display:block;margin-bottom:2px}
.finding.warning{border-color:#f59e0b;background:var(--warnbg)}.finding.warning b{color:var(--warn)}
.finding.info{border-color:#60a5fa;background:var(--infobg)}.finding.info b{color:var(--info)}
.finding.ok{border-color:#4ade80;background:var(--okbg)}.finding.ok b{color:var(--ok)}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px}
.tile{border:1px solid var(--line);border-radius:8px;padding:8px;text-align:center;font-size:12.5px}
.tile img{width:112px;height:112px;object-fit:contain;image-rendering:pixelated;background:#f3f4f6}
.tile .t{color:var(--ok)}.tile .p{color:#b91c1c}
.tile .f{color:var(--muted);font-size:11px;word-break:break-all}
.texts .txt{border:1px solid var(--line);border-radius:8px;padding:10px 14px;margin:8px 0}
.texts .meta{font-size:12.5px;color:var(--muted);margin-bottom:4px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:24px;align-items:start}
@media (max-width:900px){.cols{grid-template-columns:1fr}}
footer{color:var(--muted);font-size:12.5px;text-align:center;padding:0 0 30px}
"""


def csp() -> str:
    """The Content-Security-Policy of the page (see the module docstring)."""
    digest = base64.b64encode(hashlib.sha256(IMAGES_LOADED_SCRIPT.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
            f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'")


def png_data_uri(path: Path) -> str:
    """``data:image/png;base64,...`` of a PNG file."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def figure(path: Path, alt: str) -> str:
    """An embedded PNG with its alt text (escaped)."""
    return f'<figure><img src="{png_data_uri(path)}" alt="{escape(alt)}"></figure>'


def page(title: str, header: str, nav: list[tuple[str, str]], sections: list[str], footer: str) -> str:
    """The whole document. ``header``, ``sections`` and ``footer`` are HTML already escaped by the caller;
    ``title`` and the ``(anchor, label)`` pairs of ``nav`` are escaped here."""
    links = "".join(f'<a href="#{escape(a)}">{escape(label)}</a>' for a, label in nav)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{csp()}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
        f"{header}\n<nav>{links}</nav>\n<main>\n" + "\n".join(sections) + "\n</main>\n"
        f"<footer>{footer}</footer>\n<script>{IMAGES_LOADED_SCRIPT}</script>\n</body></html>\n"
    )
