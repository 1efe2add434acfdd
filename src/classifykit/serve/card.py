"""The model card of ``GET /model``: what a person needs to judge an answer, from the run folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from classifykit import runfolder as rf
from classifykit.io import read_json
from classifykit.models.meta import ModelMeta


def model_card(run: Path, meta: ModelMeta) -> dict:
    """``{task, architecture, num_classes, classes, pretrained, temperature, trained, best_epoch,
    best_val_acc, test, baselines}``.

    ``trained``: the UTC time (ISO 8601) the best weights were saved (``model.safetensors``'s
    modification time). ``test``: ``{accuracy, ci95, n, split}`` from ``eval.json`` (the 95% Wilson
    interval), or None before the run was tested. ``baselines``: ``[{name, accuracy, ci95}]`` from
    eval.json's optional ``baselines`` block ([] when absent). Fractions are 0..1.
    """
    mtime = (run / rf.WEIGHTS).stat().st_mtime
    evaluation = read_json(run / rf.EVAL) if (run / rf.EVAL).is_file() else None
    test = None
    if evaluation is not None and "accuracy" in evaluation:
        test = {k: evaluation.get(k) for k in ("accuracy", "ci95", "n", "split")}
    baselines = [{k: b.get(k) for k in ("name", "accuracy", "ci95")} for b in (evaluation or {}).get("baselines") or []]
    return {"task": meta.task, "architecture": meta.architecture, "num_classes": meta.num_classes,
            "classes": list(meta.classes), "pretrained": meta.pretrained, "temperature": meta.temperature,
            "trained": dt.datetime.fromtimestamp(mtime, dt.timezone.utc).isoformat(timespec="seconds"),
            "best_epoch": meta.best_epoch, "best_val_acc": meta.best_val_acc, "test": test, "baselines": baselines}
