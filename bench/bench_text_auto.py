"""``--model auto`` (the text default) side by side with its candidates and a TF-IDF baseline (issue 12).

``python -m bench.bench_text_auto [--threads N] [--sets rt,long]``:

* ``rt``: ``classifykit train text`` with every option at its default on the Rotten Tomatoes demo
  table (the demo's split: val 0.15, test 0.25, seed 0, n_test = 3,202). One run gives the three
  figures: auto's test accuracy (its winner), the n-gram candidate alone and the best recurrent
  candidate, each with its 95% Wilson interval and seconds, plus the wall time of the whole run.
* ``long``: the same on the long-review set (``bench.long_reviews``, 1,500 documents of ~700 words),
  against TF-IDF (word 1–2 + char_wb 2–5 grams, sublinear tf) + LogisticRegression(C=4) fitted on
  the run's own train split.

The machine's load (``os.getloadavg``) is printed before and after each run: on a shared 2-core
machine the neural candidates' time estimates, and so what ``--time-budget`` lets through, depend on it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from classifykit.engine.metrics import wilson_interval
from classifykit.config import TextConfig
from classifykit.io import read_csv_rows, read_json
from classifykit.tasks.pipeline import train


def load() -> str:
    return "load " + ", ".join(f"{v:.1f}" for v in os.getloadavg())


def line(name: str, acc: float, n: int, seconds: float | None) -> str:
    lo, hi = wilson_interval(round(acc * n), n)
    return f"  {name:30s} test acc {100 * acc:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] (n={n})  " + \
        ("" if seconds is None else f"{seconds:6.0f} s")


def auto_run(data: Path, runs: Path, name: str, threads: int) -> tuple[Path, float]:
    print(f"{name}: train text {data} (defaults: --model auto), --threads {threads}; {load()}", flush=True)
    start = time.perf_counter()
    run = train(TextConfig(data=str(data), runs_dir=str(runs), name=name, threads=threads, quiet=True))
    wall = time.perf_counter() - start
    ev = read_json(run / "eval.json")
    n = int(ev["n"])
    print(line(f"auto (winner {read_json(run / 'model.json')['architecture']})", ev["accuracy"], n, wall), flush=True)
    for c in ev.get("candidates", []):
        print(line(f"  candidate {c['name']}{' *' if c['chosen'] else ''}", c["test_accuracy"], n, c["seconds"]),
              flush=True)
    for s in read_json(run / "model.json")["extra"].get("skipped_candidates", []):
        print(f"    skipped {s['name']}: {s['reason']}", flush=True)
    print(f"  wall {wall:.0f} s; {load()}", flush=True)
    return run, wall


def tfidf_baseline(run: Path) -> None:
    """TF-IDF + LogisticRegression(C=4) on the run's own train split, scored on its test split."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    texts = {r["row"]: (r["text"], r["label"]) for r in read_csv_rows(run / "manifest.csv")}
    split = {s: [texts[r["item"]] for r in read_csv_rows(run / "split.csv") if r["split"] == s] for s in ("train", "test")}
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    xtr = hstack([word.fit_transform([t for t, _ in split["train"]]), char.fit_transform([t for t, _ in split["train"]])])
    xte = hstack([word.transform([t for t, _ in split["test"]]), char.transform([t for t, _ in split["test"]])])
    clf = LogisticRegression(C=4, max_iter=2000).fit(xtr, [y for _, y in split["train"]])
    acc = float(np.mean(clf.predict(xte) == np.array([y for _, y in split["test"]])))
    print(line("tf-idf + LR(C=4) baseline", acc, len(split["test"]), time.perf_counter() - start), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sets", default="rt,long")
    parser.add_argument("--data", default="data")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        if "rt" in args.sets.split(","):
            from classifykit.text.rotten_tomatoes import prepare_rotten_tomatoes

            auto_run(prepare_rotten_tomatoes(args.data), runs, "rt-auto", args.threads)
        if "long" in args.sets.split(","):
            from bench.long_reviews import write_long_reviews

            run, _ = auto_run(write_long_reviews(Path(tmp) / "long_reviews.csv", args.data), runs, "long-auto",
                              args.threads)
            tfidf_baseline(run)


if __name__ == "__main__":
    main()
