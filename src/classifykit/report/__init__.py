"""The run report: ``report.html`` (one self-contained file) and its PNG figures, from a run folder.

``write_report(run_dir)`` reads the run-folder files (docs/CONTRACTS.md), draws the figures with
matplotlib, diagnoses the training from the gradient norms and metrics, and writes the page from
the Jinja2 templates in ``report/templates`` (:mod:`classifykit.report.html`). eval.json's optional
blocks (baselines, findings, calibration, candidates; :mod:`classifykit.report.evalblocks`) each add
their part of the page when present;
``report.tensorboard.write_tensorboard(run_dir)`` exports the same logs for TensorBoard.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from classifykit import runfolder as rf
from classifykit.io import atomic_write_text
from classifykit.report import html, sections
from classifykit.report.diagnose import diagnose_run
from classifykit.report.evalblocks import read_blocks
from classifykit.report.figures import make_figures
from classifykit.report.gallery import confidently_wrong, data_root, wrong_items
from classifykit.report.rundata import RunData, load_run

SCREENSHOT = "report.png"
N_WRONG = 24

__all__ = ["write_report", "render_report", "SCREENSHOT"]


def render_report(run: RunData) -> str:
    """The HTML text of the report for an already loaded run (writes the figure PNGs as a side effect).

    Raises:
        ClassifykitError: an optional block of eval.json is malformed (:func:`evalblocks.read_blocks`).
    """
    blocks = read_blocks(run.eval)
    figs = make_figures(run, blocks.calibration)
    findings = diagnose_run(run.steps, run.metrics, run.clip_grad_norm, recurrent=run.task == "text",
                            interrupted_at=run.interrupted_at)
    wrong, n_wrong = [], 0
    if run.predictions:
        n_wrong = len(confidently_wrong(run.predictions, len(run.predictions)))
        texts = {r.get("row", ""): r.get("text", "") for r in run.manifest or []} if run.task == "text" else None
        wrong = wrong_items(run.predictions, run.task, root=data_root(run.config), texts=texts, n=N_WRONG)
    split = str((run.eval or {}).get("split", "test"))
    parts = [sections.diagnosis(findings, blocks), sections.training(run, figs), sections.gradients(run, figs),
             sections.results(run, figs), sections.calibration(blocks.calibration, figs, split),
             sections.candidates(blocks.candidates), sections.mistakes(run, wrong, n_wrong),
             sections.data(run, figs), sections.configuration(run)]
    return html.page(
        title=f"{run.run_dir.resolve().name} — classifykit report",
        header=sections.header(run, blocks),
        sections=[p for p in parts if p is not None],
        footer={"version": run.versions.get("classifykit", ""), "run_dir": str(run.run_dir.resolve()),
                "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")},
    )


def write_report(run_dir: str | Path, *, screenshot: bool = False) -> Path:
    """Write ``run_dir/report.html`` and its PNG figures; with ``screenshot``, also ``report.png``.

    Files absent from the run folder (e.g. no eval.json before evaluation) leave their section
    saying so. The screenshot is the whole page, 1280 px wide, rendered by headless Chromium with
    networking off (:func:`classifykit.report.browser.screenshot`).

    Returns:
        The path of report.html.

    Raises:
        ClassifykitError: ``run_dir`` is not a run folder, a run file is damaged, or (screenshot)
            Chromium is missing or fails.
    """
    run = load_run(run_dir)
    path = run.run_dir / rf.REPORT
    atomic_write_text(path, render_report(run))
    if screenshot:
        from classifykit.report.browser import screenshot as take_screenshot

        take_screenshot(path, run.run_dir / SCREENSHOT)
    return path
