"""The sections of report.html, one function each, from the run's files, figures and diagnoses.

Every string that comes from the user's data or files (class names, file names, texts, config
values, skip reasons) goes through :func:`html.escape`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from html import escape
from pathlib import Path

import numpy as np

from classifykit import runfolder as rf
from classifykit.report import figures as fg
from classifykit.report.diagnose import Finding, stopped_text
from classifykit.report.gallery import WrongItem
from classifykit.report.html import figure
from classifykit.report.rundata import RunData

MAX_TABLE_ROWS = 200
TEXT_CHARS = 600


def pct(x: float | None, digits: int = 1) -> str:
    """A fraction as a percentage string (``0.9134`` → ``91.3%``); ``–`` when missing."""
    if x is None or not math.isfinite(float(x)):
        return "–"
    return f"{100 * float(x):.{digits}f}%"


def duration(seconds: float) -> str:
    """``42 s``, ``12.5 min`` or ``3.2 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 90 * 60 else f"{seconds / 3600:.1f} h"


def ci_text(ev: dict) -> str:
    """``95% CI 90.7–91.8% · n = 10,000`` from an eval.json body."""
    lo, hi = ev.get("ci95", [math.nan, math.nan])
    return f"95% CI {pct(lo)}–{pct(hi)} · n = {int(ev.get('n', 0)):,}"


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>\n{body}\n</section>'


def _missing(name: str, how: str, empty: bool = False) -> str:
    """A note that a file is absent (or, with ``empty``, present without rows yet) and what writes it."""
    what = f"<code>{escape(name)}</code> has no rows yet" if empty else \
        f"No <code>{escape(name)}</code> in this run folder yet"
    return f'<p class="muted">{what} — {how}.</p>'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int] = frozenset(),
           row_class: Sequence[str] | None = None) -> str:
    """A table of already-escaped cells; columns in ``numeric`` are right-aligned."""
    def cls(i: int) -> str:
        return ' class="n"' if i in numeric else ""
    def tr(r: int) -> str:
        return f'<tr class="{row_class[r]}">' if row_class and row_class[r] else "<tr>"
    head = "".join(f"<th{cls(i)}>{h}</th>" for i, h in enumerate(header))
    body = "".join(tr(r) + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(row)) + "</tr>"
                   for r, row in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num(x: float, fmt: str) -> str:
    return format(x, fmt) if math.isfinite(x) else "–"


def _top_k(run: RunData) -> dict[str, float]:
    """eval.json's top-k accuracies for k below the number of classes (top-5 of 2 classes is always 100%)."""
    ev = run.eval or {}
    k_classes = len(run.classes or ev.get("per_class") or [])
    return {k: v for k, v in (ev.get("top_k") or {}).items() if not k_classes or int(k) < k_classes}


def header(run: RunData) -> str:
    """Dark header: run name, task and model, and the key numbers (test accuracy first)."""
    model = run.model or {}
    kicker = " · ".join(escape(str(x)) for x in ("classifykit run report", run.task,
                                                   model.get("architecture") or run.config.get("model") or run.config.get("rnn"))
                        if x and x != "unknown")
    keys = []
    ev = run.eval
    if ev:
        keys.append(f'<div class="key main"><div class="v" id="test-accuracy">{pct(ev.get("accuracy"))}</div>'
                    f'<div class="l">{escape(str(ev.get("split", "test")))} accuracy</div>'
                    f'<div class="s" id="test-ci">{escape(ci_text(ev))}</div></div>')
    else:
        keys.append('<div class="key main"><div class="v">–</div><div class="l">test accuracy</div>'
                    '<div class="s">not evaluated yet</div></div>')
    best = fg.best_epoch(run)
    m = run.metrics
    if m and "val_acc" in m and np.isfinite(m["val_acc"]).any():
        val = model.get("best_val_acc", float(np.nanmax(m["val_acc"])))
        where = f"epoch {best} of {len(m['epoch'])}" if best is not None else ""
        if run.interrupted_at is not None:
            where += f"; {stopped_text(run.interrupted_at)}"
        keys.append(f'<div class="key"><div class="v">{pct(val)}</div><div class="l">best val accuracy</div>'
                    f'<div class="s">{where}</div></div>')
    if ev and "macro_f1" in ev:
        top5 = _top_k(run).get("5")
        sub = f"top-5 accuracy {pct(top5)}" if top5 is not None else ""
        keys.append(f'<div class="key"><div class="v">{_num(float(ev["macro_f1"]), ".3f")}</div>'
                    f'<div class="l">macro F1</div><div class="s">{sub}</div></div>')
    if m and "seconds" in m and np.isfinite(m["seconds"]).any():
        secs = float(np.nansum(m["seconds"]))
        rate = m.get("samples_per_s")
        sub = f"{np.nanmean(rate):,.0f} samples/s" if rate is not None and np.isfinite(rate).any() else ""
        keys.append(f'<div class="key"><div class="v">{duration(secs)}</div><div class="l">training time</div>'
                    f'<div class="s">{sub}</div></div>')
    return (f'<header><div class="kicker">{kicker}</div><h1>{escape(run.run_dir.resolve().name)}</h1>'
            f'<div class="keys">{"".join(keys)}</div></header>')


def diagnosis(findings: list[Finding]) -> str:
    """Findings as coloured cards (warnings first)."""
    if not findings:
        body = _missing(rf.STEPS, "diagnoses need the training logs written by classifykit train")
    else:
        order = {"warning": 0, "info": 1, "ok": 2}
        body = "".join(f'<div class="finding {f.level}"><b>{escape(f.title)}</b>{escape(f.message)}</div>'
                       for f in sorted(findings, key=lambda f: order.get(f.level, 3)))
    return _section("diagnosis", "Diagnosis", body)


def training(run: RunData, figs: dict[str, Path]) -> str:
    """Learning curves, the per-epoch table (best epoch highlighted) and the learning rate."""
    m = run.metrics
    if not m or fg.LEARNING_CURVES not in figs:
        return _section("training", "Training", _missing(rf.METRICS, "it is written by classifykit train after each "
                                                         "epoch", empty=m is not None))
    parts = [figure(figs[fg.LEARNING_CURVES], "Training and validation loss and accuracy per epoch")]
    best = fg.best_epoch(run)
    cols = [("epoch", "epoch", ".0f"), ("train_loss", "train loss", ".4f"), ("train_acc", "train acc", "%"),
            ("val_loss", "val loss", ".4f"), ("val_acc", "val acc", "%"), ("lr", "lr", ".2e"),
            ("grad_norm_mean", "grad norm mean", ".3g"), ("grad_norm_max", "grad norm max", ".3g"),
            ("clipped_frac", "clipped", "%"), ("seconds", "seconds", ".1f"), ("samples_per_s", "samples/s", ",.0f")]
    cols = [c for c in cols if c[0] in m]
    rows = [[pct(m[k][i]) if f == "%" else _num(float(m[k][i]), f) for k, _, f in cols]
            for i in range(len(m["epoch"]))]
    marks = ["best" if best is not None and int(m["epoch"][i]) == best else "" for i in range(len(rows))]
    parts.append(f'<div class="scroll">{_table([escape(c[1]) for c in cols], rows, set(range(len(cols))), marks)}</div>')
    if fg.LEARNING_RATE in figs:
        parts.append(figure(figs[fg.LEARNING_RATE], "Learning rate over training"))
    return _section("training", "Training", "\n".join(parts))


def gradients(run: RunData, figs: dict[str, Path]) -> str:
    """The gradient-norm figure with the clipping threshold and per-layer-group norms."""
    if fg.GRAD_NORM not in figs:
        return _section("gradients", "Gradients", _missing(rf.STEPS, "it is written by classifykit train",
                                                           empty=run.steps is not None))
    clip = run.clip_grad_norm
    groups = ", ".join(escape(c[3:]) for c in run.group_norm_columns) or "none logged"
    text = (f"<p>Global L2 norm of the gradient before clipping, one point per optimizer step (log scale). "
            f"Clipping threshold: <b>{escape(f'{clip:g}') if clip is not None else 'off'}</b>. "
            f"Layer groups: {groups}. A healthy run shows norms that wander within a factor of a few; "
            f"sudden jumps mean exploding gradients, early groups far below late ones mean vanishing gradients "
            f"(see Diagnosis).</p>")
    return _section("gradients", "Gradients", text + figure(figs[fg.GRAD_NORM], "Gradient norm per step"))


def results(run: RunData, figs: dict[str, Path]) -> str:
    """Test accuracy with its interval, the confusion matrix and per-class precision/recall/F1."""
    ev = run.eval
    if not ev:
        return _section("results", "Test results", _missing(rf.EVAL, "run classifykit evaluate on this run"))
    n, need = int(ev.get("n", 0)), ev.get("n_for_pm2")
    lo, hi = ev.get("ci95", [math.nan, math.nan])
    lines = [f'<p>Accuracy on the {escape(str(ev.get("split", "test")))} split: '
             f'<b>{pct(ev.get("accuracy"), 2)}</b> ({int(ev.get("correct", 0)):,} of {n:,} correct), '
             f'95% confidence interval {pct(lo)}–{pct(hi)} '
             f'({escape(str(ev.get("ci_method", "wilson")).capitalize())} score interval).']
    if need:
        verdict = ("this test set is large enough" if n >= need else
                   f"this test set has {n:,}, so its accuracy is less precise than that")
        lines.append(f" A ±2-point 95% interval needs about <b>{int(need):,}</b> test items: {verdict}.")
    top = _top_k(run)
    if top:
        lines.append(" " + ", ".join(f"top-{escape(str(k))} {pct(v)}" for k, v in top.items())
                     + (f"; macro F1 {_num(float(ev['macro_f1']), '.3f')}" if "macro_f1" in ev else "") + ".")
    parts = ["".join(lines) + "</p>"]
    if fg.CONFUSION in figs:
        parts.append("<h3>Confusion matrix</h3>" + figure(figs[fg.CONFUSION], "Confusion matrix"))
    per_class = ev.get("per_class") or []
    if per_class:
        rows = [[escape(str(r["class"])), _num(float(r["precision"]), ".3f"), _num(float(r["recall"]), ".3f"),
                 f'{_num(float(r["f1"]), ".3f")}<span class="bar" style="width:{max(0.0, 80 * float(r["f1"])):.0f}px">'
                 f'</span>', f'{int(r["support"]):,}'] for r in per_class]
        table = _table(["class", "precision", "recall", "F1", "support"], rows, {1, 2, 3, 4})
        fig = figure(figs[fg.PER_CLASS], "Per-class precision, recall and F1") if fg.PER_CLASS in figs else ""
        parts.append(f'<h3>Per class</h3><div class="cols"><div class="scroll">{table}</div><div>{fig}</div></div>')
    return _section("results", "Test results", "\n".join(parts))


def mistakes(run: RunData, wrong: list[WrongItem], n_wrong: int) -> str:
    """The most confidently wrong test items: a thumbnail gallery (images) or the texts."""
    if run.predictions is None:
        return _section("mistakes", "Most confident mistakes",
                        _missing(rf.TEST_PREDICTIONS, "run classifykit evaluate on this run"))
    if not wrong:
        return _section("mistakes", "Most confident mistakes", "<p>No test item was misclassified.</p>")
    intro = (f"<p>The {len(wrong)} most confident of the {n_wrong:,} misclassified test items, highest predicted "
             f"probability first. Often these are label errors or genuinely ambiguous items.</p>")
    if run.task == "text":
        cards = []
        for w in wrong:
            text = w.text if w.text is not None else w.problem or ""
            short = text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS] + "…"
            cards.append(f'<div class="txt"><div class="meta">row {escape(w.item)} · true <b>{escape(w.label)}</b> · '
                         f'predicted <b>{escape(w.pred)}</b> ({pct(w.prob)})</div>{escape(short)}</div>')
        return _section("mistakes", "Most confident mistakes", intro + f'<div class="texts">{"".join(cards)}</div>')
    tiles = []
    for w in wrong:
        img = (f'<img src="{w.image}" alt="{escape(w.item)}">' if w.image else
               f'<div class="f">{escape(w.problem or "")}</div>')
        tiles.append(f'<div class="tile">{img}<div class="t">true: {escape(w.label)}</div>'
                     f'<div class="p">pred: {escape(w.pred)} ({pct(w.prob)})</div>'
                     f'<div class="f">{escape(w.item)}</div></div>')
    return _section("mistakes", "Most confident mistakes", intro + f'<div class="gallery">{"".join(tiles)}</div>')


def data(run: RunData, figs: dict[str, Path]) -> str:
    """Class counts per split and every skipped input with its reason."""
    parts = []
    counts = fg.split_counts(run)
    if counts is None:
        parts.append(_missing(rf.SPLIT, "it is written when training starts"))
    else:
        labels, per_split = counts
        splits = list(per_split)
        rows = [[escape(c), *(f"{int(per_split[s][i]):,}" for s in splits),
                 f"{int(sum(per_split[s][i] for s in splits)):,}"] for i, c in enumerate(labels)]
        rows.append(["<b>total</b>", *(f"<b>{int(per_split[s].sum()):,}</b>" for s in splits),
                     f"<b>{int(sum(per_split[s].sum() for s in splits)):,}</b>"])
        table = _table(["class", *map(escape, splits), "total"], rows, set(range(1, len(splits) + 2)))
        fig = figure(figs[fg.CLASS_COUNTS], "Items per class and split") if fg.CLASS_COUNTS in figs else ""
        parts.append(f'<div class="cols"><div class="scroll">{table}</div><div>{fig}</div></div>')
    skipped = run.skipped
    if skipped is None:
        parts.append(_missing(rf.SKIPPED, "it is written when the data is scanned"))
    elif not skipped:
        parts.append("<h3>Skipped inputs</h3><p>None: every input was used.</p>")
    else:
        shown = skipped[:MAX_TABLE_ROWS]
        more = (f'<p class="muted">…and {len(skipped) - len(shown):,} more in {rf.SKIPPED}.</p>'
                if len(skipped) > len(shown) else "")
        rows = [[escape(r.get("file", "")), escape(r.get("reason", ""))] for r in shown]
        parts.append(f"<h3>Skipped inputs ({len(skipped):,})</h3><div class=\"scroll\">"
                     f"{_table(['file', 'reason'], rows)}</div>{more}")
    return _section("data", "Data", "\n".join(parts))


def configuration(run: RunData) -> str:
    """The resolved configuration, model metadata and library versions."""
    def value(v: object) -> str:
        return escape(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))

    parts = []
    if run.config:
        rows = [[f"<code>{escape(str(k))}</code>", value(v)] for k, v in run.config.items()]
        parts.append(f'<h3>Configuration</h3><div class="scroll">{_table(["option", "value"], rows)}</div>')
    else:
        parts.append(_missing(rf.CONFIG, "it is written when training starts"))
    model = {k: v for k, v in (run.model or {}).items() if k != "classes"}
    side = []
    if model:
        side.append("<h3>Model</h3>" + _table(["field", "value"], [[escape(k), value(v)] for k, v in model.items()]))
    if run.versions:
        side.append("<h3>Library versions</h3>" +
                    _table(["library", "version"], [[escape(k), escape(str(v))] for k, v in run.versions.items()]))
    return _section("config", "Configuration", f'<div class="cols"><div>{"".join(parts)}</div>'
                                               f'<div>{"".join(side)}</div></div>')
