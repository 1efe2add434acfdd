"""ImageFolderDataset (with and without the cache), DataLoader settings, and mean/std statistics."""

import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from classifykit.data.cache import DecodedImageCache
from classifykit.data.dataset import ImageFolderDataset, loader_kwargs, resolve_num_workers
from classifykit.data.stats import compute_mean_std
from classifykit.data.transforms import eval_transforms, train_transforms
from classifykit.engine.seed import seed_worker
from classifykit.errors import ClassifykitError


@pytest.fixture
def folder(tmp_path, rng):
    """Six 16×16 greyscale images in two classes; image k is filled with value 40 k."""
    root = tmp_path / "data"
    paths = []
    for k in range(6):
        label = "cat" if k < 3 else "dog"
        (root / label).mkdir(parents=True, exist_ok=True)
        a = np.full((16, 16), 40 * k, dtype=np.uint8)
        a[0, 0] = 255
        Image.fromarray(a).save(root / label / f"{k}.png")
        paths.append(f"{label}/{k}.png")
    return root, paths, [0, 0, 0, 1, 1, 1]


def test_length_items_targets_without_cache(folder):
    root, paths, targets = folder
    ds = ImageFolderDataset(root, paths, targets, transform=None, channels=1)
    assert len(ds) == 6
    image, target = ds[4]
    assert target == 1 and isinstance(target, int)
    assert image.dtype == torch.uint8 and image.shape == (1, 16, 16)
    assert image[0, 0, 0].item() == 255 and image[0, 5, 5].item() == 160
    rgb, _ = ImageFolderDataset(root, paths, targets, transform=None, channels=3)[2]
    assert rgb.shape == (3, 16, 16) and rgb[:, 5, 5].tolist() == [80, 80, 80]


def test_transformed_items_match_with_and_without_cache(tmp_path, folder):
    root, paths, targets = folder
    cache = DecodedImageCache.open(root, paths, tmp_path / "cache", size=16, channels=1)
    t = eval_transforms(12, [0.5], [0.25], crop_pct=0.75)
    plain = ImageFolderDataset(root, paths, targets, t, channels=1)
    cached = ImageFolderDataset(root, paths[::-1], targets[::-1], t, channels=1, cache=cache)
    for i in range(6):
        image, target = plain[i]
        assert image.shape == (1, 12, 12) and image.dtype == torch.float32
        c_image, c_target = cached[5 - i]
        assert c_target == target
        torch.testing.assert_close(c_image, image, rtol=0, atol=0)
    assert plain[1][0][0, 6, 6].item() == pytest.approx((40 / 255 - 0.5) / 0.25, abs=1e-6)


def test_cache_must_match_channels_and_hold_every_path(tmp_path, folder):
    root, paths, targets = folder
    cache = DecodedImageCache.open(root, paths[:3], tmp_path / "cache", size=8, channels=1)
    with pytest.raises(ClassifykitError, match="holds 1-channel images, not 3"):
        ImageFolderDataset(root, paths[:3], targets[:3], None, channels=3, cache=cache)
    with pytest.raises(ClassifykitError, match=r"dog/3\.png: not in the image cache"):
        ImageFolderDataset(root, paths, targets, None, channels=1, cache=cache)
    with pytest.raises(ClassifykitError, match="6 image paths but 5 targets"):
        ImageFolderDataset(root, paths, targets[:5], None, channels=1)


def test_bad_file_raises_naming_it(folder):
    root, paths, targets = folder
    (root / "cat" / "0.png").write_bytes(b"")
    ds = ImageFolderDataset(root, paths, targets, None, channels=1)
    with pytest.raises(ClassifykitError, match=r"cat/0\.png: not an image"):
        ds[0]


def test_dataloader_with_workers_and_cache(tmp_path, folder):
    root, paths, targets = folder
    cache = DecodedImageCache.open(root, paths, tmp_path / "cache", size=16, channels=1)
    t = train_transforms(8, [0.5], [0.25], augment="light", channels=1)
    ds = ImageFolderDataset(root, paths, targets, t, channels=1, cache=cache)
    loader = DataLoader(ds, batch_size=4, **loader_kwargs(2, "cpu"))
    batches = list(loader)
    assert [tuple(x.shape) for x, _ in batches] == [(4, 1, 8, 8), (2, 1, 8, 8)]
    y = torch.cat([y for _, y in batches])
    assert y.dtype == torch.int64 and y.tolist() == targets


def test_loader_kwargs():
    assert loader_kwargs(2, "cuda") == {
        "num_workers": 2, "pin_memory": True, "persistent_workers": True, "worker_init_fn": seed_worker,
    }
    assert loader_kwargs(0, torch.device("cpu")) == {
        "num_workers": 0, "pin_memory": False, "persistent_workers": False, "worker_init_fn": None,
    }
    assert 1 <= resolve_num_workers(-1) <= 4


def test_mean_std_exact_on_known_pixels():
    # Channel 0 pixels {0, 255, 255, 255} -> 0.75 ± sqrt(0.1875); channel 1 all 51 -> 0.2 ± 0, floored at MIN_STD.
    from classifykit.data.stats import MIN_STD

    a = torch.tensor([[[0, 255]], [[51, 51]]], dtype=torch.uint8)  # 2×1×2
    b = torch.tensor([[[255, 255]], [[51, 51]]], dtype=torch.uint8)
    mean, std = compute_mean_std([a, b])
    assert mean == [0.75, 0.2]
    assert std[0] == pytest.approx(math.sqrt(0.1875), abs=1e-15) and std[1] == MIN_STD
    assert compute_mean_std([torch.stack([a, b])]) == (mean, std)  # one B×C×H×W batch


def test_mean_std_weights_pixels_not_images():
    big = torch.zeros(1, 3, 3, dtype=torch.uint8)  # 9 pixels of 0
    small = torch.full((1, 1, 1), 255, dtype=torch.uint8)  # 1 pixel of 255
    mean, std = compute_mean_std([big, small])
    assert mean == [0.1] and std[0] == pytest.approx(0.3, abs=1e-15)


def test_mean_std_of_a_dataset_and_pil_images(folder):
    root, paths, targets = folder
    ds = ImageFolderDataset(root, paths, targets, None, channels=1)
    mean, std = compute_mean_std(ds)
    values = np.concatenate([np.asarray(Image.open(root / p), dtype=np.float64).ravel() / 255 for p in paths])
    assert mean[0] == pytest.approx(values.mean(), abs=1e-12)
    assert std[0] == pytest.approx(values.std(), abs=1e-12)
    assert compute_mean_std(Image.open(root / p).convert("L") for p in paths) == (mean, std)


def test_mean_std_errors():
    with pytest.raises(ClassifykitError, match="training split has no images"):
        compute_mean_std([])
    with pytest.raises(ClassifykitError, match="Images with 1 and 3 channels"):
        compute_mean_std([torch.zeros(1, 2, 2, dtype=torch.uint8), torch.zeros(3, 2, 2, dtype=torch.uint8)])
    with pytest.raises(TypeError, match="needs uint8 images"):
        compute_mean_std([torch.zeros(1, 2, 2)])


@pytest.mark.integration
def test_real_fashion_mnist_pngs_decode_to_the_idx_pixels(tmp_path):
    from classifykit.data.fashion_mnist import CLASSES, load_split, write_image_folder

    root = tmp_path / "fm"
    write_image_folder(root, split="train", per_class=20, seed=0, workers=1)
    paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    targets = [CLASSES.index(p.split("/")[0]) for p in paths]
    ds = ImageFolderDataset(root, paths, targets, None, channels=1)
    images, labels = load_split("train")
    idx = [int(p.rsplit("_", 1)[1].removesuffix(".png")) for p in paths]
    assert len(ds) == 200 and targets == labels[idx].tolist()
    assert torch.equal(ds[7][0][0], torch.tensor(images[idx[7]]))
    mean, std = compute_mean_std(ds)
    expected = images[idx].astype(np.float64) / 255
    assert mean[0] == pytest.approx(expected.mean(), abs=1e-12)
    assert std[0] == pytest.approx(expected.std(), abs=1e-12)
    assert 0.2 < mean[0] < 0.4  # Fashion-MNIST's full training mean is 0.286


def test_a_constant_channel_gets_the_smallest_std_not_zero():
    """Found by a new-user try: images whose blue channel is 90 everywhere stopped training with
    'Normalization std [..., 0.0] has a value <= 0'."""
    import torch

    from classifykit.data.stats import MIN_STD, compute_mean_std

    images = torch.zeros(4, 3, 5, 5, dtype=torch.uint8)
    images[:, 0] = torch.arange(4, dtype=torch.uint8).view(4, 1, 1) * 60
    images[:, 2] = 90
    mean, std = compute_mean_std([images])
    assert mean[2] == pytest.approx(90 / 255) and std[2] == MIN_STD and std[1] == MIN_STD
    assert std[0] == pytest.approx(torch.tensor([0, 60, 120, 180.0]).std(unbiased=False).item() / 255)
