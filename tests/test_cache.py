"""DecodedImageCache: same pixels as direct decode + fit, reuse without decoding, invalidation, errors."""

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
    assert sorted(os.listdir(tmp_path / "cache")) == sorted([cache.path.name, cache.path.with_suffix(".json").name])


def test_cache_pixels_is_decode_plus_fit(folder):
    root, _ = folder
    direct = decode_image(root / "a" / "grey.png", 1).resize((20, 20), Image.Resampling.BILINEAR)
    assert np.array_equal(cache_pixels(root / "a" / "grey.png", 20, 1)[..., 0], np.asarray(direct))


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
    side = __import__("json").loads(cache.path.with_suffix(".json").read_text(encoding="utf-8"))
    assert side["key"] == cache.path.stem.removeprefix("images-")
    assert side["shape"] == [4, 8, 8, 1] and side["size"] == 8 and side["channels"] == 1
    assert [f[0] for f in side["files"]] == paths
    assert side["files"][1][1] == (root / "a" / "grey.png").stat().st_size


def test_array_without_sidecar_is_rebuilt(tmp_path, folder, count_decodes):
    root, paths = folder
    cache = DecodedImageCache.open(root, paths, tmp_path / "c", size=8, channels=1)
    cache.path.with_suffix(".json").unlink()  # as after a crash between array and sidecar
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
    assert os.listdir(tmp_path / "c") == []


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
        direct = np.asarray(decode_image(root / paths[i], 1).resize((32, 32), Image.Resampling.BILINEAR))
        assert np.array_equal(cache[i][0].numpy(), direct)
    assert not DecodedImageCache.open(root, paths, tmp_path / "c", size=32, channels=1).built
