"""classifykit cache list / clean and the cache store beneath them."""

import os
import time

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from classifykit.cli.app import app
from classifykit.data.cache import DecodedImageCache
from classifykit.data.cache_store import clean_caches, list_caches, unfinished_builds
from classifykit.errors import ClassifykitError


@pytest.fixture
def store(tmp_path, rng):
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (20, 30), dtype=np.uint8)).save(root / "a" / f"{i}.png")
    paths = [f"a/{i}.png" for i in range(3)]
    cache_dir = tmp_path / "runs" / ".cache" / "images"
    old = DecodedImageCache.open(root, paths, cache_dir, 8, 1)
    new = DecodedImageCache.open(root, paths, cache_dir, 16, 3, modes=["L"] * 3, interpolation="bicubic")
    week_ago = time.time() - 7 * 86400
    os.utime(old.path.parent / "meta.json", (week_ago, week_ago))
    return tmp_path, root, old, new


def test_list_caches(store):
    tmp_path, root, old, new = store
    entries = list_caches(tmp_path / "runs" / ".cache" / "images")
    assert [e.key for e in entries] == [new.key, old.key]  # most recently used first
    e = entries[0]
    assert (e.root, e.images, e.size, e.channels, e.interpolation, e.bytes) == (str(root.resolve()), 3, 16, 1, "bicubic", 3 * 16 * 16)
    assert list_caches(tmp_path / "nowhere") == []


def test_reopening_marks_a_cache_used(store):
    tmp_path, root, old, _ = store
    again = DecodedImageCache.open(root, old.paths, tmp_path / "runs" / ".cache" / "images", 8, 1)
    assert not again.built and time.time() - (again.path.parent / "meta.json").stat().st_mtime < 60


def test_list_command(store, monkeypatch):
    tmp_path, root, old, new = store
    monkeypatch.delenv("CLASSIFYKIT_CACHE_DIR", raising=False)
    res = CliRunner().invoke(app, ["cache", "list", "--runs-dir", str(tmp_path / "runs")], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert old.key in res.output and new.key in res.output and "16 px × 1 ch, bicubic" in res.output
    assert "7.0 days ago" in res.output and "2 caches" in res.output


def test_clean_older_than_then_by_key_then_all(store, monkeypatch):
    tmp_path, root, old, new = store
    cache_dir = tmp_path / "runs" / ".cache" / "images"
    monkeypatch.setenv("CLASSIFYKIT_CACHE_DIR", str(cache_dir))
    runner = CliRunner()
    res = runner.invoke(app, ["cache", "clean", "--older-than", "3"])
    assert res.exit_code == 0, res.output
    assert "Removed 1 caches" in res.output and [e.key for e in list_caches(cache_dir)] == [new.key]
    res = runner.invoke(app, ["cache", "clean", new.key[:6]])
    assert res.exit_code == 0, res.output
    assert list_caches(cache_dir) == [] and os.listdir(cache_dir) == []
    # A later run rebuilds what it needs.
    assert DecodedImageCache.open(root, old.paths, cache_dir, 8, 1).built
    stale = cache_dir / ".building-0123456789abcdef-1-deadbeef"
    stale.mkdir()
    os.utime(stale, (time.time() - 3 * 86400,) * 2)
    fresh = cache_dir / ".building-fedcba9876543210-2-cafebabe"
    fresh.mkdir()  # may be a run building right now: kept
    res = runner.invoke(app, ["cache", "clean", "--all"])
    assert res.exit_code == 0, res.output
    assert "Removed 1 caches" in res.output and "1 unfinished build(s)" in res.output
    assert unfinished_builds(cache_dir) == [fresh]


def test_clean_refuses_unclear_requests(store):
    tmp_path, *_ = store
    cache_dir = tmp_path / "runs" / ".cache" / "images"
    with pytest.raises(ClassifykitError, match="one of them"):
        clean_caches(cache_dir)
    with pytest.raises(ClassifykitError, match="one of them"):
        clean_caches(cache_dir, keys=["ab"], everything=True)
    with pytest.raises(ClassifykitError, match=r"cache key 'zz' matches no cache .*classifykit cache list"):
        clean_caches(cache_dir, keys=["zz"])
    with pytest.raises(ClassifykitError, match="--older-than -1"):
        clean_caches(cache_dir, older_than_days=-1)
    assert len(list_caches(cache_dir)) == 2
    res = CliRunner().invoke(app, ["cache", "clean", "--cache-dir", str(cache_dir)])
    assert res.exit_code != 0
