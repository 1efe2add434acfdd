"""The image task's adapter: an image folder or manifest -> verified manifest -> split -> cached decode
-> model -> fit, and image files, folders or manifests -> predict batches.

Only what differs from the text task lives here; :mod:`classifykit.tasks.pipeline` runs the stages
(run folder, config, seeding, model.json, the test evaluation, the report, predict). Every stage
writes its file to the run folder (see :mod:`classifykit.runfolder`) before the next reads it, so
``--resume`` and ``classifykit evaluate`` reuse the same manifest, split and class list.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import torch
from torch.utils.data import DataLoader, Dataset

from classifykit import runfolder as rf
from classifykit.config import ImageConfig
from classifykit.data.cache import DecodedImageCache
from classifykit.data.cache_store import resolve_cache_dir
from classifykit.data.dataset import ImageFolderDataset, loader_kwargs
from classifykit.data.decode import decode_image, detect_channels
from classifykit.data.manifest import ManifestItem, manifest_root, read_manifest, resolve, write_manifest
from classifykit.data.scan import IMAGE_EXTENSIONS, ScanResult, is_hidden, scan_folder, verify_items
from classifykit.data.split import complete_preset_split, read_split, stratified_split, write_split
from classifykit.data.stats import compute_mean_std
from classifykit.data.transforms import eval_resize_size, eval_transforms, train_transforms
from classifykit.engine.distributed import barrier, dist_info
from classifykit.engine.sampling import distributed_sampler
from classifykit.engine.trainer import balanced_class_weights, fit
from classifykit.errors import ClassifykitError
from classifykit.io import read_json, write_csv
from classifykit.models.flops import forward_flops
from classifykit.models.meta import ModelMeta
from classifykit.models.registry import create_model, preprocessing_for
from classifykit.tasks.adapter import EvalSet, PredictInputs, register_adapter
from classifykit.tasks.common import save_config, say, scan_warnings, small_class_warnings_said, warn, write_classes
from classifykit.tasks.imbalance import resolve_imbalance

MIN_INPUT_SIZE, MAX_INPUT_SIZE = 28, 224
SMALL_MODEL_FLOOR = 64  # default input size floor for models not made for tiny images
SCAN_CACHE_DIR = ".scan-cache"  # in --runs-dir: rescans of unchanged files reuse earlier decodes
MANIFEST_SUFFIXES = (".csv", ".tsv", ".tab")  # a predict input with one of these is a manifest


@dataclass
class ImageData:
    """The verified inputs of one image run, in manifest order.

    ``paths`` are POSIX, relative to ``root``; ``splits[i]`` is train/val/test; ``classes`` is the
    class list in index order (sorted label strings); ``cache`` is the decoded-image cache of every
    item once opened (None before, or with ``--no-cache``).
    """

    root: Path
    items: list[ManifestItem]
    splits: list[str]
    classes: list[str]
    cache: DecodedImageCache | None = None

    def subset(self, split: str) -> tuple[list[str], list[int]]:
        """``(paths, targets)`` of one split, targets as class indices."""
        index = {c: i for i, c in enumerate(self.classes)}
        picked = [(it.path, index[it.label]) for it, s in zip(self.items, self.splits) if s == split]
        return [p for p, _ in picked], [t for _, t in picked]


def data_root(cfg: ImageConfig) -> Path:
    """The folder manifest paths are relative to: the image folder, or the manifest's folder / ``--root``.

    Raises:
        ClassifykitError: the data the run was trained on is no longer where ``config.json`` says.
    """
    data = Path(cfg.data)
    if not data.exists():
        raise ClassifykitError(f"{data}: the run's data is no longer there; move it back, or evaluate other data with --data.")
    return data if data.is_dir() else manifest_root(data, cfg.root)


def scan_data(cfg: ImageConfig, *, progress: bool = True) -> ScanResult:
    """Scan the image folder, or read and verify the user's manifest, decoding every image once.

    Raises:
        ClassifykitError: ``cfg.data`` does not exist, or the scan / manifest errors it names.
    """
    data = Path(cfg.data)
    if not data.exists():
        raise ClassifykitError(f"{data}: no such folder or file. Give an image folder (one subfolder per class) or a manifest CSV/TSV.")
    key = hashlib.sha256(str(data.resolve()).encode()).hexdigest()[:16]
    cache_path = Path(cfg.runs_dir) / SCAN_CACHE_DIR / f"{key}.json"
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    if data.is_dir():
        return scan_folder(data, progress=progress, cache_path=cache_path)
    items = read_manifest(data, root=cfg.root, encoding=cfg.encoding, path_column=cfg.path_column, label_column=cfg.label_column)
    return verify_items(data_root(cfg), items, progress=progress, cache_path=cache_path)


def prepare_data(cfg: ImageConfig, run: Path) -> ImageData:
    """Scan, then write ``manifest.csv``, ``skipped.csv``, ``classes.json`` and ``split.csv`` to ``run``.

    The split is stratified and seeded (:func:`~classifykit.data.split.stratified_split`), or the
    data's own ``train/``/``val/``/``test/`` folders (val carved from train if missing).

    Raises:
        ClassifykitError: fewer than two classes with images, or split errors.
    """
    result = scan_data(cfg, progress=not cfg.quiet)
    for note in result.notes():  # always, even with --quiet: left-out files change what is trained on
        print(f"note: {note}", file=sys.stderr, flush=True)
    write_manifest(run / rf.MANIFEST, result.items)
    write_csv(run / rf.SKIPPED, ["file", "reason"], result.skipped)
    if len(result.classes) < 2:
        raise ClassifykitError(
            f"{cfg.data}: found {len(result.classes)} class(es) with usable images ({', '.join(result.classes) or 'none'}); "
            f"a classifier needs at least 2. See {run / rf.SKIPPED} for the files left out."
        )
    say(cfg, f"{len(result.items)} images in {len(result.classes)} classes, {len(result.skipped)} skipped")
    for line in scan_warnings(result, run / rf.SKIPPED):
        warn(cfg, line)
    labels = {it.path: it.label for it in result.items}
    with small_class_warnings_said(cfg):
        if result.preset_split is not None:
            split = complete_preset_split(result.preset_split, labels, val_ratio=cfg.val_ratio, seed=cfg.seed)
        else:
            split = stratified_split(list(labels), list(labels.values()), val_ratio=cfg.val_ratio,
                                     test_ratio=cfg.test_ratio, seed=cfg.seed)
    if result.preset_split is not None:
        say(cfg, "Using the split given by the data's train/val/test folders.")
    write_split(run / rf.SPLIT, split, labels)
    write_classes(run, result.classes)
    data = load_data(run, data_root(cfg))
    for line in resolve_imbalance(cfg, train_counts(data)):  # a data fact: on stderr, also under --quiet
        warn(cfg, f"note: {line}")
    save_config(run, cfg)  # with the class weights and select metric decided from the data
    return data


def train_counts(data: ImageData) -> dict[str, int]:
    """Train-split items per class, in class order."""
    _, targets = data.subset("train")
    return {c: targets.count(i) for i, c in enumerate(data.classes)}


def load_data(run: Path, root: Path) -> ImageData:
    """Read the run's ``manifest.csv``, ``split.csv`` and ``classes.json`` back (what every later stage uses)."""
    items = read_manifest(run / rf.MANIFEST, root=root)
    split = read_split(run / rf.SPLIT)
    classes = read_json(run / rf.CLASSES)
    return ImageData(root=root, items=items, splits=[split.get(it.path, "") for it in items], classes=classes)


def default_input_size(data: ImageData, model: str) -> int:
    """Median shorter side of the training images, clipped to [floor, 224] pixels.

    The floor is the model's own default size but at most 64 px: 28 px for ``smallcnn`` (made for
    tiny images), 64 px for the deep models, whose total stride (up to 32–108) would shrink a 28 px
    image to a single pixel by the middle of the network (resnet18-small on 5-class Fashion-MNIST:
    77.3% test accuracy at 28 px, 80.0% at 64 px, at a quarter of the 224 px cost).
    """
    from classifykit.models.registry import model_info

    floor = max(MIN_INPUT_SIZE, min(model_info(model)["input_size"] or SMALL_MODEL_FLOOR, SMALL_MODEL_FLOOR))
    sides = [min(it.width, it.height) for it, s in zip(data.items, data.splits) if s == "train" and it.width]
    side = int(statistics.median(sides)) if sides else SMALL_MODEL_FLOOR
    return max(floor, min(MAX_INPUT_SIZE, side))


def preprocessing(cfg: ImageConfig, data: ImageData) -> dict:
    """``{"in_chans", "input_size", "mean", "std", "crop_pct", "interpolation"}`` from the weights'
    registry entry (``--pretrained``, :func:`~classifykit.models.registry.preprocessing_for`) or the data.

    Explicit ``--channels`` / ``--input-size`` always win. Without pretrained weights the channel
    count is detected from the training images, mean/std are measured later on the train split, the
    resize is bilinear and the whole image is kept (``crop_pct`` 1.0): the 0.875 centre crop is a
    convention of ImageNet weights trained with zooming crops, and cuts the edges of non-photo images.
    """
    pre = preprocessing_for(cfg.model, cfg.pretrained)
    train_modes = [it.mode or "RGB" for it, s in zip(data.items, data.splits) if s == "train"]
    in_chans = cfg.channels or (pre.in_chans if pre else None) or detect_channels(train_modes)
    input_size = cfg.input_size or (pre.input_size if pre else None) or default_input_size(data, cfg.model)
    mean, std = (list(pre.mean), list(pre.std)) if pre else (None, None)
    if mean is not None and in_chans == 1:  # grey input to RGB weights: the stem was adapted to 1 channel
        mean, std = [sum(mean) / 3], [sum(std) / 3]
    return {"in_chans": int(in_chans), "input_size": int(input_size), "mean": mean, "std": std,
            "crop_pct": pre.crop_pct if pre else 1.0, "interpolation": pre.interpolation if pre else "bilinear"}


def open_cache(cfg: ImageConfig, data: ImageData, meta: ModelMeta) -> DecodedImageCache | None:
    """The decoded-image cache of every item (all splits) at ``meta``'s evaluation resize size and
    interpolation, in the shared, content-keyed cache folder (``--cache-dir``,
    :func:`~classifykit.data.cache_store.resolve_cache_dir`); None with ``--no-cache``.

    Grey data is stored with 1 channel. Rank 0 builds it while the other torchrun processes wait,
    then they open the finished cache; a later run on the same data and preprocessing reuses it.
    """
    if not cfg.cache:
        return None
    size = eval_resize_size(meta.input_size, meta.crop_pct)
    paths = [it.path for it in data.items]
    modes = [it.mode or "RGB" for it in data.items]
    cache_dir = resolve_cache_dir(cfg.cache_dir, cfg.runs_dir)
    done = [0]
    started = time.perf_counter()

    def progress(n: int) -> None:  # a line per ~10% of a build, with an estimate (a reopened cache calls nothing)
        step = max(1, len(paths) // 10)
        if not cfg.quiet and (done[0] + n) // step > done[0] // step:
            elapsed = time.perf_counter() - started
            left = elapsed / (done[0] + n) * (len(paths) - done[0] - n)
            print(f"image cache: {done[0] + n}/{len(paths)} images decoded and resized to {size} px "
                  f"({elapsed:.0f} s, about {left:.0f} s left)", flush=True)
        done[0] += n

    def opened() -> DecodedImageCache:
        return DecodedImageCache.open(data.root, paths, cache_dir, size, meta.in_chans,
                                      interpolation=meta.interpolation, modes=modes, progress=progress)

    cache = opened() if dist_info().is_main else None
    barrier()
    cache = cache if cache is not None else opened()
    if not cache.built:
        say(cfg, f"image cache: reused {cache.path.parent} ({len(paths)} images at {size} px)")
    return cache


def image_loader(dataset, batch_size: int, *, shuffle: bool, cfg: ImageConfig, device: torch.device) -> DataLoader:
    """A DataLoader with the seeded (or distributed) sampler; workers not persistent when deterministic."""
    kwargs = loader_kwargs(cfg.num_workers, device)
    if cfg.deterministic:
        kwargs["persistent_workers"] = False  # bit-exact resume needs workers re-seeded every epoch
    return DataLoader(dataset, batch_size=batch_size, sampler=distributed_sampler(dataset, shuffle, cfg.seed), **kwargs)


def _train_mode(cfg: ImageConfig, uses_groups: bool):
    """The freezing policy applied after every ``model.train()`` (None: the engine's default).

    With pretrained weights BatchNorm keeps the pretrained statistics by default: with little data,
    statistics updated from the new batches hurt fine-tuning badly (EfficientNet-Lite0, 5 Fashion-MNIST
    classes × 50 images: 80.2% test accuracy with frozen statistics, 53.2% without; see
    :func:`classifykit.models.freeze.set_frozen_eval`).
    """
    if not uses_groups:
        return None
    from classifykit.models.freeze import set_frozen_eval

    freeze_bn_stats = cfg.pretrained is not None if cfg.freeze_bn_stats is None else cfg.freeze_bn_stats
    return functools.partial(set_frozen_eval, freeze_bn_stats=freeze_bn_stats)


class ProgressLoader:
    """A loader that says how far a long pass got: a line at each tenth of the items once the pass
    has run :data:`SAY_AFTER_S` seconds, with the elapsed time and an estimate of the rest.

    ``dataset`` and ``len()`` are the wrapped loader's, so code that sizes its output from them works.
    """

    SAY_AFTER_S = 5.0  # shorter passes stay silent

    def __init__(self, loader: DataLoader, what: str, quiet: bool) -> None:
        self.loader, self.what, self.quiet = loader, what, quiet
        self.dataset = loader.dataset

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        total, done, said, start = len(self.dataset), 0, 0, time.perf_counter()
        for batch in self.loader:
            yield batch
            done += len(batch[-1])
            elapsed = time.perf_counter() - start
            if not self.quiet and elapsed >= self.SAY_AFTER_S and done * 10 // total > said and done < total:
                said = done * 10 // total
                print(f"{self.what}: {done}/{total} images ({elapsed:.0f} s, about "
                      f"{elapsed / done * (total - done):.0f} s left)", flush=True)


def _fit_head_on_features(cfg, run, model, train_ds, val_ds, device, class_weights, resume: bool, on_best,
                          classes: list[str]):
    """Linear probe on cached backbone features (the fast path of ``--freeze backbone --augment none``)."""
    from classifykit.models.features import cached_features, feature_dataset, head_module, merge_head_weights

    model.to(device)
    feats = {}
    for split, ds in (("train", train_ds), ("val", val_ds)):
        loader = DataLoader(ds, batch_size=max(cfg.batch_size, 128), shuffle=False, **loader_kwargs(cfg.num_workers, device))
        feats[split] = cached_features(model, ProgressLoader(loader, f"backbone features ({split})", cfg.quiet),
                                       device, run, split)
    say(cfg, f"Backbone features cached once ({feats['train'][0].shape[1]} per image); training the head on them.")
    head = head_module(model)
    if not resume and isinstance(head, torch.nn.Linear):
        # A linear probe is convex: start from zero logits. The architecture's own head init can be far
        # larger (timm EfficientNet-Lite0: uniform ±1/sqrt(K), std 0.26 for 5 classes, vs PyTorch's
        # ±1/sqrt(1280)); with it 30 head epochs at lr 1e-3 reached 55.0% val accuracy on 5 confusable
        # Fashion-MNIST classes × 240, with PyTorch's default Linear init 76.1% on the same cached features.
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
    train_loader = DataLoader(feature_dataset(*feats["train"]), batch_size=cfg.batch_size,
                              sampler=distributed_sampler(feats["train"][1], True, cfg.seed))
    val_loader = DataLoader(feature_dataset(*feats["val"]), batch_size=max(cfg.batch_size, 256))
    head_cfg = ImageConfig(**{**cfg.__dict__, "channels_last": False})
    result = fit(head, train_loader, val_loader, head_cfg, run, class_weights=class_weights, resume=resume, on_best=on_best,
                 class_names=classes)
    merge_head_weights(model.cpu(), run / rf.WEIGHTS)
    return result


def eval_dataset(meta: ModelMeta, root: Path, paths: list[str], targets: list[int],
                 cache: DecodedImageCache | None = None) -> ImageFolderDataset:
    """An ``ImageFolderDataset`` with the run's evaluation preprocessing (never augmented).

    Resized with ``meta.interpolation``, as the cache was built, so cached and uncached pixels agree.
    """
    transform = eval_transforms(meta.input_size, meta.mean, meta.std, meta.crop_pct, meta.interpolation)
    return ImageFolderDataset(root, paths, targets, transform, meta.in_chans, cache)


def expand_inputs(inputs: list[str | IO[bytes]]) -> list[Path | IO[bytes]]:
    """Files and binary file objects (in-memory uploads; ``.name`` is their key) as given; folders walked
    recursively for image extensions (hidden entries skipped, sorted); ``.csv``/``.tsv`` files read as
    manifests (their path column, relative to the manifest's folder).

    Raises:
        ClassifykitError: an input does not exist, or nothing to predict was found.
    """
    out: list[Path | IO[bytes]] = []
    for item in inputs:
        if not isinstance(item, (str, os.PathLike)):  # an in-memory upload (classifykit serve), kept as is
            out.append(item)
            continue
        path = Path(item)
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
                out.extend(Path(dirpath) / f for f in sorted(filenames)
                           if not is_hidden(f) and Path(f).suffix.lower() in IMAGE_EXTENSIONS)
        elif path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
            root = manifest_root(path)
            out.extend(resolve(root, it.path) for it in read_manifest(path, options=False))
        elif path.exists():
            out.append(path)
        else:
            raise ClassifykitError(f"{path}: no such file or folder; give image files, folders or a manifest CSV.")
    if not out:
        raise ClassifykitError(f"No images found in {', '.join(inputs)} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}).")
    return out


class PredictDataset(Dataset):
    """``(image C×H×W float, position, error)``; an undecodable file gives a zero image and its error text."""

    def __init__(self, paths: list[Path | IO[bytes]], meta: ModelMeta) -> None:
        self.paths = paths
        self.channels, self.size = meta.in_chans, meta.input_size
        self.transform = eval_transforms(meta.input_size, meta.mean, meta.std, meta.crop_pct, meta.interpolation)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        try:
            return self.transform(decode_image(self.paths[i], self.channels)), i, ""
        except ClassifykitError as e:
            return torch.zeros(self.channels, self.size, self.size), i, str(e)
        except OSError as e:  # unreadable (permissions, I/O error)
            return torch.zeros(self.channels, self.size, self.size), i, f"{self.paths[i]}: {e.strerror or e}"


@dataclass(frozen=True)
class ImageAdapter:
    """The image task for :mod:`classifykit.tasks.pipeline` (see :class:`~classifykit.tasks.adapter.TaskAdapter`)."""

    task: str = "image"
    config_class: type = ImageConfig
    key_columns: tuple[str, ...] = ("path",)
    train_command: str = "images"

    def start(self, cfg: ImageConfig) -> ImageConfig:
        if cfg.model == "auto":
            raise ClassifykitError("--model auto is decided by classifykit.tasks.image_auto.train_auto (the pipeline's "
                                   "train does that); this adapter trains one named architecture.")
        if not cfg.data:
            raise ClassifykitError("Give the data: an image folder (one subfolder per class) or a manifest CSV/TSV.")
        if not Path(cfg.data).exists():
            raise ClassifykitError(f"{cfg.data}: no such folder or file. Give an image folder (one subfolder per class) "
                                   "or a manifest CSV/TSV.")
        preprocessing_for(cfg.model, cfg.pretrained)  # weights that do not fit --model: refused before the scan
        cfg.data = str(Path(cfg.data).resolve())
        return cfg

    def read(self, cfg: ImageConfig, run: Path) -> ImageData:
        return prepare_data(cfg, run)

    def load(self, cfg: ImageConfig, run: Path) -> ImageData:
        data = load_data(run, data_root(cfg))
        resolve_imbalance(cfg, train_counts(data))  # the other torchrun ranks decide as rank 0 did
        return data

    def describe(self, cfg: ImageConfig, run: Path, data: ImageData, is_main: bool) -> ModelMeta:
        pre = preprocessing(cfg, data)
        meta = ModelMeta(task=self.task, architecture=cfg.model, num_classes=len(data.classes), classes=data.classes,
                         pretrained=cfg.pretrained, **pre)
        data.cache = open_cache(cfg, data, meta)
        if pre["mean"] is None:
            paths, targets = data.subset("train")
            cache = data.cache
            raw = ImageFolderDataset(data.root, paths, targets, None, pre["in_chans"], cache)
            pre["mean"], pre["std"] = compute_mean_std(cache.iter_batches([cache.row(p) for p in paths]) if cache else raw)
            say(cfg, f"Normalization measured on the train split: mean {_fmt(pre['mean'])}, std {_fmt(pre['std'])}")
            meta.mean, meta.std = pre["mean"], pre["std"]
        return meta

    def resume(self, cfg: ImageConfig, run: Path, data: ImageData, meta: ModelMeta) -> None:
        data.cache = open_cache(cfg, data, meta)

    def build_model(self, cfg: ImageConfig, meta: ModelMeta, data: ImageData) -> torch.nn.Module:
        model = create_model(meta.architecture, meta.num_classes, in_chans=meta.in_chans, pretrained=cfg.pretrained)
        if model.pretrained_report is not None:
            say(cfg, model.pretrained_report.summary())
        return model

    def fit(self, cfg: ImageConfig, run: Path, data: ImageData, meta: ModelMeta, model: torch.nn.Module, *,
            resume: bool, on_best):
        from classifykit.engine.device import select_device
        from classifykit.models.freeze import param_groups

        device = select_device(cfg.device)
        train_paths, train_targets = data.subset("train")
        val_paths, val_targets = data.subset("val")
        augment = train_transforms(meta.input_size, meta.mean, meta.std, cfg.augment, meta.in_chans, meta.crop_pct,
                                   meta.interpolation)
        train_ds = ImageFolderDataset(data.root, train_paths, train_targets, augment, meta.in_chans, data.cache)
        val_ds = eval_dataset(meta, data.root, val_paths, val_targets, data.cache)
        class_weights = balanced_class_weights(train_targets, meta.num_classes) if cfg.class_weights == "balanced" else None
        # FLOPs counted once, on the CPU before the model moves (MFU in the epoch lines).
        flops = forward_flops(model, meta.input_size, meta.in_chans)
        uses_groups = cfg.pretrained is not None or cfg.freeze != "none" or cfg.fine_tune > 0
        groups = (param_groups(model, cfg.lr, cfg.backbone_lr_scale if cfg.pretrained else 1.0, cfg.freeze, cfg.fine_tune,
                               cfg.epochs) if uses_groups else None)
        if cfg.freeze == "backbone" and cfg.augment == "none" and cfg.feature_cache and dist_info().world_size == 1:
            return _fit_head_on_features(cfg, run, model, train_ds, val_ds, device, class_weights, resume, on_best,
                                         data.classes)
        return fit(model, image_loader(train_ds, cfg.batch_size, shuffle=True, cfg=cfg, device=device),
                   image_loader(val_ds, cfg.batch_size, shuffle=False, cfg=cfg, device=device), cfg, run,
                   class_weights=class_weights, param_groups=groups, resume=resume,
                   train_mode=_train_mode(cfg, uses_groups), on_best=on_best, flops_per_sample=flops,
                   class_names=data.classes)

    def eval_set(self, run: Path, cfg: ImageConfig, meta: ModelMeta, data: str | None, *, batch_size: int,
                 num_workers: int, device, cache: DecodedImageCache | None = None) -> EvalSet:
        skipped: list[tuple[str, str]] = []
        if data is None:
            image_data = load_data(run, data_root(cfg))
            paths, targets = image_data.subset("test")
            root = image_data.root
            if not paths:
                raise ClassifykitError(f"{run}: the saved split has no test items (trained with --test-ratio 0); pass --data.")
        else:
            source = Path(data)
            if source.is_dir():
                result, root = scan_folder(source, progress=False), source
            elif source.is_file():
                root = manifest_root(source)
                result = verify_items(root, read_manifest(source, options=False), progress=False)
            else:
                raise ClassifykitError(f"--data {data}: no such folder or manifest file.")
            unknown = sorted({it.label for it in result.items} - set(meta.classes))
            if unknown:
                raise ClassifykitError(
                    f"--data {data}: labels {', '.join(map(repr, unknown))} are not among the model's classes "
                    f"({', '.join(map(repr, meta.classes))}); remove those items or rename their folders.")
            index = {c: i for i, c in enumerate(meta.classes)}
            paths = [it.path for it in result.items]
            targets = [index[it.label] for it in result.items]
            skipped, cache = list(result.skipped), None
        loader = DataLoader(eval_dataset(meta, root, paths, targets, cache), batch_size=batch_size,
                            **loader_kwargs(num_workers, device))
        return EvalSet(paths, ProgressLoader(loader, "evaluation", cfg.quiet), skipped)

    def predict_inputs(self, run: Path, cfg: ImageConfig, meta: ModelMeta, inputs: list[str], texts: list[str],
                       encoding: str | None, *, batch_size: int, num_workers: int, device) -> PredictInputs:
        if encoding is not None:
            raise ClassifykitError(f"--encoding: {run} is an image run; --encoding sets how a text run's input files are read.")
        if texts:
            raise ClassifykitError(f"--text: {run} is an image run; give image files, folders or a manifest.")
        if not inputs:
            raise ClassifykitError("Give the images to predict: files, folders or a manifest CSV after the run folder.")
        paths = expand_inputs(inputs)
        loader = DataLoader(PredictDataset(paths, meta), batch_size=batch_size, shuffle=False,
                            **loader_kwargs(num_workers, device))
        return PredictInputs([[str(p) if isinstance(p, Path) else p.name] for p in paths], [""] * len(paths), loader)


register_adapter(ImageAdapter())


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"
