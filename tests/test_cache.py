"""DecodedImageCache: the eval preset's pixels, reuse without decoding, invalidation, grey storage, concurrency, errors."""

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import classifykit.data.cache as cache_mod
from classifykit.data.cache import DecodedImageCache, cache_pixels
from classifykit.data.decode import decode_image
from classifykit.data.transforms import resize_square
from torchvision.transforms.v2.functional import pil_to_tensor
from classifykit.errors import ClassifykitError


@pytest.fixture
def folder(tmp_path, rng):
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    Image.fromarray(rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)).save(root / "a" / "rgb.png")
    Image.fromarray(rng.integers(0, 256, (40, 40), dtype=np.uint8)).save(root / "a" / "grey.png")
    Image.fromarray(rng.integers(0, 256, (10, 16, 4), dtype=np.uint8), "RGBA").save(root / "b" / "alpha.png")
    # 40 wide × 20 high: 5 red columns each side, blue middle; the square fit keeps columns 10..29,
    # far enough from the red for the bilinear filter's support (2 source pixels at this scale).
    a = np.zeros((20, 40, 3), dtype=np.uint8)
    a[:, :5] = a[:, 35:] = (255, 0, 0)
    a[:, 5:35] = (0, 0, 255)
    Image.fromarray(a).save(root / "b" / "wide.png")
    return root, ["a/rgb.png", "a/grey.png", "b/alpha.png", "b/wide.png"]


@pytest.fixture
def count_decodes(monkeypatch):
    calls = []

    def counting(source, channels=None):
        calls.append(Path(source).name)
        return decode_image(source, channels)

    monkeypatch.setattr(cache_mod, "decode_image", counting)
    return calls


def test_same_pixels_as_direct_decode_and_fit(tmp_path, folder):
    root, paths = folder
    cache = DecodedImageCache.open(root, paths, tmp_path / "cache", size=10, channels=3, num_workers=2)
    assert cache.built and len(cache) == 4
    for i, p in enumerate(paths):
        img = cache[i]
        assert img.dtype == torch.uint8 and img.shape == (3, 10, 10)
        expected = cache_pixels(root / p, 10, 3)
        assert np.array_equal(img.permute(1, 2, 0).numpy(), expected)
    # Independent of cache_pixels: the square centre crop keeps only the blue middle of wide.png.
    assert torch.equal(cache[3], torch.tensor([0, 0, 255], dtype=torch.uint8).view(3, 1, 1).expand(3, 10, 10))
    assert cache.path.stat().st_size == 4 * 10 * 10 * 3
    assert os.listdir(tmp_path / "cache") == [cache.key]
    assert sorted(os.listdir(tmp_path / "cache" / cache.key)) == ["meta.json", "pixels.u8"]


def test_cache_pixels_is_decode_plus_the_presets_resize(folder):
    root, _ = folder
    direct = resize_square(20)(pil_to_tensor(decode_image(root / "a" / "grey.png", 1)))
    assert np.array_equal(cache_pixels(root / "a" / "grey.png", 20, 1)[..., 0], direct[0].numpy())


def test_reopen_decodes_nothing(tmp_path, folder, count_decodes):
    root, paths = folder
    first = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=1)
    assert sorted(count_decodes) == sorted(Path(p).name for p in paths)
    count_decodes.clear()
    second = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=1)
    assert count_decodes == []
    assert not second.built and second.path == first.path
    assert all(torch.equal(first[i], second[i]) for i in range(len(paths)))


def test_changed_file_invalidates(tmp_path, folder, count_decodes):
    root, paths = folder
    before = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=1)
    target = root / "a" / "grey.png"
    st = target.stat()
    Image.new("L", (40, 40), 7).save(target)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    count_decodes.clear()
    after = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=1)
    assert after.built and after.path != before.path and len(count_decodes) == 4
    assert after[1].unique().tolist() == [7]


@pytest.mark.parametrize("change", [{"size": 9}, {"channels": 3}])
def test_other_size_or_channels_gets_its_own_file(tmp_path, folder, change):
    root, paths = folder
    base = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=1)
    other = DecodedImageCache.open(root, paths, tmp_path / "c", **{"size": 8, "channels": 1, **change})
    assert other.built and other.path != base.path


def test_sidecar_records_the_key(tmp_path, folder):
    root, paths = folder
    cache = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=1)
    side = __import__("json").loads((cache.path.parent / "meta.json").read_text(encoding="utf-8"))
    assert side["key"] == cache.key == cache.path.parent.name
    assert side["shape"] == [4, 8, 8, 1] and side["size"] == 8 and side["channels"] == 1
    assert side["interpolation"] == "bilinear" and side["root"] == str(root.resolve()) and side["bytes"] == 256
    assert [f[0] for f in side["files"]] == paths
    assert side["files"][1][1] == (root / "a" / "grey.png").stat().st_size


def test_array_without_sidecar_is_rebuilt(tmp_path, folder, count_decodes):
    root, paths = folder
    cache = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=1)
    (cache.path.parent / "meta.json").unlink()  # a damaged cache folder is never trusted
    count_decodes.clear()
    again = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=1)
    assert again.built and len(count_decodes) == 4


def test_progress_counts_every_image(tmp_path, folder):
    root, paths = folder
    done = []
    DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=1, progress=done.append)
    assert sum(done) == 4


def test_pickled_cache_reopens_its_map(tmp_path, folder):
    root, paths = folder
    cache = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=3)
    first = cache[2]
    state = pickle.dumps(cache)
    assert len(state) < 2000  # the pixels are not pickled
    assert torch.equal(pickle.loads(state)[2], first)


def test_iter_batches(tmp_path, folder):
    root, paths = folder
    cache = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=3)
    batches = list(cache.iter_batches([3, 0, 1], batch_size=2))
    assert [tuple(b.shape) for b in batches] == [(2, 3, 8, 8), (1, 3, 8, 8)]
    assert torch.equal(batches[0][0], cache[3]) and torch.equal(batches[1][0], cache[1])


def test_row_lookup(tmp_path, folder):
    root, paths = folder
    cache = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=1)
    assert cache.row("b/alpha.png") == 2
    with pytest.raises(ClassifykitError, match="c/new.png: not in the image cache"):
        cache.row("c/new.png")


def test_bad_file_named_and_nothing_left_behind(tmp_path, folder):
    root, paths = folder
    (root / "b" / "junk.png").write_text("not an image")
    with pytest.raises(ClassifykitError, match=r"junk\.png: not an image"):
        DecodedImageCache.open(root, [*paths, "b/junk.png"], tmp_path / "c", size=8, channels=1)
    assert os.listdir(tmp_path / "c") == []  # the unfinished build folder is removed


def test_missing_file_and_empty_list(tmp_path, folder):
    root, paths = folder
    with pytest.raises(ClassifykitError, match=r"gone\.png: no such file; rescan"):
        DecodedImageCache.open(root, [*paths, "a/gone.png"], tmp_path / "c", size=8, channels=1)
    with pytest.raises(ClassifykitError, match="Nothing to cache"):
        DecodedImageCache.open(root, [], tmp_path / "c", size=8, channels=1)


def test_refused_when_the_disk_is_too_full(tmp_path, folder, monkeypatch):
    root, paths = folder
    real = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(cache_mod.shutil, "disk_usage", lambda p: real._replace(free=2**20))
    with pytest.raises(ClassifykitError, match=r"needs 4\.1 MiB in .* but only 1\.0 MiB is free.*--no-cache"):
        DecodedImageCache.open(root, paths, tmp_path / "c", size=600, channels=3)  # 4 × 600 × 600 × 3 bytes
    assert os.listdir(tmp_path / "c") == []


@pytest.mark.integration
def test_real_fashion_mnist_pngs(tmp_path):
    from classifykit.data.fashion_mnist import write_image_folder

    root = tmp_path / "fm"
    write_image_folder(root, split="train", per_class=5, seed=0, workers=1)
    paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    assert len(paths) == 50
    cache = DecodedImageCache.open(root, paths, tmp_path / "c", size=32, channels=1, num_workers=2)
    for i in (0, 17, 49):
        direct = resize_square(32)(pil_to_tensor(decode_image(root / paths[i], 1)))
        assert torch.equal(cache[i], direct)
    assert not DecodedImageCache.open(root, paths, tmp_path / "c", size=32, channels=1).built


def _save_odd_sizes(root, rng):
    """Non-square images of sizes other than the input size: RGB and grey, 50×37 and 300×200."""
    root.mkdir(parents=True, exist_ok=True)
    names = []
    for w, h in ((50, 37), (300, 200), (37, 50)):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / f"rgb{w}x{h}.png")
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(root / f"grey{w}x{h}.png")
        names += [f"rgb{w}x{h}.png", f"grey{w}x{h}.png"]
    return names


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
@pytest.mark.parametrize("input_size,channels", [(28, 1), (28, 3), (96, 3), (96, 1)])
def test_eval_tensors_identical_with_and_without_the_cache(tmp_path, rng, interpolation, input_size, channels):
    from classifykit.data.dataset import ImageFolderDataset
    from classifykit.data.transforms import eval_resize_size, eval_transforms

    root = tmp_path / "odd"
    names = _save_odd_sizes(root, rng)
    mean, std = [0.5] * channels, [0.25] * channels
    transform = eval_transforms(input_size, mean, std, interpolation=interpolation)
    cache = DecodedImageCache.open(root, names, tmp_path / "c", eval_resize_size(input_size), channels,
                                   interpolation=interpolation)
    cached = ImageFolderDataset(root, names, [0] * len(names), transform, channels, cache)
    uncached = ImageFolderDataset(root, names, [0] * len(names), transform, channels)
    for i in range(len(names)):
        a, b = cached[i][0], uncached[i][0]
        assert a.shape == (channels, input_size, input_size)
        assert torch.equal(a, b), names[i]


def test_grey_data_is_stored_with_one_channel_and_read_as_three(tmp_path, rng):
    from classifykit.data.transforms import eval_transforms

    root = tmp_path / "grey"
    root.mkdir()
    names = []
    for i, (w, h) in enumerate(((50, 37), (300, 200))):
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(root / f"{i}.png")
        names.append(f"{i}.png")
    Image.fromarray((rng.integers(0, 65536, (40, 30))).astype(np.uint16)).save(root / "wide16.png")
    names.append("wide16.png")
    modes = ["L", "L", "I;16"]
    one = DecodedImageCache.open(root, names, tmp_path / "c", 32, 3, modes=modes)
    assert one.stored_channels == 1 and one.channels == 3
    assert one.path.stat().st_size == 3 * 32 * 32 * 1  # a third of RGB storage
    rgb = DecodedImageCache.open(root, names, tmp_path / "c", 32, 3)  # modes unknown: stored as 3
    assert rgb.stored_channels == 3 and rgb.key != one.key
    for i in range(3):
        assert one[i].shape == (3, 32, 32) and torch.equal(one[i], rgb[i])
        ev = eval_transforms(32, [0.5] * 3, [0.2] * 3)  # resizes to 32: the cache size
        assert torch.equal(ev(one[i]), ev(decode_image(root / names[i], 3)))
    assert torch.equal(next(one.iter_batches([0, 2])), next(rgb.iter_batches([0, 2])))
    # A 1-channel model on the same grey data reuses the same 1-channel cache.
    again = DecodedImageCache.open(root, names, tmp_path / "c", 32, 1, modes=modes)
    assert not again.built and again.key == one.key and again[0].shape == (1, 32, 32)
    # Colour among the modes: stored as 3.
    assert DecodedImageCache.open(root, names, tmp_path / "c", 32, 3, modes=["L", "RGB", "L"]).stored_channels == 3
    with pytest.raises(ClassifykitError, match="2 image modes for 3 paths"):
        DecodedImageCache.open(root, names, tmp_path / "c", 32, 3, modes=["L", "L"])


def test_another_interpolation_or_data_folder_gets_its_own_cache(tmp_path, folder):
    root, paths = folder
    base = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=3)
    bicubic = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=3, interpolation="bicubic")
    assert bicubic.built and bicubic.key != base.key
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, copy_function=shutil.copy2)  # same names, sizes and mtimes
    assert DecodedImageCache.open(copy, paths, tmp_path / "c", size=8, channels=3).key != base.key


def test_two_runs_building_the_same_cache_at_once(tmp_path, folder):
    root, paths = folder
    inner = []

    def second_run_finishes_first(n):
        if not inner:  # while the first build is running, a second run builds the same cache completely
            inner.append(DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=3))

    first = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=3, progress=second_run_finishes_first)
    assert inner[0].built and not first.built  # the first run dropped its copy and uses the second's
    assert first.path == inner[0].path and os.listdir(tmp_path / "c") == [first.key]
    assert all(torch.equal(first[i], inner[0][i]) for i in range(len(paths)))


def test_a_reader_never_sees_an_unfinished_build(tmp_path, folder):
    root, paths = folder
    seen = []

    def look(n):
        seen.append(sorted(os.listdir(tmp_path / "c")))

    cache = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=3, progress=look)
    assert seen and all(len(s) == 1 and s[0].startswith(".building-") for s in seen)
    assert os.listdir(tmp_path / "c") == [cache.key]


def test_resolve_cache_dir_rule(tmp_path, monkeypatch):
    from classifykit.data.cache import resolve_cache_dir

    monkeypatch.delenv("CLASSIFYKIT_CACHE_DIR", raising=False)
    assert resolve_cache_dir(None, tmp_path / "runs") == tmp_path / "runs" / ".cache" / "images"
    monkeypatch.setenv("CLASSIFYKIT_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir(None, tmp_path / "runs") == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "opt", tmp_path / "runs") == tmp_path / "opt"
