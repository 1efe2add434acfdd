"""The text task's adapter: a table or folder of texts -> manifest + skipped -> split -> ``--model``
(auto: :mod:`classifykit.tasks.text_auto`; lstm/gru, ngram, minilm/hf-encoder:
:mod:`classifykit.tasks.text_models`) -> fit, and texts, files or stdin -> predict batches.

Only what differs from the image task lives here; :mod:`classifykit.tasks.pipeline` runs the stages.
The run folder gets ``manifest.csv`` (``row,text,label``), ``skipped.csv``, ``classes.json``,
``split.csv`` (item = source row), the model's vocabulary file (``vocab.json`` from the training split
only, so val/test words the model never saw count as ``<unk>``; ``ngram.json``; ``encoder/``) and
``model.json``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from classifykit import runfolder as rf
from classifykit.config import TextConfig
from classifykit.data.split import read_split, stratified_split, write_split
from classifykit.engine.distributed import dist_info
from classifykit.errors import ClassifykitError
from classifykit.io import write_csv
from classifykit.models.meta import ModelMeta
from classifykit.tasks import text_models as tm
from classifykit.tasks.adapter import EvalSet, PredictInputs, register_adapter
from classifykit.tasks.common import say, small_class_warnings_said, warn, write_classes
from classifykit.text.corpus import Corpus, load_corpus
from classifykit.text.labels import LabelTable, case_collision_warnings
from classifykit.text.vocab import Vocab


@dataclass
class TextData:
    """The inputs of one text run: the corpus (kept records), its label table, targets (int64 N),
    ``{split: positions of its records in corpus}``; after :meth:`TextAdapter.describe` (or
    ``resume``) also the vocabulary, the datasets of each split and, for a new run with
    ``--embeddings``, the embedding matrix (``len(vocab)×dim`` float) and its coverage."""

    corpus: Corpus
    table: LabelTable
    targets: np.ndarray
    parts: dict[str, np.ndarray]
    vocab: Vocab | None = None
    datasets: dict | None = None
    matrix: torch.Tensor | None = None
    fitted: tuple | None = None  # (model, FitResult) of a model fitted in describe (ngram, auto)
    encoder: tm.EncoderParts | None = None
    cache: None = None  # texts have no decode cache; the pipeline's test stage passes it on as images do


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


def read_inputs(run: Path, cfg: TextConfig, resumed: bool, is_main: bool) -> TextData:
    """Read the data, split it (or reuse the saved split when ``resumed``) and, on rank 0 of a new run,
    write ``manifest.csv``, ``skipped.csv`` and ``classes.json`` (``split.csv`` is written by the split).

    Raises:
        ClassifykitError: unreadable data, fewer than two classes, too few texts to split, no val text.
    """
    corpus = load_corpus(cfg.data, cfg.encoding, cfg.text_column, cfg.label_column)
    if not len(corpus) and corpus.skipped:
        where, reason = corpus.skipped[0]
        raise ClassifykitError(f"{cfg.data}: no usable text: every record was skipped ({skip_counts(corpus)}; "
                               f"the first is {where}, {reason}).")
    table = LabelTable.from_labels(corpus.labels)
    for warning in [*case_collision_warnings(corpus.labels), *corpus.label_notes]:
        warn(cfg, warning if warning.startswith(("warning:", "note:")) else f"note: {warning}")
    targets = table.encode(corpus.labels, str(cfg.data))
    split = make_split(run, cfg, corpus, reuse=resumed)
    parts = {s: np.flatnonzero(split == s) for s in ("train", "val", "test")}
    if not len(parts["val"]):  # every class too small to split went to train
        need = 1 + (cfg.val_ratio > 0) + (cfg.test_ratio > 0)
        raise ClassifykitError(f"{cfg.data}: no text went to the val split: a class needs at least {need} texts to have "
                               f"one in each split, and every class here has at most {max(Counter(corpus.labels).values())}; "
                               "add texts to each class.")
    if is_main and not resumed:
        write_inputs(run, corpus)
        write_classes(run, table.classes)
    say(cfg, f"{len(corpus)} texts in {len(table.classes)} classes {table.classes}; "
             + ", ".join(f"{s} {len(idx)}" for s, idx in parts.items()))
    if corpus.skipped:
        warn(cfg, f"warning: {skipped_summary(corpus)}")
    return TextData(corpus, table, targets, parts)


def blank_lines_note(blank: dict[str, int]) -> str:
    """``"1 blank line skipped"`` or ``"3 blank lines skipped (a.txt 2, stdin 1)"`` from ``{input: count}``."""
    counts = {("stdin" if name == "-" else name): n for name, n in blank.items() if n}
    total = sum(counts.values())
    note = f"{total} blank line{'' if total == 1 else 's'} skipped"
    return note if len(counts) == 1 else f"{note} ({', '.join(f'{name} {n}' for name, n in counts.items())})"


def _with_no_errors(loader):
    """``(inputs, positions B, errors B)`` from ``(inputs, positions)`` batches: usable texts never fail in the model."""
    for inputs, positions in loader:
        yield inputs, positions, [""] * len(positions)


@dataclass(frozen=True)
class TextAdapter:
    """The text task for :mod:`classifykit.tasks.pipeline` (see :class:`~classifykit.tasks.adapter.TaskAdapter`)."""

    task: str = "text"
    config_class: type = TextConfig
    key_columns: tuple[str, ...] = ("input", "text")
    train_command: str = "text"

    def start(self, cfg: TextConfig) -> TextConfig:
        if cfg.rnn is not None:
            print(f"warning: --rnn is deprecated; use --model {cfg.rnn} (training --model {cfg.rnn}).",
                  file=sys.stderr, flush=True)
            cfg = dataclasses.replace(cfg, model=cfg.rnn, rnn=None)
        if dist_info().world_size > 1 and cfg.model in ("auto", "ngram"):
            raise ClassifykitError(f"--model {cfg.model} under torchrun (--nproc): the n-gram model is fitted by one "
                                   "process; use --model lstm, gru, minilm or hf-encoder, or run without --nproc.")
        return absolute_paths(cfg)

    def read(self, cfg: TextConfig, run: Path) -> TextData:
        return read_inputs(run, cfg, resumed=False, is_main=True)

    def load(self, cfg: TextConfig, run: Path) -> TextData:
        return read_inputs(run, cfg, resumed=True, is_main=False)

    def describe(self, cfg: TextConfig, run: Path, data: TextData, is_main: bool) -> ModelMeta:
        if cfg.model == "auto":
            from classifykit.tasks.text_auto import train_candidates

            meta, model, result = train_candidates(cfg, run, data)
            data.fitted = (model, result)
            return meta
        if cfg.model == "ngram":
            meta, model, result = tm.fit_ngram_into(cfg, data, run)
            data.fitted = (model, result)
            return meta
        if cfg.model in tm.ENCODER_FAMILY:
            data.encoder = tm.encoder_parts(cfg, data, run, cfg.model)
            return data.encoder.meta
        return tm.describe_rnn(cfg, run, data, is_main, cfg.model)

    def resume(self, cfg: TextConfig, run: Path, data: TextData, meta: ModelMeta) -> None:
        if tm.family(meta) != "rnn" or cfg.model not in tm.RNN_FAMILY:
            raise ClassifykitError(f"--resume {run}: only --model lstm/gru runs resume (this is a --model {cfg.model} "
                                   f"run of {meta.architecture}); start a new run.")
        data.vocab = Vocab.load(run / (meta.vocab or rf.VOCAB))
        data.datasets, _ = tm.rnn_datasets(cfg, data, meta.max_length, meta.extra.get("truncation", "head"))

    def build_model(self, cfg: TextConfig, meta: ModelMeta, data: TextData) -> torch.nn.Module:
        if data.fitted is not None:
            return data.fitted[0]
        if data.encoder is not None:
            return data.encoder.model
        return tm.build_rnn(meta, data)

    def fit(self, cfg: TextConfig, run: Path, data: TextData, meta: ModelMeta, model: torch.nn.Module, *,
            resume: bool, on_best):
        if data.fitted is not None:
            return data.fitted[1]
        if data.encoder is not None:
            result = tm.fit_encoder_into(cfg, data.encoder, run, on_best=on_best)
            on_best(result.best_epoch, result.best_val_acc)
            return result
        return tm.fit_rnn(cfg, run, data, model, resume=resume, on_best=on_best)

    def eval_set(self, run: Path, cfg: TextConfig, meta: ModelMeta, data: str | None, *, batch_size: int,
                 num_workers: int, device, cache=None) -> EvalSet:
        from classifykit.text.inference import labelled_texts, split_texts

        skipped: list[tuple[str, str]] = []
        if data is None:
            items, texts, targets = split_texts(run, "test")
        else:
            items, texts, targets, skipped = labelled_texts(data, meta.classes, cfg.encoding, cfg.text_column,
                                                            cfg.label_column)
        return EvalSet(items, tm.texts_loader(run, meta, texts, targets, batch_size), skipped)

    def predict_inputs(self, run: Path, cfg: TextConfig, meta: ModelMeta, inputs: list[str], texts: list[str],
                       encoding: str | None, *, batch_size: int, num_workers: int, device) -> PredictInputs:
        """``--text`` texts, the texts of each file in ``inputs`` (``-`` is stdin) or, with neither, stdin;
        files read in ``encoding`` (None: the run's training ``--encoding``). Keys are ``input``
        (``--text N``, ``<file>:<line>`` or ``stdin:<line>``, 1-based) and ``text``. Blank lines are
        skipped with one note; a text with no letter or digit (which training skips too) gets its
        reason as the error; every other text is predicted, an all out-of-vocabulary one included."""
        from classifykit.text.inference import read_texts
        from classifykit.text.read import text_problem

        sources = [(f"--text {i}", t) for i, t in enumerate(texts, start=1)]
        blank: dict[str, int] = {}
        for name in inputs or ([] if texts else ["-"]):
            pairs, blank[name] = read_texts(name, encoding or cfg.encoding, cfg.text_column)
            sources += pairs
        problems = [text_problem(text) for _, text in sources]
        errors = ["" if p is None else f"{p}: nothing to classify (training skips such texts too)" for p in problems]
        usable = [i for i, e in enumerate(errors) if not e]
        loader = _with_no_errors(tm.texts_loader(run, meta, [sources[i][1] for i in usable],
                                                 np.asarray(usable, dtype=np.int64), batch_size))
        notes = [blank_lines_note(blank)] if sum(blank.values()) else []
        return PredictInputs([[where, text] for where, text in sources], errors, loader, notes)


register_adapter(TextAdapter())
