"""The image task: folder or manifest -> verified manifest -> split -> cached decode -> model -> fit -> test.

``train_images(cfg)`` is what ``classifykit train images DATA`` runs. Every stage writes its file to
the run folder (see :mod:`classifykit.runfolder`) before the next one reads it, so ``--resume`` and
``classifykit evaluate`` reuse the same manifest, split and class list instead of rebuilding them.
"""

from __future__ import annotations

import functools
import hashlib
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from classifykit import runfolder as rf
from classifykit.config import ImageConfig
from classifykit.data.cache import DecodedImageCache
from classifykit.data.dataset import ImageFolderDataset, loader_kwargs
from classifykit.data.decode import detect_channels
from classifykit.data.manifest import ManifestItem, manifest_root, read_manifest, write_manifest
from classifykit.data.scan import ScanResult, scan_folder, verify_items
from classifykit.data.split import complete_preset_split, read_split, stratified_split, write_split
from classifykit.data.stats import compute_mean_std
from classifykit.data.transforms import (default_crop_pct, eval_resize_size, eval_transforms, meta_crop_pct,
                                         train_transforms)
from classifykit.engine.distributed import all_gather_objects, barrier, init_distributed
from classifykit.engine.loop import predict_logits
from classifykit.engine.sampling import distributed_sampler
from classifykit.engine.seed import seed_everything
from classifykit.engine.device import select_device
from classifykit.engine.trainer import balanced_class_weights, fit
from classifykit.errors import ClassifykitError
from classifykit.io import read_json, write_csv, write_json
from classifykit.models.registry import create_model
from classifykit.models.saved import load_saved_model
from classifykit.tasks.common import (
    format_accuracy,
    load_saved_config,
    prepare_run_dir,
    remove_on_error,
    save_config,
    say,
    small_class_warnings_said,
    write_classes,
    write_evaluation,
)

MIN_INPUT_SIZE, MAX_INPUT_SIZE = 28, 224
SMALL_MODEL_FLOOR = 64  # default input size floor for models not made for tiny images
SCAN_CACHE_DIR = ".scan-cache"  # in --runs-dir: rescans of unchanged files reuse earlier decodes


@dataclass
class ImageData:
    """The verified inputs of one image run, in manifest order.

    ``paths`` are POSIX, relative to ``root``; ``splits[i]`` is train/val/test; ``classes`` is the
    class list in index order (sorted label strings).
    """

    root: Path
    items: list[ManifestItem]
    splits: list[str]
    classes: list[str]

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
    write_manifest(run / rf.MANIFEST, result.items)
    write_csv(run / rf.SKIPPED, ["file", "reason"], result.skipped)
    if len(result.classes) < 2:
        raise ClassifykitError(
            f"{cfg.data}: found {len(result.classes)} class(es) with usable images ({', '.join(result.classes) or 'none'}); "
            f"a classifier needs at least 2. See {run / rf.SKIPPED} for the files left out."
        )
    say(cfg, f"{len(result.items)} images in {len(result.classes)} classes, {len(result.skipped)} skipped"
             + (f" (see {run / rf.SKIPPED})" if result.skipped else "")
             + (f"; empty classes: {', '.join(result.empty_classes)}" if result.empty_classes else ""))
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
    return load_data(run, data_root(cfg))


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
    """``{"in_chans", "input_size", "mean", "std", "crop_pct"}`` from the weights (``--pretrained``) or the data.

    Explicit ``--channels`` / ``--input-size`` always win. Without pretrained weights the channel
    count is detected from the training images and mean/std are measured later on the train split.
    """
    from classifykit.models.pretrained import pretrained_preprocessing

    pre = pretrained_preprocessing(cfg.pretrained, cfg.model) or {}
    train_modes = [it.mode or "RGB" for it, s in zip(data.items, data.splits) if s == "train"]
    in_chans = cfg.channels or pre.get("in_chans") or detect_channels(train_modes)
    if in_chans not in (1, 3):
        raise ClassifykitError(f"--channels {in_chans}: use 1 (grey) or 3 (RGB).")
    input_size = cfg.input_size or pre.get("input_size") or default_input_size(data, cfg.model)
    mean, std = pre.get("mean"), pre.get("std")
    if mean is not None and in_chans == 1:  # grey input to RGB weights: the stem was adapted to 1 channel
        mean, std = [sum(mean) / 3], [sum(std) / 3]
    return {"in_chans": int(in_chans), "input_size": int(input_size), "mean": mean, "std": std,
            "crop_pct": default_crop_pct(int(input_size))}


def open_cache(cfg: ImageConfig, run: Path, data: ImageData, pre: dict) -> DecodedImageCache | None:
    """The decoded-image cache of every item (all splits), at the evaluation resize size; None if disabled."""
    if not cfg.cache:
        return None
    size = eval_resize_size(pre["input_size"], pre["crop_pct"])
    paths = [it.path for it in data.items]
    done = [0]

    def progress(n: int) -> None:  # a line per ~10% of a build (a reopened cache calls nothing)
        step = max(1, len(paths) // 10)
        if not cfg.quiet and (done[0] + n) // step > done[0] // step:
            print(f"image cache: {done[0] + n}/{len(paths)} images decoded and resized to {size} px", flush=True)
        done[0] += n

    return DecodedImageCache.open(data.root, paths, run / rf.CACHE_DIR, size, pre["in_chans"], progress=progress)


def image_loader(dataset, batch_size: int, *, shuffle: bool, cfg: ImageConfig, device: torch.device) -> DataLoader:
    """A DataLoader with the seeded (or distributed) sampler; workers not persistent when deterministic."""
    kwargs = loader_kwargs(cfg.num_workers, device)
    if cfg.deterministic:
        kwargs["persistent_workers"] = False  # bit-exact resume needs workers re-seeded every epoch
    return DataLoader(dataset, batch_size=batch_size, sampler=distributed_sampler(dataset, shuffle, cfg.seed), **kwargs)


def model_meta(cfg: ImageConfig, classes: list[str], pre: dict) -> dict:
    """The ``model.json`` body: everything predict needs besides the weights."""
    return {
        "task": "image",
        "architecture": cfg.model,
        "model_kwargs": {},
        "num_classes": len(classes),
        "classes": classes,
        "in_chans": pre["in_chans"],
        "input_size": pre["input_size"],
        "mean": pre["mean"],
        "std": pre["std"],
        "crop_pct": pre["crop_pct"],
        "pretrained": cfg.pretrained,
        "vocab": None,
        "best_epoch": 0,
        "best_val_acc": None,
    }


def train_images(cfg: ImageConfig, resume: str | None = None) -> Path:
    """Run the whole image task; returns the run folder.

    Under torchrun every process calls this; rank 0 scans and writes the run files, the others
    wait and read them.

    Raises:
        ClassifykitError: anything the user can fix (data, options, resume folder).
    """
    if resume is not None:
        run = Path(resume)
        prepare_run_dir(cfg, "", resume)  # checks the checkpoint is there
        cfg = load_saved_config(run, ImageConfig)
    # After the saved configuration is read: a resumed run keeps the device (and so the backend) it trained on.
    info = init_distributed(cfg.device)
    if resume is not None:
        say(cfg, f"Resuming {run} with its saved configuration ({rf.CONFIG}).")
    else:
        if not cfg.data:
            raise ClassifykitError("Give the data: an image folder (one subfolder per class) or a manifest CSV/TSV.")
        cfg.data = str(Path(cfg.data).resolve())
        run = Path(all_gather_objects(str(prepare_run_dir(cfg, Path(cfg.data).stem or "images", None)) if info.is_main else None)[0])
    say(cfg, f"Run folder: {run}", summary=True)
    if resume is None and info.is_main:
        with remove_on_error(run):
            save_config(run, cfg)
            prepare_data(cfg, run)
    barrier()
    data = load_data(run, data_root(cfg))
    device = select_device(cfg.device)
    if resume is None:
        pre = preprocessing(cfg, data)
    else:
        meta = read_json(run / rf.MODEL_META)
        pre = {k: meta[k] for k in ("in_chans", "input_size", "mean", "std")}
        pre["crop_pct"] = meta_crop_pct(meta)
    cache = open_cache(cfg, run, data, pre) if info.is_main else None
    barrier()
    if cache is None and cfg.cache:
        cache = open_cache(cfg, run, data, pre)
    train_paths, train_targets = data.subset("train")
    if pre["mean"] is None:
        raw = ImageFolderDataset(data.root, train_paths, train_targets, None, pre["in_chans"], cache)
        pre["mean"], pre["std"] = compute_mean_std(cache.iter_batches([cache.row(p) for p in train_paths]) if cache else raw)
        say(cfg, f"Normalization measured on the train split: mean {_fmt(pre['mean'])}, std {_fmt(pre['std'])}")
    meta = model_meta(cfg, data.classes, pre)
    if info.is_main and resume is None:
        write_json(run / rf.MODEL_META, meta)
    seed_everything(cfg.seed, cfg.deterministic)  # the model's initial weights come from this seed
    model = create_model(cfg.model, len(data.classes), in_chans=pre["in_chans"], pretrained=cfg.pretrained)
    val_paths, val_targets = data.subset("val")
    evaluation = eval_transforms(pre["input_size"], pre["mean"], pre["std"], pre["crop_pct"])
    train_ds = ImageFolderDataset(data.root, train_paths, train_targets,
                                  train_transforms(pre["input_size"], pre["mean"], pre["std"], cfg.augment, pre["in_chans"],
                                                   pre["crop_pct"]),
                                  pre["in_chans"], cache)
    val_ds = ImageFolderDataset(data.root, val_paths, val_targets, evaluation, pre["in_chans"], cache)
    class_weights = balanced_class_weights(train_targets, len(data.classes)) if cfg.class_weights == "balanced" else None
    if cfg.class_weights not in ("none", "balanced"):
        raise ClassifykitError(f"--class-weights {cfg.class_weights!r}: use none or balanced.")
    from classifykit.models.freeze import param_groups

    uses_groups = cfg.pretrained is not None or cfg.freeze != "none" or cfg.fine_tune > 0
    groups = (param_groups(model, cfg.lr, cfg.backbone_lr_scale if cfg.pretrained else 1.0, cfg.freeze, cfg.fine_tune, cfg.epochs)
              if uses_groups else None)
    if cfg.freeze == "backbone" and cfg.augment == "none" and cfg.feature_cache and info.world_size == 1:
        result = _fit_head_on_features(cfg, run, model, train_ds, val_ds, device, class_weights, resume is not None)
    else:
        train_loader = image_loader(train_ds, cfg.batch_size, shuffle=True, cfg=cfg, device=device)
        val_loader = image_loader(val_ds, cfg.batch_size, shuffle=False, cfg=cfg, device=device)
        result = fit(model, train_loader, val_loader, cfg, run, class_weights=class_weights,
                     param_groups=groups, resume=resume is not None, train_mode=_train_mode(cfg, uses_groups))
    barrier()
    if not info.is_main:
        return run
    say(cfg, f"Best epoch {result.best_epoch}: val accuracy {100 * result.best_val_acc:.2f}%")
    test_images(run, cfg=cfg, data=data, cache=cache)
    _write_report(run, cfg)
    return run


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


def _fit_head_on_features(cfg, run, model, train_ds, val_ds, device, class_weights, resume: bool):
    """Linear probe on cached backbone features (the fast path of ``--freeze backbone --augment none``)."""
    from classifykit.models.features import cached_features, feature_dataset, head_module, merge_head_weights

    model.to(device)
    feats = {}
    for split, ds in (("train", train_ds), ("val", val_ds)):
        loader = DataLoader(ds, batch_size=max(cfg.batch_size, 128), shuffle=False, **loader_kwargs(cfg.num_workers, device))
        feats[split] = cached_features(model, loader, device, run, split)
    say(cfg, f"Backbone features cached once ({feats['train'][0].shape[1]} per image); training the head on them.")
    head = head_module(model)
    train_loader = DataLoader(feature_dataset(*feats["train"]), batch_size=cfg.batch_size,
                              sampler=distributed_sampler(feats["train"][1], True, cfg.seed))
    val_loader = DataLoader(feature_dataset(*feats["val"]), batch_size=max(cfg.batch_size, 256))
    head_cfg = ImageConfig(**{**cfg.__dict__, "channels_last": False})
    result = fit(head, train_loader, val_loader, head_cfg, run, class_weights=class_weights, resume=resume)
    merge_head_weights(model.cpu(), run / rf.WEIGHTS)
    return result


def eval_dataset(meta: dict, root: Path, paths: list[str], targets: list[int], cache: DecodedImageCache | None = None):
    """An ``ImageFolderDataset`` with the run's evaluation preprocessing (never augmented)."""
    transform = eval_transforms(meta["input_size"], meta["mean"], meta["std"], meta_crop_pct(meta))
    return ImageFolderDataset(root, paths, targets, transform, meta["in_chans"], cache)


def test_images(run: Path, *, cfg: ImageConfig, data: ImageData, cache: DecodedImageCache | None = None) -> dict:
    """Evaluate the best model on the run's test split; writes eval.json, confusion.csv, test_predictions.csv."""
    paths, targets = data.subset("test")
    if not paths:
        say(cfg, "No test split (--test-ratio 0): skipping the test evaluation.")
        return {}
    device = select_device(cfg.device)
    model, meta = load_saved_model(run, device)
    loader = DataLoader(eval_dataset(meta, data.root, paths, targets, cache), batch_size=max(cfg.batch_size, 128),
                        **loader_kwargs(cfg.num_workers, device))
    logits, y = predict_logits(model, loader, device, amp=cfg.amp)
    report = write_evaluation(run, paths, y, logits, data.classes)
    say(cfg, format_accuracy(report) + f"; a ±2-point interval would need about {report['n_for_pm2']} test items",
        summary=True)
    return report


def _write_report(run: Path, cfg) -> None:
    from classifykit.report import write_report

    path = write_report(run)
    say(cfg, f"Report: {path}", summary=True)


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"
