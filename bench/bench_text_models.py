"""Text models side by side (issue 12): the n-gram linear model, and a BiLSTM on long documents with
plain 256-token truncation against the long-document setting (max length from the length
distribution, head + tail, mean pooling).

1. ``snippets``: the n-gram model (:func:`classifykit.models.ngram.fit_ngram`) on the Rotten
   Tomatoes demo split (the split ``classifykit demo text`` makes: seed 0, val 0.15, test 0.25).
2. ``long``: the long-review set (:mod:`bench.long_reviews`, 1,500 documents of 25–40 snippets),
   split the same way: the n-gram model, then BiLSTMs (GloVe 6B 50d fine-tuned, hidden 64, AdamW
   2e-3, clip 1.0, batch 32, best val epoch of ``--epochs``, 1 thread): ``head 256 last`` (the
   classic recipe's truncation and pooling), ``head 256 mean``, ``auto head mean``, ``auto head_tail
   mean`` (auto = :func:`classifykit.text.truncation.default_max_length`, capped at 1024), and
   ``head_tail 256 mean``.

Test accuracy with a 95% Wilson interval and seconds (fit + test prediction) for every arm.

Usage: ``python -m bench text_models`` or ``python -m bench.bench_text_models --parts long --epochs 4``.

Measured on the 2-core machine shared with other jobs, 1 thread, 4 epochs (2 Dec 2026):

* snippets: ngram 78.2% [76.7, 79.6] (n=3,202) in 13.8 s (6 s on an idle machine), C=8, 187,177 n-grams.
* long reviews (median 595 words, 726 tokens; every train text longer than 256 tokens; default max
  length 960, 25 of 900 train texts cut): ngram 68.8% [63.9, 73.3] (n=375) in 43.7 s (C=2, val 72.0%);
  BiLSTM head 256 last 52.0% [46.9, 57.0] (17.5 s), head 256 mean 52.0% [46.9, 57.0] (6.3 s),
  head_tail 256 mean 52.5% [47.5, 57.5] (10.0 s), head 960 mean 66.7% [61.7, 71.2] (119 s), head_tail
  960 mean 66.4% [61.5, 71.0] (196 s). The length from the distribution is +14.7 points over plain
  256-token truncation; head vs head_tail does not differ here, as expected: the snippets of a
  document are shuffled, so no position holds the verdict (Sun et al. 2019 measured the gain of
  head + tail on real reviews, IMDb).
* n-gram variants on the long reviews (C from 0.5..32 on val): the word block alone 65.3%, both blocks
  with min_df 2 68.8% (the default min_df 1 also 68.8%): the character block earns its cost.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from bench.long_reviews import long_reviews
from classifykit.data.split import stratified_split
from classifykit.engine.loop import predict_logits
from classifykit.engine.metrics import wilson_interval
from classifykit.models.ngram import fit_ngram
from classifykit.models.rnn import RNNClassifier
from classifykit.text.dataset import EncodedTextDataset, pad_collate
from classifykit.text.embeddings import embedding_matrix
from classifykit.text.labels import LabelTable
from classifykit.text.ngram import ngram_loader
from classifykit.text.read import read_records
from classifykit.text.rotten_tomatoes import prepare_rotten_tomatoes
from classifykit.text.sampler import BucketBatchSampler
from classifykit.text.truncation import default_max_length, truncation_warning
from classifykit.text.vocab import Vocab

CPU = torch.device("cpu")


def demo_split(keys: list[int], labels: list[str], seed: int = 0) -> dict[str, np.ndarray]:
    """Positions of train / val / test, as ``train text`` splits its records (keys = source row numbers;
    stratified, val 0.15, test 0.25)."""
    split = stratified_split(keys, labels, val_ratio=0.15, test_ratio=0.25, seed=seed)
    return {s: np.array([i for i, k in enumerate(keys) if split[k] == s]) for s in ("train", "val", "test")}


def accuracy_line(name: str, correct: int, n: int, seconds: float, extra: str = "") -> str:
    lo, hi = wilson_interval(correct, n)
    return (f"{name:28s} test acc {100 * correct / n:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] (n={n})  "
            f"{seconds:6.1f} s  {extra}")


def ngram_arm(texts: list[str], y: np.ndarray, parts: dict[str, np.ndarray], seed: int) -> str:
    """Fit the n-gram model on train (C on val) and score test."""
    pick = lambda s: [texts[i] for i in parts[s]]  # noqa: E731
    start = time.perf_counter()
    model, featurizer, info = fit_ngram(pick("train"), y[parts["train"]], pick("val"), y[parts["val"]],
                                        int(y.max()) + 1, seed)
    logits, _ = predict_logits(model, ngram_loader(featurizer, pick("test")), CPU)
    correct = int((logits.argmax(1).numpy() == y[parts["test"]]).sum())
    return accuracy_line("ngram (tf-idf + LR)", correct, len(parts["test"]), time.perf_counter() - start,
                         f"C={info.C:g}, {info.num_features:,} n-grams, val {100 * info.val_accuracy:.1f}%")


def lstm_arm(name: str, texts: list[str], y: np.ndarray, parts: dict[str, np.ndarray], vocab: Vocab,
             matrix: torch.Tensor, max_length: int, truncation: str, pooling: str, epochs: int, seed: int) -> str:
    """Train a BiLSTM for ``epochs`` and score test with the weights of the best val epoch."""
    start = time.perf_counter()
    data = {s: EncodedTextDataset.from_texts([texts[i] for i in idx], y[idx], vocab, max_length, truncation)
            for s, idx in parts.items()}
    torch.manual_seed(seed)
    model = RNNClassifier(int(y.max()) + 1, len(vocab), matrix.shape[1], hidden_size=64, dropout=0.3, pooling=pooling)
    with torch.no_grad():
        model.embedding.weight.copy_(matrix)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    sampler = BucketBatchSampler(data["train"].lengths, 32, seed=seed)
    train = DataLoader(data["train"], batch_sampler=sampler, collate_fn=pad_collate)
    evaluate = {s: DataLoader(data[s], batch_size=64, collate_fn=pad_collate) for s in ("val", "test")}
    loss_fn = nn.CrossEntropyLoss()
    best = (-1.0, 0, None)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        model.train()
        for (ids, lengths), targets in train:
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(ids, lengths), targets).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        logits, targets = predict_logits(model, evaluate["val"], CPU)
        val = float((logits.argmax(1) == targets).float().mean())
        if val > best[0]:
            best = (val, epoch + 1, {k: v.clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[2])
    logits, targets = predict_logits(model, evaluate["test"], CPU)
    correct = int((logits.argmax(1) == targets).sum())
    cut = data["train"].truncated_count(max_length)
    return accuracy_line(name, correct, len(targets), time.perf_counter() - start,
                         f"max_length {max_length}, {cut}/{len(parts['train'])} train texts cut, "
                         f"best val {100 * best[0]:.1f}% at epoch {best[1]}/{epochs}")


def long_documents(snippets: list[str], labels: list[str], epochs: int, seed: int) -> None:
    texts, doc_labels = long_reviews(snippets, labels, seed=seed)
    y = LabelTable.from_labels(doc_labels).encode(doc_labels)
    parts = demo_split(list(range(len(texts))), doc_labels, seed)
    words = np.array([len(t.split()) for t in texts])
    print(f"long reviews: {len(texts)} documents, median {int(np.median(words))} words "
          f"(5-95%: {int(np.quantile(words, 0.05))}-{int(np.quantile(words, 0.95))}); "
          + ", ".join(f"{s} {len(idx)}" for s, idx in parts.items()), flush=True)
    print(ngram_arm(texts, y, parts, seed), flush=True)
    vocab = Vocab.build((texts[i] for i in parts["train"]), min_freq=2, max_size=50000)
    matrix, _ = embedding_matrix(vocab, "glove-6b-50d", seed=seed)
    full = EncodedTextDataset.from_texts([texts[i] for i in parts["train"]], y[parts["train"]], vocab, None)
    auto = default_max_length(full.full_lengths)
    print(f"train token lengths: median {int(np.median(full.full_lengths))}, default max length {auto}; "
          f"at 256: {truncation_warning(full.full_lengths, 256)}", flush=True)
    for name, max_length, truncation, pooling in (("bilstm head 256 last", 256, "head", "last"),
                                                  ("bilstm head 256 mean", 256, "head", "mean"),
                                                  ("bilstm head_tail 256 mean", 256, "head_tail", "mean"),
                                                  (f"bilstm head {auto} mean", auto, "head", "mean"),
                                                  (f"bilstm head_tail {auto} mean", auto, "head_tail", "mean")):
        print(lstm_arm(name, texts, y, parts, vocab, matrix, max_length, truncation, pooling, epochs, seed), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_text_models", description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="snippets,long", help="comma-separated: snippets, long (default: both)")
    parser.add_argument("--epochs", type=int, default=4, help="BiLSTM epochs on the long reviews (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--data", type=Path, default=Path("data"), help="folder for rotten_tomatoes.csv (default data/)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    records = read_records(prepare_rotten_tomatoes(args.data))
    if "snippets" in args.parts.split(","):
        y = LabelTable.from_labels(records.labels).encode(records.labels)
        print("Rotten Tomatoes demo split:", flush=True)
        print(ngram_arm(records.texts, y, demo_split(records.rows, records.labels, args.seed), args.seed), flush=True)
    if "long" in args.parts.split(","):
        long_documents(records.texts, records.labels, args.epochs, args.seed)


if __name__ == "__main__":
    main()
