"""The three text model families of a run, each trained into a folder: recurrent (``lstm``/``gru`` over
classifykit's vocabulary), ``ngram`` (tf-idf n-grams + logistic regression) and pretrained encoders
(``minilm``/``hf-encoder`` with their own tokenizer), and the one loader that feeds any saved one.

A family writes into its folder what its ``model.json`` names (``vocab.json``; ``ngram.json``, named
by ``extra["featurizer"]``; the ``encoder/`` tokenizer folder, ``extra["encoder"]``) and
``model.safetensors``; ``extra["truncation"]`` records how texts were cut (``head`` when absent: runs
saved before issue 12). :mod:`classifykit.tasks.text` trains one family into the run folder,
:mod:`classifykit.tasks.text_auto` several into ``candidates/<name>/``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from classifykit import runfolder as rf
from classifykit.config import TextConfig
from classifykit.engine.checkpoint import save_weights
from classifykit.engine.distributed import dist_info
from classifykit.engine.sampling import distributed_sampler
from classifykit.engine.trainer import FitResult, fit
from classifykit.models.meta import ModelMeta
from classifykit.models.registry import create_model
from classifykit.tasks.common import say
from classifykit.text.dataset import pad_collate
from classifykit.text.embeddings import embedding_matrix
from classifykit.text.sampler import BucketBatchSampler
from classifykit.text.vocab import Vocab
from classifykit.text.truncation import WARN_SHARE, default_max_length, truncated_count, truncation_warning

RNN_FAMILY = ("lstm", "gru")
ENCODER_FAMILY = ("minilm", "hf-encoder")
POOL_BATCHES = 100  # batches per length-sorting pool (see text.sampler)
LAZY_LENGTH_SAMPLE = 2000  # texts tokenized to choose the max length of an indexed (larger-than-memory) corpus


def family(meta: ModelMeta) -> str:
    """``"ngram"``, ``"encoder"`` or ``"rnn"``: how a saved model's inputs are made."""
    if meta.architecture == "ngram":
        return "ngram"
    return "encoder" if meta.extra.get("encoder") else "rnn"


def split_texts_of(data, split: str) -> tuple[list[str], np.ndarray]:
    """``(texts, targets int64)`` of one split of a run's :class:`~classifykit.tasks.text.TextData`."""
    idx = data.parts[split]
    return list(data.corpus.iter_texts(idx)), data.targets[idx]


def warn(line: str | None) -> None:
    """A warning that ``--quiet`` does not hide: stderr, always."""
    if line:
        print(line, file=sys.stderr, flush=True)


def one_epoch_result(val_accuracy: float, score: float, metric: str) -> FitResult:
    """The :class:`FitResult` of a model fitted in one go (the n-gram model)."""
    return FitResult(best_epoch=1, best_val_acc=val_accuracy, epochs_run=1, stopped_early=False, best_score=score,
                     select_metric=metric)


# --- recurrent -------------------------------------------------------------------------------------

def rnn_datasets(cfg: TextConfig, data, max_length: int | None, truncation: str) -> tuple[dict, int]:
    """``({split: dataset}, max length)``: texts cut to ``max_length`` (None: :func:`default_max_length` of
    the training texts' token counts) by ``truncation``. Warns on stderr when more than 10% of the
    training texts are cut (``truncation_warning``)."""
    from classifykit.text.dataset import EncodedTextDataset

    full = {s: data.corpus.dataset(idx, data.targets[idx], data.vocab, None) for s, idx in data.parts.items()}
    if isinstance(full["train"], EncodedTextDataset):
        lengths = full["train"].full_lengths
        max_length = max_length or default_max_length(lengths)
        datasets = {s: ds.truncated(max_length, truncation) for s, ds in full.items()}
    else:  # indexed corpus: texts are tokenized in __getitem__; measure a sample
        sample = data.parts["train"][:LAZY_LENGTH_SAMPLE]
        lengths = np.array([len(a) for a in data.vocab.encode_full(list(data.corpus.iter_texts(sample)))])
        max_length = max_length or default_max_length(lengths)
        datasets = {s: data.corpus.dataset(idx, data.targets[idx], data.vocab, max_length, truncation)
                    for s, idx in data.parts.items()}
    warn(truncation_warning(lengths, max_length, truncation))
    train, val = datasets["train"], datasets["val"]
    if isinstance(train, EncodedTextDataset):
        say(cfg, f"vocabulary {len(data.vocab)} tokens (min_freq {cfg.min_freq}); <unk> share: "
                 f"train {100 * data.vocab.unk_fraction(train.ids):.1f}%, val {100 * data.vocab.unk_fraction(val.ids):.1f}%; "
                 f"texts cut to {max_length} tokens ({truncation}): {truncated_count(lengths, max_length)} in train")
    return datasets, max_length


def rnn_meta(cfg: TextConfig, data, architecture: str, max_length: int, coverage: dict | None) -> ModelMeta:
    """``model.json`` of a recurrent run (vocabulary ``vocab.json``, ``extra["truncation"]``)."""
    kwargs = {"vocab_size": len(data.vocab),
              "embed_dim": int(data.matrix.shape[1]) if data.matrix is not None else cfg.embed_dim,
              "hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers, "bidirectional": cfg.bidirectional,
              "dropout": cfg.dropout, "pooling": cfg.pooling}
    return ModelMeta(task="text", architecture=architecture, num_classes=len(data.table.classes),
                     classes=data.table.classes, model_kwargs=kwargs, pretrained=cfg.embeddings, vocab=rf.VOCAB,
                     max_length=max_length, embeddings=coverage, extra={"truncation": cfg.truncation})


def train_loader(ds, cfg: TextConfig, rank: int, world_size: int) -> DataLoader:
    """Length-bucketed (or, with ``--no-bucket``, plain random) batches of ``cfg.batch_size`` per process."""
    sampler = BucketBatchSampler(ds.lengths, cfg.batch_size, seed=cfg.seed,
                                 pool_batches=POOL_BATCHES if cfg.bucket else 1,
                                 num_replicas=world_size, rank=rank)
    return DataLoader(ds, batch_sampler=sampler, collate_fn=pad_collate, **_workers(ds, cfg.num_workers))


def val_loader(ds, batch_size: int, num_workers: int = 0) -> DataLoader:
    """Batches in dataset order; each torchrun process gets its share (validation inside ``fit``)."""
    sampler = distributed_sampler(ds, shuffle=False)
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, collate_fn=pad_collate, **_workers(ds, num_workers))


def _workers(ds, num_workers: int) -> dict:
    # Encoded in-memory texts cost nothing to fetch: worker processes would only add start-up time.
    # Indexed corpora read and tokenize in __getitem__, so they get workers.
    from classifykit.data.dataset import resolve_num_workers

    n = resolve_num_workers(num_workers) if hasattr(ds, "source") else 0
    return {"num_workers": n, "persistent_workers": n > 0}


def param_groups(model: torch.nn.Module, cfg: TextConfig) -> list[dict]:
    """Embedding and the rest; a frozen embedding stays frozen for every epoch (``--freeze-embeddings``)."""
    emb = [model.embedding.weight]
    rest = [p for n, p in model.named_parameters() if not n.startswith("embedding.")]
    frozen = cfg.epochs if cfg.freeze_embeddings and cfg.embeddings else 0
    return [{"name": "embedding", "params": emb, "frozen_epochs": frozen}, {"name": "rnn", "params": rest}]


def describe_rnn(cfg: TextConfig, folder: Path, data, is_main: bool, architecture: str) -> ModelMeta:
    """Vocabulary (saved to ``folder/vocab.json`` on rank 0), datasets, pretrained vectors and the
    ``model.json`` of a recurrent model; the max length from the data unless ``--max-length``."""
    data.vocab = Vocab.build(data.corpus.iter_texts(data.parts["train"]), cfg.min_freq, cfg.max_vocab)
    if is_main:
        folder.mkdir(parents=True, exist_ok=True)
        data.vocab.save(folder / rf.VOCAB)
    data.datasets, max_length = rnn_datasets(cfg, data, cfg.max_length, cfg.truncation)
    coverage = None
    data.matrix = None
    if cfg.embeddings:
        data.matrix, found = embedding_matrix(data.vocab, cfg.embeddings, seed=cfg.seed)
        coverage = found.as_dict()
        say(cfg, f"embeddings {cfg.embeddings}: {coverage['found']}/{coverage['total']} vocabulary tokens found "
                 f"({100 * coverage['fraction']:.1f}%), {'frozen' if cfg.freeze_embeddings else 'fine-tuned'}")
    return rnn_meta(cfg, data, architecture, max_length, coverage)


def build_rnn(meta: ModelMeta, data) -> torch.nn.Module:
    """The untrained recurrent model of ``meta``, with the pretrained vectors copied in."""
    model = create_model(meta.architecture, meta.num_classes, **meta.model_kwargs)
    if data.matrix is not None:
        with torch.no_grad():
            model.embedding.weight.copy_(data.matrix)
    return model


def fit_rnn(cfg: TextConfig, folder: Path, data, model: torch.nn.Module, *, resume: bool = False,
            on_best=None):
    """Train a recurrent model on the data's train/val datasets (``engine.trainer.fit`` into ``folder``)."""
    info = dist_info()
    return fit(model, train_loader(data.datasets["train"], cfg, info.rank, info.world_size),
               val_loader(data.datasets["val"], 2 * cfg.batch_size, cfg.num_workers), cfg, folder,
               param_groups=param_groups(model, cfg), resume=resume, on_best=on_best)


# --- n-gram ----------------------------------------------------------------------------------------

def fit_ngram_into(cfg: TextConfig, data, folder: Path) -> tuple[ModelMeta, torch.nn.Module, FitResult]:
    """Fit the n-gram model on the train split (C chosen on val); write ``ngram.json`` and
    ``model.safetensors`` into ``folder``; returns ``(model.json, model in eval mode, result)``."""
    from classifykit.models.ngram import fit_ngram
    from classifykit.text.ngram import FILE_NAME

    (train_texts, train_y), (val_texts, val_y) = split_texts_of(data, "train"), split_texts_of(data, "val")
    k = len(data.table.classes)
    model, featurizer, info = fit_ngram(train_texts, train_y, val_texts, val_y, k, seed=cfg.seed)
    folder.mkdir(parents=True, exist_ok=True)
    featurizer.save(folder / FILE_NAME)
    save_weights(model, folder / rf.WEIGHTS)
    say(cfg, f"ngram: {info.num_features:,} n-gram features, C={info.C:g} chosen on val "
             f"(val accuracy {100 * info.val_accuracy:.2f}%, macro-F1 {100 * info.val_macro_f1:.2f}%) in {info.seconds:.0f} s")
    meta = ModelMeta(task="text", architecture="ngram", num_classes=k, classes=data.table.classes,
                     model_kwargs={"num_features": info.num_features}, best_epoch=1, best_val_acc=info.val_accuracy,
                     extra={"featurizer": FILE_NAME, "C": info.C, "class_weight": info.class_weight})
    score = info.val_macro_f1 if info.selected_by == "macro_f1" else info.val_accuracy
    return meta, model, one_epoch_result(info.val_accuracy, score, info.selected_by)


# --- pretrained encoders -----------------------------------------------------------------------------

@dataclasses.dataclass
class EncoderParts:
    """A new encoder run before training: model.json, the pretrained model and the tokenized splits."""

    meta: ModelMeta
    model: torch.nn.Module
    datasets: dict
    pad_id: int


def encoder_parts(cfg: TextConfig, data, folder: Path, architecture: str) -> EncoderParts:
    """Load the pretrained encoder (``--encoder DIR`` or the packaged MiniLM), choose its max length from
    the training texts (``--max-length``, else 95% of them whole, at most 256 tokens), tokenize every
    split and copy the tokenizer files into ``folder/encoder/``.

    Raises:
        ClassifykitError: no encoder folder or package (the message names the fix).
    """
    from classifykit.models.text_encoder import ENCODER_FILES_DIR, encoder_meta, saved_model_kwargs, source_folder
    from classifykit.text.hf_tokenize import (EncodedIdsDataset, HFTokenizer, copy_tokenizer_files, max_length_from_data,
                                              token_lengths)

    src = source_folder(architecture, cfg.encoder)
    model = create_model(architecture, len(data.table.classes), encoder_dir=cfg.encoder)
    limit = int(model.encoder.config.max_position_embeddings)
    train_texts, _ = split_texts_of(data, "train")
    lengths = token_lengths(src, train_texts, model_limit=limit)
    max_length = min(cfg.max_length, limit) if cfg.max_length else max_length_from_data(lengths, model_limit=limit)
    cut = truncated_count(lengths, max_length)
    if cut > WARN_SHARE * len(lengths):
        warn(f"warning: {cut:,} of {len(lengths):,} training texts ({100 * cut / len(lengths):.1f}%) are longer than the "
             f"encoder's max length {max_length} tokens and are cut to their first {max_length}; --model ngram or "
             "--model lstm read long texts whole.")
    tokenizer = HFTokenizer(src, max_length)
    datasets = {s: EncodedIdsDataset.from_texts(*split_texts_of(data, s), tokenizer) for s in data.parts}
    folder.mkdir(parents=True, exist_ok=True)
    copy_tokenizer_files(src, folder / ENCODER_FILES_DIR)
    fields = encoder_meta(architecture, cfg.encoder, frozen=cfg.freeze_encoder, max_length=max_length,
                          pad_id=tokenizer.pad_id)
    meta = ModelMeta(task="text", architecture=architecture, num_classes=len(data.table.classes),
                     classes=data.table.classes, model_kwargs=saved_model_kwargs(model), pretrained=fields["pretrained"],
                     vocab=None, max_length=max_length, extra={**fields["extra"], "truncation": "head"})
    say(cfg, f"{architecture}: {fields['pretrained']}, max length {max_length} tokens "
             f"({truncated_count(lengths, max_length)} training texts cut), "
             f"{'frozen + linear head' if cfg.freeze_encoder else 'fine-tuned'}")
    return EncoderParts(meta, model, datasets, tokenizer.pad_id)


def encoder_config(cfg: TextConfig) -> TextConfig:
    """The training options of the encoder recipe (``FINETUNE_RECIPE`` or ``FROZEN_HEAD_RECIPE``)."""
    from classifykit.models.encoder_fit import FINETUNE_RECIPE, FROZEN_HEAD_RECIPE

    return dataclasses.replace(cfg, **(FROZEN_HEAD_RECIPE if cfg.freeze_encoder else FINETUNE_RECIPE))


def encoder_loaders(cfg: TextConfig, parts: EncoderParts) -> tuple[DataLoader, DataLoader]:
    """Length-bucketed train batches and in-order val batches of ``(input_ids, attention_mask)``."""
    from classifykit.text.hf_tokenize import PadCollate

    info, ecfg = dist_info(), encoder_config(cfg)
    train, val = parts.datasets["train"], parts.datasets["val"]
    sampler = BucketBatchSampler(train.lengths, ecfg.batch_size, seed=cfg.seed, pool_batches=100,
                                 num_replicas=info.world_size, rank=info.rank)
    collate = PadCollate(parts.pad_id)
    return (DataLoader(train, batch_sampler=sampler, collate_fn=collate),
            DataLoader(val, batch_size=2 * ecfg.batch_size, sampler=distributed_sampler(val, shuffle=False),
                       collate_fn=collate))


def fit_encoder_into(cfg: TextConfig, parts: EncoderParts, folder: Path, *, on_best=None) -> FitResult:
    """Fine-tune (``FINETUNE_RECIPE``, encoder LR 5e-5, head 1e-3) or, with ``--freeze-encoder``, train
    the head on cached features; ``folder/model.safetensors`` ends with the best full model."""
    from classifykit.engine.device import select_device
    from classifykit.models.encoder_fit import finetune_param_groups, fit_frozen_head

    ecfg = encoder_config(cfg)
    train, val = encoder_loaders(cfg, parts)
    if cfg.freeze_encoder:
        return fit_frozen_head(parts.model, train, val, ecfg, folder, select_device(cfg.device))
    return fit(parts.model, train, val, ecfg, folder, param_groups=finetune_param_groups(parts.model), on_best=on_best)


# --- any saved text model ------------------------------------------------------------------------

def texts_loader(folder: Path, meta: ModelMeta, texts: list[str], targets: np.ndarray | None,
                 batch_size: int) -> DataLoader:
    """Batches ``(inputs, targets B)`` of ``texts`` in order for the saved model of ``folder``: ``(ids,
    lengths)`` (recurrent), ``(ids, weights)`` (n-gram) or ``(input_ids, attention_mask)`` (encoder);
    ``targets`` default to 0.

    Raises:
        ClassifykitError: the featurizer, vocabulary or tokenizer file named in ``model.json`` is missing.
    """
    targets = np.zeros(len(texts), dtype=np.int64) if targets is None else np.asarray(targets, dtype=np.int64)
    kind = family(meta)
    if kind == "ngram":
        from classifykit.text.ngram import FILE_NAME, NgramFeaturizer, ngram_loader

        featurizer = NgramFeaturizer.load(folder / meta.extra.get("featurizer", FILE_NAME))
        return ngram_loader(featurizer, texts, targets, batch_size)
    if kind == "encoder":
        from classifykit.text.hf_tokenize import EncodedIdsDataset, PadCollate, load_run_tokenizer

        tokenizer = load_run_tokenizer(folder, {**meta.extra, "max_length": meta.max_length})
        ds = EncodedIdsDataset.from_texts(texts, targets, tokenizer)
        return DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=PadCollate(tokenizer.pad_id))
    from classifykit.text.inference import text_loader

    vocab = Vocab.load(folder / (meta.vocab or rf.VOCAB))
    return text_loader(texts, vocab, meta.max_length, targets, batch_size, truncation=meta.extra.get("truncation", "head"))
