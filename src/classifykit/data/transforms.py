"""Image preprocessing presets (torchvision transforms v2): one for training, one for evaluation.

Two separate small presets, as torchvision's ``references/classification/presets.py``: the
evaluation preset has no random step at all, so augmentation cannot reach val or test by accident.

Both take a PIL image (from :func:`classifykit.data.decode.decode_image`) or a ``uint8`` tensor
``C×H×W`` (from :class:`classifykit.data.cache.DecodedImageCache`) and return a ``float32`` tensor
``C×input_size×input_size``, normalized per channel: ``(x / 255 - mean) / std``.

One resize for every path (:func:`resize_square`): the cache stores exactly ``resize_square``'s output
and the presets start with the same step, which is an identity on an already-square image of that
size, so an image gives the same tensor cached or decoded from its file (train and predict never
see two resamplings of one image). The input is turned into a uint8 tensor first, so the resampling
runs on tensors whichever the source.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torchvision.transforms import InterpolationMode, v2

from classifykit.errors import ClassifykitError

# ImageNet statistics used by every torchvision (and timm) ImageNet classification weight:
# torchvision.transforms._presets.ImageClassification(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Share of the resized image kept by the evaluation centre crop: 224 / 256, as torchvision and timm.
DEFAULT_CROP_PCT = 0.875

AUGMENT_LEVELS = ("none", "light", "strong")
# Smallest share of the image area a training crop keeps (light/strong). torchvision's default 0.08
# suits ImageNet-sized photos; small images of whole objects lose the object at 8%, so keep >= 35%.
_MIN_CROP_SCALE = 0.35
# Inputs up to this side (pixels) are small-image inputs: evaluated whole (crop_pct 1.0) and, when
# augmented, translated rather than zoomed (see train_transforms), as CIFAR-style recipes do.
SMALL_INPUT_MAX = 64
# Resampling filters a preset may use (timm's ``pretrained_cfg["interpolation"]`` names).
INTERPOLATIONS = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC}


def interpolation_mode(interpolation: str) -> InterpolationMode:
    """torchvision's mode for ``"bilinear"`` or ``"bicubic"``.

    Raises:
        ClassifykitError: any other name.
    """
    try:
        return INTERPOLATIONS[interpolation]
    except KeyError:
        raise ClassifykitError(f"interpolation {interpolation!r}: use one of {', '.join(INTERPOLATIONS)}.") from None


def resize_square(size: int, interpolation: str = "bilinear") -> v2.Compose:
    """The one resize of the image pipeline: shorter side to ``size`` pixels, then a centre crop to ``size × size``.

    ``v2.Resize(size, antialias=True)`` then ``v2.CenterCrop(size)`` on a uint8 tensor ``C×H×W``
    -> uint8 ``C×size×size``. Used by :class:`~classifykit.data.cache.DecodedImageCache` to store
    each image and as the first step of :func:`eval_transforms` and :func:`train_transforms`; on an
    image that is already ``size × size`` both steps are identities (torchvision returns the input
    unchanged), so a cached image is not resampled twice. Each channel is resampled on its own:
    a grey image resized and then repeated to 3 channels equals the 3-channel grey image resized.

    Raises:
        ClassifykitError: ``size`` < 1 or an unknown ``interpolation``.
    """
    if size < 1:
        raise ClassifykitError(f"Resize size {size}: use a positive number of pixels.")
    return v2.Compose([v2.Resize(size, interpolation=interpolation_mode(interpolation), antialias=True), v2.CenterCrop(size)])


def default_crop_pct(input_size: int) -> float:
    """The evaluation crop share for ``input_size``: 1.0 (the whole image) up to :data:`SMALL_INPUT_MAX`
    px, else :data:`DEFAULT_CROP_PCT`.

    Why: the 0.875 centre crop is ImageNet's convention for photos trained with zooming crops; on a
    28 px image it upsamples to 32 px (a blur) and cuts 2 px from every side.
    """
    return 1.0 if input_size <= SMALL_INPUT_MAX else DEFAULT_CROP_PCT


def meta_crop_pct(meta: dict) -> float:
    """The crop share a run was trained with: ``model.json``'s ``crop_pct``; runs saved before it was
    recorded used :data:`DEFAULT_CROP_PCT` at every size."""
    return float(meta.get("crop_pct", DEFAULT_CROP_PCT))


def eval_resize_size(input_size: int, crop_pct: float | None = None) -> int:
    """Shorter-side size (pixels) the evaluation preset resizes to before its centre crop.

    ``floor(input_size / crop_pct)``, as timm's ``transforms_factory`` (224 -> 256 at 0.875), with a
    1e-6 tolerance so a share written as ``crop / resize`` gives that resize back (224 / (224 / 232)
    is 231.99999999999997 in floating point; torchvision's ResNet-50 V2 preset resizes to 232). Also
    the :class:`~classifykit.data.cache.DecodedImageCache` size: the evaluation preset's
    :func:`resize_square` is then an identity on a cached image. ``crop_pct`` None means
    :func:`default_crop_pct`. The size does not depend on the interpolation.
    """
    if crop_pct is None:
        crop_pct = default_crop_pct(input_size)
    return int(math.floor(input_size / crop_pct + 1e-6))


def _check(input_size: int, mean: Sequence[float], std: Sequence[float], channels: int | None) -> None:
    if input_size < 1:
        raise ClassifykitError(f"--input-size {input_size}: use a positive number of pixels.")
    if len(mean) != len(std):
        raise ClassifykitError(f"Normalization has {len(mean)} means but {len(std)} stds; give one of each per channel.")
    if channels is not None and len(mean) != channels:
        raise ClassifykitError(
            f"Normalization has {len(mean)} values per statistic but the images have {channels} channel(s); "
            "use --channels to match the pretrained weights or recompute mean/std on the training split."
        )
    if any(s <= 0 for s in std):
        raise ClassifykitError(f"Normalization std {list(std)} has a value <= 0; every channel needs a positive std.")


def _normalize(mean: Sequence[float], std: Sequence[float]) -> list[v2.Transform]:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=list(mean), std=list(std))]


def eval_transforms(
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    crop_pct: float | None = None,
    interpolation: str = "bilinear",
) -> v2.Compose:
    """Evaluation preset: :func:`resize_square` to :func:`eval_resize_size`, centre crop, normalize.

    Deterministic (no random step): the same input always gives the same output. ``crop_pct`` 0.875
    follows torchvision's ImageNet evaluation (resize 256, crop 224), which matches the average zoom
    of the training preset's random resized crops; use ``crop_pct=1.0`` to keep the whole image.

    Args:
        input_size: side of the square output, pixels.
        mean, std: per-channel statistics in [0, 1] units (``len`` = channels).
        crop_pct: share of the resized shorter side kept by the centre crop, in (0, 1]; None means
            :func:`default_crop_pct` (1.0 up to 64 px, else 0.875).
        interpolation: ``"bilinear"`` or ``"bicubic"`` (the weights' own, e.g. EfficientNet-B0 is bicubic).

    Returns:
        A callable: PIL image or uint8 tensor ``C×H×W`` -> float32 tensor ``C×input_size×input_size``.

    Raises:
        ClassifykitError: bad size, mismatched or non-positive statistics, crop_pct outside (0, 1],
            unknown interpolation.
    """
    _check(input_size, mean, std, None)
    if crop_pct is None:
        crop_pct = default_crop_pct(input_size)
    if not 0 < crop_pct <= 1:
        raise ClassifykitError(f"crop_pct {crop_pct}: use a share in (0, 1].")
    return v2.Compose(
        [
            v2.ToImage(),
            *resize_square(eval_resize_size(input_size, crop_pct), interpolation).transforms,
            v2.CenterCrop(input_size),
            *_normalize(mean, std),
            v2.ToPureTensor(),
        ]
    )


def train_transforms(
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    augment: str = "light",
    channels: int | None = None,
    crop_pct: float | None = None,
    interpolation: str = "bilinear",
) -> v2.Compose:
    """Training preset at one of three augmentation levels.

    Every level starts as evaluation does, with :func:`resize_square` to :func:`eval_resize_size`,
    so training sees the same pixels with and without the cache (which stores that square).

    - ``none``: exactly :func:`eval_transforms` (so features of a frozen backbone can be computed once).
    - ``light``: ``RandomResizedCrop(input_size, scale=(0.35, 1), ratio=(3/4, 4/3))`` (Szegedy et al.
      2015, "Going deeper with convolutions") + ``RandomHorizontalFlip(0.5)``. For inputs of at most
      :data:`SMALL_INPUT_MAX` px the crop is translation only, at the evaluation preset's scale:
      resize as evaluation does, then ``RandomCrop(input_size, padding=input_size // 8,
      padding_mode="reflect")`` (the CIFAR recipe of He et al. 2016: 4 px on 32 px). Zooming into a
      28 px image loses the few pixels that carry its class.
    - ``strong``: light + ``TrivialAugmentWide`` (Müller & Hutter 2021: one random op per image among
      rotation up to ±135°, shear, translate, brightness, colour, contrast, sharpness, posterize,
      solarize, autocontrast, equalize — the rotation and colour-jitter part of the recipe) +
      ``RandomErasing(p=0.25)`` after normalization (Zhong et al. 2020; p as timm's ``reprob`` 0.25).

    Args:
        input_size: side of the square output, pixels.
        mean, std: per-channel statistics in [0, 1] units.
        augment: ``none``, ``light`` or ``strong``.
        channels: channels of the images (1 or 3), checked against ``len(mean)``; None skips the check.
        crop_pct: the evaluation preset's crop share (sets the square's size); None means
            :func:`default_crop_pct`.
        interpolation: ``"bilinear"`` or ``"bicubic"``, for the square and the random resized crop;
            ``TrivialAugmentWide`` stays bilinear (torchvision's tensor rotations and shears take
            nearest or bilinear only).

    Returns:
        A callable: PIL image or uint8 tensor ``C×H×W`` -> float32 tensor ``C×input_size×input_size``.

    Raises:
        ClassifykitError: unknown ``augment`` level or interpolation, bad size or statistics.
    """
    if augment not in AUGMENT_LEVELS:
        raise ClassifykitError(f"--augment {augment!r}: use one of {', '.join(AUGMENT_LEVELS)}.")
    _check(input_size, mean, std, channels)
    if augment == "none":
        return eval_transforms(input_size, mean, std, crop_pct, interpolation)
    square = resize_square(eval_resize_size(input_size, crop_pct), interpolation).transforms
    if input_size <= SMALL_INPUT_MAX:
        crop: v2.Transform = v2.RandomCrop(input_size, padding=max(1, input_size // 8), padding_mode="reflect")
    else:
        crop = v2.RandomResizedCrop(
            input_size, scale=(_MIN_CROP_SCALE, 1.0), interpolation=interpolation_mode(interpolation), antialias=True
        )
    steps: list[v2.Transform] = [v2.ToImage(), *square, crop, v2.RandomHorizontalFlip(p=0.5)]
    if augment == "strong":
        steps.append(v2.TrivialAugmentWide(interpolation=InterpolationMode.BILINEAR))
    steps += _normalize(mean, std)
    if augment == "strong":
        steps.append(v2.RandomErasing(p=0.25, value=0))
    steps.append(v2.ToPureTensor())
    return v2.Compose(steps)
