"""The honest part of an evaluation: baselines beside the model, calibration and diagnosis.

:func:`evaluation_blocks` turns one evaluation's raw logits plus the run folder's ``baselines.json``,
``duplicates.csv``, ``metrics.csv``, ``config.json`` and ``model.json`` into eval.json's optional
blocks (shapes in :mod:`classifykit.report.evalblocks`): ``macro_f1_ci95``, ``baselines`` (each with
McNemar's paired test against the model on the same test items), ``calibration`` (ECE before/after
the saved temperature, reliability bins) and ``findings`` (:func:`classifykit.analysis.diagnosis.diagnose`).
Baselines and findings need the run's own test split; for ``evaluate --data`` only calibration and
the model's macro-F1 interval are given, with ``baselines_note`` saying why.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classifykit import runfolder as rf
from classifykit.analysis.baselines import baseline_report, scores
from classifykit.analysis.calibration import N_BINS, apply_temperature, reliability_diagram
from classifykit.analysis.diagnosis import diagnose
from classifykit.io import read_csv_rows, read_json
from classifykit.tasks.baselines import DUPLICATES, load_baselines

NOT_RECOMPUTED = ("baselines are fitted once on the run's own split at training time and are not recomputed "
                  "for --data; see the run's own eval.json")


def _reliability(diagram: dict) -> dict:
    """analysis' reliability bins as the report's ``{confidence, accuracy, count}`` (non-empty bins)."""
    full = [b for b in diagram["bins"] if b["count"]]
    return {"confidence": [b["confidence"] for b in full], "accuracy": [b["accuracy"] for b in full],
            "count": [b["count"] for b in full]}


def calibration_block(raw_logits: np.ndarray, targets: np.ndarray, temperature: float, n_bins: int = N_BINS) -> dict:
    """ECE and reliability of softmax(logits) and softmax(logits / T) on the evaluated items."""
    before = reliability_diagram(apply_temperature(raw_logits, 1.0), targets, n_bins)
    after = reliability_diagram(apply_temperature(raw_logits, temperature), targets, n_bins)
    return {"method": "temperature scaling (Guo et al. 2017)", "temperature": float(temperature), "fitted_on": "val",
            "n_bins": n_bins, "ece_before": before["ece"], "ece_after": after["ece"],
            "reliability_before": _reliability(before), "reliability_after": _reliability(after)}


def _baseline_entry(block: dict, comparison: dict) -> dict:
    """One eval.json ``baselines`` entry from a baselines.json block and its comparison with the model.

    The baseline's fit time stays in baselines.json: eval.json holds only what the evaluation
    measured, so evaluating the same run again writes the same file."""
    b, test = comparison["baseline_scores"], comparison["mcnemar"]
    entry = {"name": block["name"], "accuracy": b["accuracy"], "ci95": b["ci95"], "macro_f1": b["macro_f1"],
             "macro_f1_ci95": b["macro_f1_ci95"],
             "paired_test": {"method": f"McNemar {test['method']}", "model_only": test["b"],
                             "baseline_only": test["c"], "p_value": test["p_value"]},
             "verdict": comparison["verdict"]}
    if block.get("note"):
        entry["note"] = block["note"]
    return entry


def _history(run: Path) -> dict | None:
    """Diagnosis ``history`` facts from metrics.csv, config.json and the last checkpoint."""
    from classifykit.tasks.progress import training_progress

    rows = read_csv_rows(run / rf.METRICS) if (run / rf.METRICS).is_file() else []
    if not rows:
        return None
    cfg = read_json(run / rf.CONFIG)["config"] if (run / rf.CONFIG).is_file() else {}
    progress = training_progress(run)
    train = [float(r["train_acc"]) for r in rows] if all(r.get("train_acc") for r in rows) else None
    # val accuracy, not the selection metric: over-fitting compares it with train accuracy
    return {"val_metric": [float(r["val_acc"]) for r in rows], "train_metric": train,
            "epochs_configured": int(cfg.get("epochs", len(rows))),
            "stopped_early": bool(progress.stopped_early) if progress else False,
            "schedule": cfg.get("schedule", "onecycle")}


def _finding(f: Any, items: list[str] | None = None) -> dict:
    out = {"severity": f.severity, "code": f.code, "title": f.title, "detail": f.detail, "fix": f.fix}
    if items:
        out["items"] = items
    return out


def evaluation_blocks(run: Path, report: dict, items: list[str], raw_logits: torch.Tensor, targets: torch.Tensor,
                      temperature: float, own_split: bool) -> dict:
    """eval.json's extra blocks for one evaluation (see the module docstring).

    Args:
        report: the eval.json body so far (``n``, ``correct``, ``accuracy``, ``ci95``, ``per_class``).
        items: evaluated item keys in ``raw_logits`` row order.
        raw_logits: ``N×K`` logits before the temperature; targets ``N`` int64.
        own_split: the run's saved test split (baselines and findings), else ``--data``.
    """
    z, y = raw_logits.float().numpy(), targets.numpy()
    k = z.shape[1]
    pred = (z / temperature).argmax(1)
    out: dict[str, Any] = {"macro_f1_ci95": scores(y, pred, k)["macro_f1_ci95"],
                           "calibration": calibration_block(z, y, temperature)}
    saved = load_baselines(run)
    if not own_split or saved is None:
        out["baselines_note"] = NOT_RECOMPUTED if not own_split else "no baselines.json (trained before baselines)"
        return out
    comparisons, entries = {}, []
    for block in saved["baselines"]:
        by_item = block["predictions"]
        if not all(i in by_item for i in items):
            continue  # the split changed since training: these predictions are of other items
        comparisons[block["name"]] = c = baseline_report(pred, block["name"], [by_item[i] for i in items], y, k)
        entries.append(_baseline_entry(block, c))
    out["baselines"] = entries
    names = list(comparisons)
    facts: dict[str, Any] = {"test": report, "train_counts": saved.get("train_counts"),
                             "truncation": saved.get("truncation")}
    if names:
        facts["majority"] = {"accuracy": comparisons[names[0]]["baseline_scores"]["accuracy"]}
    same_model = {block["name"] for block in saved["baselines"] if block.get("same_model")}
    if len(names) > 1 and names[1] not in same_model:
        facts["baseline"] = comparisons[names[1]]
    history = _history(run)
    if history:
        facts["history"] = history
    pairs = []
    if (run / DUPLICATES).is_file():
        pairs = [(r["test"], r["train"], int(r["distance"])) for r in read_csv_rows(run / DUPLICATES)]
        wanted = set(items)
        pairs = [p for p in pairs if p[0] in wanted]
        facts["duplicates"] = {"pairs": pairs, "n_test": len(items), "kind": (saved.get("duplicates") or {}).get("kind", "image")}
    findings = []
    for f in diagnose(facts):
        listed = [f"{t} ~ {s}" + (f" (distance {d})" if d else "") for t, s, d in pairs] if f.code == "near_duplicates" else None
        findings.append(_finding(f, listed))
    out["findings"] = findings
    return out


def say_honest(cfg: Any, report: dict) -> None:
    """Training's last lines: the baselines and calibration (:func:`~classifykit.tasks.common.say`),
    then the error and warning findings on stderr."""
    from classifykit.tasks.common import say

    for line in honest_lines(report):
        say(cfg, line, summary=True)
    print_findings(report)


def interval(ci, scale: float = 100.0) -> str:
    """`` [lo–hi]`` of a 95% interval (percent by default), or nothing."""
    if not ci:
        return ""
    digits = 1 if scale == 100 else 3
    return f" [95% CI {scale * ci[0]:.{digits}f}–{scale * ci[1]:.{digits}f}]"


def honest_lines(report: dict) -> list[str]:
    """The calibration line and one line per baseline beside the model (eval.json's optional blocks)."""
    lines = []
    cal = report.get("calibration")
    if cal:
        lines.append(f"Calibration: temperature {cal['temperature']:.3f} (fitted on {cal['fitted_on']}); "
                     f"ECE {cal['ece_before']:.3f} before, {cal['ece_after']:.3f} after")
    for b in report.get("baselines") or []:
        t = b.get("paired_test")
        test = ""
        if t:
            verdict = {"better": "the model is better", "worse": "the model is WORSE", "tie": "no clear difference"}
            test = (f"; {t['method']}: model alone right {t['model_only']}, baseline alone right {t['baseline_only']}, "
                    f"p = {t['p_value']:.3g} ({verdict.get(b.get('verdict'), b.get('verdict'))})")
        lines.append(f"Baseline {b['name']}: accuracy {100 * b['accuracy']:.1f}%{interval(b['ci95'])}, "
                     f"macro-F1 {b['macro_f1']:.3f}{interval(b.get('macro_f1_ci95'), 1)}{test}"
                     + (f" ({b['note']})" if b.get("note") else ""))
    if report.get("baselines_note"):
        lines.append(f"Baselines: {report['baselines_note']}")
    return lines


def print_findings(report: dict) -> None:
    """eval.json's error and warning findings as ``error: ...`` / ``warning: ...`` lines on stderr."""
    for f in report.get("findings") or []:
        if f["severity"] in ("error", "warning"):
            fix = f" Fix: {f['fix']}" if f.get("fix") else ""
            print(f"{f['severity']}: {f['title']}. {f['detail']}{fix}", file=sys.stderr, flush=True)

