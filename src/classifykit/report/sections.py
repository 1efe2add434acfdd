"""What each part of report.html shows, from the run's files, figures and diagnoses.

Each function returns plain data (numbers, the user's strings as they are) for one template of
``report/templates``; the templates format and escape it. A :class:`Section` names its template, its
anchor and its navigation label; sections whose data is absent (no baselines, no calibration, no
candidates in eval.json) are not returned at all.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classifykit import runfolder as rf
from classifykit.report import figures as fg
from classifykit.report.diagnose import Finding, stopped_text
from classifykit.report.evalblocks import Calibration, Candidate, EvalBlocks, EvalFinding
from classifykit.report.gallery import WrongItem
from classifykit.report.html import duration, pct
from classifykit.report.rundata import RunData

MAX_TABLE_ROWS = 200
TEXT_CHARS = 600
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2, "ok": 3}


@dataclass(frozen=True)
class Section:
    """One ``<section id=anchor>`` of the page: ``template`` rendered with ``c`` = ``context``."""

    anchor: str
    nav: str
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


def _missing(name: str, how: str, empty: bool = False) -> dict[str, Any]:
    """A note that file ``name`` is absent (or, with ``empty``, has no rows yet) and what writes it."""
    return {"name": name, "how": how, "empty": empty}


def ci_text(ev: dict) -> str:
    """``95% CI 90.7–91.8% · n = 10,000`` from an eval.json body."""
    lo, hi = ev.get("ci95", [math.nan, math.nan])
    return f"95% CI {pct(lo)}–{pct(hi)} · n = {int(ev.get('n', 0)):,}"


def top_k(run: RunData) -> dict[str, float]:
    """eval.json's top-k accuracies for k below the number of classes. Runs evaluated before
    ``classification_report`` dropped them hold e.g. a top-5 of 2 classes, which is always 100%."""
    ev = run.eval or {}
    k_classes = len(run.classes or ev.get("per_class") or [])
    return {k: v for k, v in (ev.get("top_k") or {}).items() if not k_classes or int(k) < k_classes}


def p_text(p: float) -> str:
    """``p < 0.001`` or ``p = 0.034``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def _model_name(run: RunData) -> str:
    model = run.model or {}
    return str(model.get("architecture") or run.config.get("model") or run.config.get("rnn") or "model")


def _compare(run: RunData, blocks: EvalBlocks) -> dict[str, Any] | None:
    """The headline's model-beside-baselines table and one paired-test line per baseline that has one."""
    ev = run.eval
    if not ev or not blocks.baselines:
        return None
    rows = [{"name": f"{_model_name(run)} (this run)", "model": True, "accuracy": ev.get("accuracy"),
             "ci95": ev.get("ci95"), "macro_f1": ev.get("macro_f1"), "macro_f1_ci95": blocks.macro_f1_ci95,
             "seconds": float(np.nansum(run.metrics["seconds"])) if run.metrics and "seconds" in run.metrics else None}]
    rows += [{"name": b.name, "model": False, "accuracy": b.accuracy, "ci95": b.ci95, "macro_f1": b.macro_f1,
              "macro_f1_ci95": b.macro_f1_ci95, "seconds": b.seconds} for b in blocks.baselines]
    tests = [{"name": b.name, "method": b.paired_test.method, "p": p_text(b.paired_test.p_value),
              "model_only": b.paired_test.model_only, "baseline_only": b.paired_test.baseline_only,
              "verdict": b.paired_test.verdict}
             for b in blocks.baselines if b.paired_test is not None]
    return {"rows": rows, "tests": tests, "split": str(ev.get("split", "test"))}


def _key(value: str, label: str, sub: str, *, main: bool = False, value_id: str | None = None,
         sub_id: str | None = None) -> dict[str, Any]:
    """One key-number card of the header (``value_id``/``sub_id``: element ids the browser tests read)."""
    return {"value": value, "label": label, "sub": sub, "main": main, "value_id": value_id, "sub_id": sub_id}


def header(run: RunData, blocks: EvalBlocks) -> dict[str, Any]:
    """Dark header: run name, task and model, the key numbers (test accuracy first), the baselines."""
    model = run.model or {}
    kicker = [str(x) for x in ("classifykit run report", run.task,
                               model.get("architecture") or run.config.get("model") or run.config.get("rnn"))
              if x and x != "unknown"]
    ev = run.eval
    if ev:
        keys = [_key(pct(ev.get("accuracy")), f'{ev.get("split", "test")} accuracy', ci_text(ev), main=True,
                     value_id="test-accuracy", sub_id="test-ci")]
    else:
        keys = [_key("–", "test accuracy", "not evaluated yet", main=True)]
    best = fg.best_epoch(run)
    m = run.metrics
    if m and "val_acc" in m and np.isfinite(m["val_acc"]).any():
        val = model.get("best_val_acc", float(np.nanmax(m["val_acc"])))
        where = f"epoch {best} of {len(m['epoch'])}" if best is not None else ""
        if run.interrupted_at is not None:
            where += f"; {stopped_text(run.interrupted_at)}"
        keys.append(_key(pct(val), "best val accuracy", where))
    if ev and "macro_f1" in ev:
        top5 = top_k(run).get("5")
        keys.append(_key(format(float(ev["macro_f1"]), ".3f"), "macro F1",
                         f"top-5 accuracy {pct(top5)}" if top5 is not None else ""))
    if m and "seconds" in m and np.isfinite(m["seconds"]).any():
        rate = m.get("samples_per_s")
        keys.append(_key(duration(float(np.nansum(m["seconds"]))), "training time",
                         f"{np.nanmean(rate):,.0f} samples/s" if rate is not None and np.isfinite(rate).any() else ""))
    errors = [f.title for f in blocks.findings if f.severity == "error"]  # shown above the key numbers
    return {"kicker": kicker, "name": run.run_dir.resolve().name, "keys": keys, "compare": _compare(run, blocks),
            "errors": errors}


def _finding_view(f: Finding | EvalFinding) -> dict[str, Any]:
    if isinstance(f, EvalFinding):
        return {"severity": f.severity, "title": f.title, "detail": f.detail, "fix": f.fix, "items": list(f.items)}
    return {"severity": f.level, "title": f.title, "detail": f.message, "fix": None, "items": []}


def diagnosis(findings: list[Finding], blocks: EvalBlocks) -> Section:
    """eval.json's findings and the training diagnoses as coloured cards, errors first, then warnings. A training
    diagnosis with the title of an eval.json finding is shown once (eval.json's, which has a fix)."""
    titles = {f.title.casefold() for f in blocks.findings}
    cards = [*blocks.findings, *(f for f in findings if f.title.casefold() not in titles)]
    views = sorted((_finding_view(f) for f in cards), key=lambda v: SEVERITY_ORDER.get(v["severity"], 4))
    missing = None if findings else _missing(rf.STEPS, "diagnoses need the training logs written by classifykit train")
    return Section("diagnosis", "Diagnosis", "Diagnosis", "diagnosis.html.j2", {"findings": views, "missing": missing})


EPOCH_COLUMNS = [("epoch", "epoch", ".0f"), ("train_loss", "train loss", ".4f"), ("train_acc", "train acc", "%"),
                 ("val_loss", "val loss", ".4f"), ("val_acc", "val acc", "%"), ("lr", "lr", ".2e"),
                 ("grad_norm_mean", "grad norm mean", ".3g"), ("grad_norm_max", "grad norm max", ".3g"),
                 ("clipped_frac", "clipped", "%"), ("seconds", "seconds", ".1f"),
                 ("samples_per_s", "samples/s", ",.0f")]


def training(run: RunData, figs: dict[str, Path]) -> Section:
    """Learning curves, the per-epoch table (best epoch highlighted) and the learning rate."""
    m = run.metrics
    if not m or fg.LEARNING_CURVES not in figs:
        return Section("training", "Training", "Training", "training.html.j2", {"missing": _missing(
            rf.METRICS, "it is written by classifykit train after each epoch", empty=m is not None)})
    best = fg.best_epoch(run)
    cols = [c for c in EPOCH_COLUMNS if c[0] in m]
    rows = [[float(m[k][i]) for k, _, _ in cols] for i in range(len(m["epoch"]))]
    marks = ["best" if best is not None and int(m["epoch"][i]) == best else "" for i in range(len(rows))]
    return Section("training", "Training", "Training", "training.html.j2", {
        "missing": None, "curves": figs[fg.LEARNING_CURVES], "lr": figs.get(fg.LEARNING_RATE),
        "header": [c[1] for c in cols], "formats": [c[2] for c in cols], "rows": rows, "marks": marks})


def gradients(run: RunData, figs: dict[str, Path]) -> Section:
    """The gradient-norm figure with the clipping threshold and per-layer-group norms."""
    if fg.GRAD_NORM not in figs:
        return Section("gradients", "Gradients", "Gradients", "gradients.html.j2", {
            "missing": _missing(rf.STEPS, "it is written by classifykit train", empty=run.steps is not None)})
    clip = run.clip_grad_norm
    return Section("gradients", "Gradients", "Gradients", "gradients.html.j2", {
        "missing": None, "clip": f"{clip:g}" if clip is not None else "off",
        "groups": [c[3:] for c in run.group_norm_columns], "figure": figs[fg.GRAD_NORM]})


def results(run: RunData, figs: dict[str, Path]) -> Section:
    """Test accuracy with its interval, the confusion matrix and per-class precision/recall/F1."""
    ev = run.eval
    if not ev:
        return Section("results", "Test results", "Test results", "results.html.j2",
                       {"missing": _missing(rf.EVAL, "run classifykit evaluate on this run")})
    n, need = int(ev.get("n", 0)), ev.get("n_for_pm2")
    lo, hi = ev.get("ci95", [math.nan, math.nan])
    return Section("results", "Test results", "Test results", "results.html.j2", {
        "missing": None, "split": str(ev.get("split", "test")), "accuracy": ev.get("accuracy"),
        "correct": int(ev.get("correct", 0)), "n": n, "lo": lo, "hi": hi,
        "ci_method": str(ev.get("ci_method", "wilson")).capitalize(), "need": int(need) if need else None,
        "top_k": list(top_k(run).items()), "macro_f1": ev.get("macro_f1"),
        "confusion": figs.get(fg.CONFUSION), "per_class": ev.get("per_class") or [],
        "per_class_figure": figs.get(fg.PER_CLASS)})


def calibration(cal: Calibration | None, figs: dict[str, Path], split: str) -> Section | None:
    """ECE before and after temperature scaling and the reliability diagram; None without a calibration block."""
    if cal is None:
        return None
    return Section("calibration", "Calibration", "Calibration", "calibration.html.j2", {
        "cal": cal, "split": split, "figure": figs.get(fg.RELIABILITY)})


def candidates(items: tuple[Candidate, ...]) -> Section | None:
    """Every candidate model with its val/test scores and time (the chosen one highlighted); None without any."""
    if not items:
        return None
    return Section("candidates", "Candidates", "Candidates", "candidates.html.j2", {
        "candidates": list(items), "has_test": any(c.test_accuracy is not None for c in items)})


def mistakes(run: RunData, wrong: list[WrongItem], n_wrong: int) -> Section:
    """The most confidently wrong test items: a thumbnail gallery (images) or the texts."""
    context: dict[str, Any] = {"missing": None, "wrong": wrong, "n_wrong": n_wrong, "text": run.task == "text",
                               "text_chars": TEXT_CHARS}
    if run.predictions is None:
        context["missing"] = _missing(rf.TEST_PREDICTIONS, "run classifykit evaluate on this run")
    return Section("mistakes", "Mistakes", "Most confident mistakes", "mistakes.html.j2", context)


def data(run: RunData, figs: dict[str, Path]) -> Section:
    """Class counts per split and every skipped input with its reason."""
    context: dict[str, Any] = {"counts": None, "split_missing": None, "skipped": None, "skipped_missing": None,
                               "max_rows": MAX_TABLE_ROWS, "skipped_file": rf.SKIPPED}
    counts = fg.split_counts(run)
    if counts is None:
        context["split_missing"] = _missing(rf.SPLIT, "it is written when training starts")
    else:
        labels, per_split = counts
        splits = list(per_split)
        rows = [[c, *(int(per_split[s][i]) for s in splits), int(sum(per_split[s][i] for s in splits))]
                for i, c in enumerate(labels)]
        rows.append(["total", *(int(per_split[s].sum()) for s in splits), int(sum(per_split[s].sum() for s in splits))])
        context["counts"] = {"header": ["class", *splits, "total"], "rows": rows,
                             "figure": figs.get(fg.CLASS_COUNTS)}
    if run.skipped is None:
        context["skipped_missing"] = _missing(rf.SKIPPED, "it is written when the data is scanned")
    else:
        context["skipped"] = [(r.get("file", ""), r.get("reason", "")) for r in run.skipped]
    return Section("data", "Data", "Data", "data.html.j2", context)


def configuration(run: RunData) -> Section:
    """The resolved configuration, model metadata and library versions."""
    def value(v: object) -> str:
        return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)

    return Section("config", "Configuration", "Configuration", "configuration.html.j2", {
        "config": [(str(k), value(v)) for k, v in run.config.items()],
        "missing": None if run.config else _missing(rf.CONFIG, "it is written when training starts"),
        "model": [(k, value(v)) for k, v in (run.model or {}).items() if k != "classes"],
        "versions": [(k, str(v)) for k, v in run.versions.items()]})
