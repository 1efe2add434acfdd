"""Example inputs to trace and verify an export with: real test-split items of the run when reachable.

Real inputs matter: random tensors exercise neither the value range of normalized photos nor the
padding pattern of real texts. Random inputs of the right shape are the fallback when the run's data
is no longer where ``config.json`` says (the export is still verified, and the source says so).
"""

from __future__ import annotations

from classifykit.models.meta import meta_extra

from pathlib import Path

import torch

from classifykit import runfolder as rf
from classifykit.io import read_csv_rows, read_json


def _test_items(run: Path, n: int) -> list[str]:
    """The first ``n`` manifest keys of the test split (``split.csv`` order), or [] if there is no split."""
    path = run / rf.SPLIT
    if not path.is_file():
        return []
    return [r["item"] for r in read_csv_rows(path) if r["split"] == "test"][:n]


def _saved_config(run: Path) -> dict:
    path = run / rf.CONFIG
    return read_json(path).get("config", {}) if path.is_file() else {}


def _text_inputs(run: Path, meta: dict, n: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(ids B×T, lengths B)`` of test texts from ``manifest.csv`` (which holds the texts themselves);
    for an encoder run ``(input_ids B×T, attention_mask B×T)`` from the run's own tokenizer."""
    from classifykit.text.dataset import pad_collate
    from classifykit.text.vocab import Vocab

    items = set(_test_items(run, n))
    if not items or not (run / rf.MANIFEST).is_file():
        return None
    texts = [r["text"] for r in read_csv_rows(run / rf.MANIFEST) if r["row"] in items]
    if meta.get("architecture") == "ngram":
        from classifykit.text.ngram import FILE_NAME, NgramFeaturizer

        return NgramFeaturizer.load(run / (meta.get("featurizer") or FILE_NAME)).transform(texts)
    if meta.get("encoder"):
        from classifykit.text.hf_tokenize import load_run_tokenizer

        return load_run_tokenizer(run, meta).encode(texts)
    vocab = Vocab.load(run / (meta.get("vocab") or rf.VOCAB))
    ids = vocab.encode(texts, meta.get("max_length") or _saved_config(run).get("max_length"),
                       meta.get("truncation") or "head")
    (batch_ids, lengths), _ = pad_collate([(torch.from_numpy(a), 0) for a in ids])
    return batch_ids, lengths


def _image_inputs(run: Path, meta: dict, n: int) -> tuple[torch.Tensor] | None:
    """``(images B×C×H×W,)``: test images decoded and preprocessed exactly as evaluation does.

    The files are found under the data root in ``config.json``: the image folder itself, or for a
    manifest CSV its ``--root`` or its folder (manifest paths are relative to it). None if any file
    is missing.
    """
    from classifykit.data.decode import decode_image
    from classifykit.data.manifest import manifest_root
    from classifykit.data.transforms import eval_transforms, meta_crop_pct

    cfg = _saved_config(run)
    items, data = _test_items(run, n), cfg.get("data")
    if not items or not data:
        return None
    root = Path(data) if Path(data).is_dir() else manifest_root(data, cfg.get("root"))
    files = [root / item for item in items]
    if not all(f.is_file() for f in files):
        return None
    preprocess = eval_transforms(meta["input_size"], meta["mean"], meta["std"],
                                 meta_crop_pct(meta))
    return (torch.stack([preprocess(decode_image(f, meta.get("in_chans") or 3)) for f in files]),)


def _random_inputs(run: Path, meta: dict, n: int) -> tuple[torch.Tensor, ...]:
    """Seeded random inputs: N(0, 1) images (the scale of normalized pixels), or ids with lengths 4n..1
    (an encoder run: ``(input_ids, attention_mask)`` over its config's vocabulary, padded with its pad id).

    Raises:
        ClassifykitError: a text run without its ``vocab.json``.
    """
    g = torch.Generator().manual_seed(0)
    if meta["task"] == "image":
        size = meta["input_size"]
        return (torch.randn(n, meta.get("in_chans") or 3, size, size, generator=g),)
    if meta.get("architecture") == "ngram":  # tf-idf columns with weights in (0, 1), pads 0 after each row's count
        t = 4 * n
        counts = torch.linspace(t, 1, n).round().long()
        pad = torch.arange(t)[None, :] >= counts[:, None]
        ids = torch.randint(0, int(meta["model_kwargs"]["num_features"]), (n, t), generator=g)
        weights = torch.rand(n, t, generator=g)
        ids[pad], weights[pad] = 0, 0.0
        return ids, weights
    # An encoder's position embeddings end at max_length (at most max_position_embeddings).
    t = min(4 * n, int(meta["max_length"])) if meta_extra(meta, "encoder") else 4 * n
    lengths = torch.linspace(t, 1, n).round().long()
    pad = torch.arange(t)[None, :] >= lengths[:, None]
    if meta_extra(meta, "encoder"):
        ids = torch.randint(1, int(meta["model_kwargs"]["config"]["vocab_size"]), (n, t), generator=g)
        ids[pad] = int(meta_extra(meta, "encoder").get("pad_id", 0))
        return ids, (~pad).to(torch.int64)
    from classifykit.text.vocab import Vocab

    vocab_size = len(Vocab.load(run / (meta.get("vocab") or rf.VOCAB)))
    ids = torch.randint(2, vocab_size, (n, t), generator=g)
    ids[pad] = 0  # <pad> after each row's length
    return ids, lengths


def example_inputs(run_dir: str | Path, meta: dict, n: int = 8) -> tuple[tuple[torch.Tensor, ...], str]:
    """Up to ``n`` inputs for ``forward`` and a note of where they came from.

    Returns:
        ``((images B×C×H×W float32,), note)``, ``((ids B×T int64, lengths B int64), note)``, for an
        encoder run ``((input_ids B×T int64, attention_mask B×T int64), note)``, for an n-gram run
        ``((ids B×T int64, weights B×T float32), note)``; ``meta``: see ``signature.flat_meta``;
        note is ``"<B> test-split items"`` or ``"<B> random inputs (...)"``.
    """
    run = Path(run_dir)
    real = _image_inputs(run, meta, n) if meta["task"] == "image" else _text_inputs(run, meta, n)
    if real is not None:
        return real, f"{real[0].shape[0]} test-split items"
    inputs = _random_inputs(run, meta, n)
    return inputs, f"{n} random inputs (the run's test split is not readable)"
