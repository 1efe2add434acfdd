"""Training and evaluation presets: shapes, dtypes, exact values, determinism, no augmentation in eval."""

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import _presets

from classifykit.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    eval_resize_size,
    eval_transforms,
    train_transforms,
)
from classifykit.errors import ClassifykitError


def _image(rng, c, h, w):
    return torch.from_numpy(rng.integers(0, 256, (c, h, w), dtype=np.uint8))


def test_imagenet_constants_match_torchvision():
    preset = _presets.ImageClassification(crop_size=224)
    assert list(IMAGENET_MEAN) == list(preset.mean)
    assert list(IMAGENET_STD) == list(preset.std)


def test_eval_resize_size_follows_crop_pct():
    assert eval_resize_size(224) == 256
    assert eval_resize_size(65) == 74  # above 64 px: the ImageNet share 0.875
    assert eval_resize_size(64) == 64 and eval_resize_size(28) == 28  # small inputs: the whole image
    assert eval_resize_size(28, crop_pct=0.875) == 32
    assert eval_resize_size(28, crop_pct=1.0) == 28


def test_small_inputs_are_evaluated_whole_and_old_runs_keep_their_crop():
    from classifykit.data.transforms import default_crop_pct, meta_crop_pct

    assert [default_crop_pct(s) for s in (28, 64, 65, 224)] == [1.0, 1.0, 0.875, 0.875]
    img = torch.arange(28 * 28).reshape(1, 28, 28).to(torch.uint8)
    out = eval_transforms(28, [0.0], [1.0])(img)
    torch.testing.assert_close(out, img.float() / 255)  # native pixels: no resampling, no crop
    assert meta_crop_pct({"crop_pct": 1.0}) == 1.0 and meta_crop_pct({}) == 0.875


def test_eval_exact_values_on_constant_image():
    t = eval_transforms(16, mean=[0.2], std=[0.5])
    out = t(torch.full((1, 20, 30), 102, dtype=torch.uint8))
    assert out.shape == (1, 16, 16) and out.dtype == torch.float32
    assert type(out) is torch.Tensor
    torch.testing.assert_close(out, torch.full((1, 16, 16), 0.4))  # (102/255 - 0.2) / 0.5


def test_eval_is_deterministic_and_pil_equals_tensor(rng):
    img = _image(rng, 3, 40, 50)
    t = eval_transforms(32, IMAGENET_MEAN, IMAGENET_STD)
    torch.manual_seed(0)
    a = t(img)
    torch.manual_seed(1)
    b = t(img)
    assert torch.equal(a, b)
    pil = Image.fromarray(img.permute(1, 2, 0).numpy())
    assert torch.equal(t(pil), a)


def test_eval_centre_crop_keeps_the_middle():
    # 1×8×8 image, crop_pct 0.5 at size 4: resize to 8 (no-op), keep the central 4×4.
    img = torch.zeros(1, 8, 8, dtype=torch.uint8)
    img[:, 2:6, 2:6] = 255
    out = eval_transforms(4, [0.0], [1.0], crop_pct=0.5)(img)
    torch.testing.assert_close(out, torch.ones(1, 4, 4))


def test_eval_has_no_random_step_even_beside_strong_training(rng):
    train = train_transforms(32, IMAGENET_MEAN, IMAGENET_STD, augment="strong", channels=3)
    evaluate = eval_transforms(32, IMAGENET_MEAN, IMAGENET_STD)
    names = [type(s).__name__ for s in evaluate.transforms]
    assert names == ["ToImage", "Resize", "CenterCrop", "CenterCrop", "ToDtype", "Normalize", "ToPureTensor"]
    img = _image(rng, 3, 48, 48)
    first = evaluate(img)
    for _ in range(5):
        train(img)
    assert torch.equal(evaluate(img), first)


def test_train_none_is_the_eval_preset(rng):
    img = _image(rng, 1, 30, 30)
    none = train_transforms(24, [0.5], [0.25], augment="none", channels=1)
    assert torch.equal(none(img), eval_transforms(24, [0.5], [0.25])(img))


@pytest.mark.parametrize("augment", ["light", "strong"])
@pytest.mark.parametrize("channels", [1, 3])
def test_train_shape_dtype_and_randomness(rng, augment, channels):
    img = _image(rng, channels, 40, 36)
    t = train_transforms(24, [0.5] * channels, [0.25] * channels, augment=augment, channels=channels)
    torch.manual_seed(3)
    a = t(img)
    torch.manual_seed(3)
    b = t(img)
    torch.manual_seed(4)
    c = t(img)
    assert a.shape == (channels, 24, 24) and a.dtype == torch.float32 and type(a) is torch.Tensor
    assert torch.equal(a, b)  # reproducible under a seed
    assert not torch.equal(a, c)  # random across seeds


def test_train_accepts_pil(rng):
    pil = Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    out = train_transforms(16, IMAGENET_MEAN, IMAGENET_STD, augment="light", channels=3)(pil)
    assert out.shape == (3, 16, 16)


def test_train_levels_list_their_steps():
    names = lambda t: [type(s).__name__ for s in t.transforms]  # noqa: E731
    light = train_transforms(96, [0.5], [0.5], augment="light", channels=1)
    strong = train_transforms(96, [0.5], [0.5], augment="strong", channels=1)
    assert names(light) == ["ToImage", "Resize", "CenterCrop", "RandomResizedCrop", "RandomHorizontalFlip",
                            "ToDtype", "Normalize", "ToPureTensor"]
    assert names(strong) == [
        "ToImage", "Resize", "CenterCrop", "RandomResizedCrop", "RandomHorizontalFlip", "TrivialAugmentWide",
        "ToDtype", "Normalize", "RandomErasing", "ToPureTensor",
    ]
    assert light.transforms[3].scale == (0.35, 1.0)
    assert light.transforms[1].size == [eval_resize_size(96)] and tuple(light.transforms[2].size) == (eval_resize_size(96),) * 2


def test_small_inputs_get_translation_only_crops_at_the_eval_scale():
    small = train_transforms(28, [0.0], [1.0], augment="light", channels=1)
    assert [type(s).__name__ for s in small.transforms[:5]] == ["ToImage", "Resize", "CenterCrop", "RandomCrop", "RandomHorizontalFlip"]
    crop = small.transforms[3]
    assert crop.padding == [3, 3, 3, 3] and crop.padding_mode == "reflect"  # 28 // 8 px on every side
    img = torch.arange(28 * 28).reshape(1, 28, 28).to(torch.uint8)
    ev = eval_transforms(28, [0.0], [1.0])(img)
    torch.manual_seed(0)
    outs = [small(img) for _ in range(200)]
    assert all(o.shape == (1, 28, 28) for o in outs)
    # Every training crop is the evaluation image shifted by at most 3 px (maybe mirrored): its
    # pixels are the evaluation image's, never resampled; the centre crop is among them.
    assert any(torch.equal(o, ev) or torch.equal(o, ev.flip(-1)) for o in outs)
    for o in outs[:20]:
        window = o[0, 3:25, 3:25]
        assert any(torch.equal(window, cand[0, 3 + dy:25 + dy, 3 + dx:25 + dx])
                   for cand in (ev, ev.flip(-1)) for dy in range(-3, 4) for dx in range(-3, 4))
    assert not all(torch.equal(o, outs[0]) for o in outs)
    assert type(train_transforms(65, [0.5], [0.5], augment="light").transforms[3]).__name__ == "RandomResizedCrop"


def test_errors_name_the_option():
    with pytest.raises(ClassifykitError, match="--augment 'heavy': use one of none, light, strong"):
        train_transforms(8, [0.5], [0.5], augment="heavy")
    with pytest.raises(ClassifykitError, match="3 values per statistic but the images have 1 channel"):
        train_transforms(8, IMAGENET_MEAN, IMAGENET_STD, augment="light", channels=1)
    with pytest.raises(ClassifykitError, match="2 means but 1 stds"):
        eval_transforms(8, [0.5, 0.5], [0.5])
    with pytest.raises(ClassifykitError, match="positive std"):
        eval_transforms(8, [0.5], [0.0])
    with pytest.raises(ClassifykitError, match="--input-size 0"):
        eval_transforms(0, [0.5], [0.5])
    with pytest.raises(ClassifykitError, match=r"crop_pct 1.5"):
        eval_transforms(8, [0.5], [0.5], crop_pct=1.5)
    with pytest.raises(ClassifykitError, match=r"interpolation 'lanczos': use one of bilinear, bicubic"):
        eval_transforms(8, [0.5], [0.5], interpolation="lanczos")
    with pytest.raises(ClassifykitError, match=r"interpolation 'nearest'"):
        train_transforms(8, [0.5], [0.5], augment="light", interpolation="nearest")


def test_eval_resize_size_gives_back_a_resize_written_as_crop_over_resize():
    # torchvision's ResNet-50 V2 (232 -> 224) and ConvNeXt-T (236 -> 224) presets as a crop share.
    assert eval_resize_size(224, 224 / 232) == 232 and eval_resize_size(224, 224 / 236) == 236


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_interpolation_reaches_every_resize(interpolation):
    from torchvision.transforms import InterpolationMode

    mode = InterpolationMode(interpolation)
    ev = eval_transforms(96, [0.5], [0.5], interpolation=interpolation)
    tr = train_transforms(96, [0.5], [0.5], augment="light", interpolation=interpolation)
    assert ev.transforms[1].interpolation == mode and tr.transforms[1].interpolation == mode
    assert tr.transforms[3].interpolation == mode  # RandomResizedCrop
    img = torch.arange(3 * 120 * 90, dtype=torch.int64).remainder(251).to(torch.uint8).reshape(3, 120, 90)
    other = "bicubic" if interpolation == "bilinear" else "bilinear"
    assert not torch.equal(ev(img), eval_transforms(96, [0.5], [0.5], interpolation=other)(img))
